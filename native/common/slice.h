// Byte views and little-endian fixed-width helpers.
//
// A Slice is a non-owning view of bytes (std::string_view: keys and values are
// arbitrary bytes, including NUL). The owner must keep the bytes alive and
// unchanged while the Slice is used.
//
// Every integer that reaches disk is little-endian and read/written through
// these helpers (memcpy: no alignment or aliasing assumptions).
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace tidekv {

using Slice = std::string_view;

inline Slice AsSlice(const void* data, size_t n) { return Slice(static_cast<const char*>(data), n); }

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "tidekv's formats assume a little-endian host");

inline void StoreFixed16(void* dst, uint16_t v) { std::memcpy(dst, &v, sizeof v); }
inline void StoreFixed32(void* dst, uint32_t v) { std::memcpy(dst, &v, sizeof v); }
inline void StoreFixed64(void* dst, uint64_t v) { std::memcpy(dst, &v, sizeof v); }
inline uint16_t LoadFixed16(const void* src) { uint16_t v; std::memcpy(&v, src, sizeof v); return v; }
inline uint32_t LoadFixed32(const void* src) { uint32_t v; std::memcpy(&v, src, sizeof v); return v; }
inline uint64_t LoadFixed64(const void* src) { uint64_t v; std::memcpy(&v, src, sizeof v); return v; }

inline void PutFixed32(std::string* dst, uint32_t v) { char b[4]; StoreFixed32(b, v); dst->append(b, 4); }
inline void PutFixed64(std::string* dst, uint64_t v) { char b[8]; StoreFixed64(b, v); dst->append(b, 8); }

}  // namespace tidekv
