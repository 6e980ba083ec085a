// Variable-length unsigned integers (LEB128: 7 bits a byte, low bits first,
// high bit set on every byte but the last), used in manifests and index files.
//
// Decoders never read past `limit` and return nullptr on truncated or
// over-long input (more than 5 bytes for 32 bits, 10 for 64), so corrupt files
// are detected rather than misread.
#pragma once

#include <cstdint>
#include <string>

namespace tidekv {

inline constexpr int kMaxVarint32Bytes = 5;
inline constexpr int kMaxVarint64Bytes = 10;

// Writes v at dst (which has room for kMaxVarint*Bytes) and returns the end.
char* EncodeVarint32(char* dst, uint32_t v);
char* EncodeVarint64(char* dst, uint64_t v);
void PutVarint32(std::string* dst, uint32_t v);
void PutVarint64(std::string* dst, uint64_t v);
int VarintLength(uint64_t v);

// Reads a varint from [p, limit); returns the byte after it, or nullptr.
const char* DecodeVarint32(const char* p, const char* limit, uint32_t* v);
const char* DecodeVarint64(const char* p, const char* limit, uint64_t* v);

}  // namespace tidekv
