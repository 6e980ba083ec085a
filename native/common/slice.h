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

// The bytewise order of keys (memcmp, then the shorter first: the order of
// std::string_view), compared 8 bytes at a time as big-endian words. Point
// reads compare keys in every memtable, table index and block they pass; for
// short keys a call into memcmp costs more than the comparison.
inline int CompareKeys(Slice a, Slice b) {
  const size_t n = a.size() < b.size() ? a.size() : b.size();
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const uint64_t x = __builtin_bswap64(LoadFixed64(a.data() + i));
    const uint64_t y = __builtin_bswap64(LoadFixed64(b.data() + i));
    if (x != y) return x < y ? -1 : 1;
  }
  for (; i < n; ++i) {
    const auto x = static_cast<unsigned char>(a[i]), y = static_cast<unsigned char>(b[i]);
    if (x != y) return x < y ? -1 : 1;
  }
  return (a.size() > b.size()) - (a.size() < b.size());
}
inline bool KeyLess(Slice a, Slice b) { return CompareKeys(a, b) < 0; }

// The length of the prefix a and b share.
inline size_t SharedPrefixLength(Slice a, Slice b) {
  const size_t n = a.size() < b.size() ? a.size() : b.size();
  size_t i = 0;
  while (i < n && a[i] == b[i]) ++i;
  return i;
}

// Bytes [at, at + 8) of key as a big-endian integer, zero-padded. Two keys
// that agree before `at` compare as their words do, unless the words tie
// (then their whole keys decide): sorts and searches compare these integers
// instead of reading keys.
inline uint64_t KeyWordAt(Slice key, size_t at) {
  char word[8] = {};
  if (key.size() > at) std::memcpy(word, key.data() + at, key.size() - at < 8 ? key.size() - at : 8);
  return __builtin_bswap64(LoadFixed64(word));
}

inline void PutFixed32(std::string* dst, uint32_t v) { char b[4]; StoreFixed32(b, v); dst->append(b, 4); }
inline void PutFixed64(std::string* dst, uint64_t v) { char b[8]; StoreFixed64(b, v); dst->append(b, 8); }

}  // namespace tidekv
