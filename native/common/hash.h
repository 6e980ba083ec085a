// 64-bit hash of keys for the hash index.
//
// Requirements: fast on short keys (the common key is 10-40 bytes), every
// output bit usable (the index takes bucket bits from the bottom and tag bits
// from just above them), deterministic across processes and machines (the
// index is persisted by checkpoints), so no per-process random seed.
// Not a cryptographic hash: a hostile key set can build long chains; the
// index stays correct, only slower.
#pragma once

#include <cstdint>
#include <cstring>

#include "slice.h"

namespace tidekv {

namespace hash_internal {
inline uint64_t Load64(const char* p) { uint64_t v; std::memcpy(&v, p, 8); return v; }
inline uint64_t LoadTail(const char* p, size_t n) {  // 1..7 bytes
  uint64_t v = 0;
  std::memcpy(&v, p, n);
  return v;
}
// Folded 64x64->128 multiply: the two halves together carry every input bit.
inline uint64_t FoldedMultiply(uint64_t a, uint64_t b) {
  __uint128_t r = static_cast<__uint128_t>(a) * b;
  return static_cast<uint64_t>(r) ^ static_cast<uint64_t>(r >> 64);
}
inline constexpr uint64_t kP0 = 0x9E3779B97F4A7C15ull;  // 2^64 / golden ratio
inline constexpr uint64_t kP1 = 0xD6E8FEB86659FD93ull;
inline constexpr uint64_t kP2 = 0xA0761D6478BD642Full;
}  // namespace hash_internal

inline uint64_t HashKey(Slice key) {
  using namespace hash_internal;
  const char* p = key.data();
  size_t n = key.size();
  uint64_t h = kP0 ^ (n * kP1);
  while (n >= 16) {
    h = FoldedMultiply(Load64(p) ^ kP1 ^ h, Load64(p + 8) ^ kP2);
    p += 16;
    n -= 16;
  }
  if (n >= 8) {
    h = FoldedMultiply(Load64(p) ^ kP1 ^ h, (n > 8 ? LoadTail(p + 8, n - 8) : 0) ^ kP2);
  } else if (n > 0) {
    h = FoldedMultiply(LoadTail(p, n) ^ kP1 ^ h, kP2);
  }
  return FoldedMultiply(h ^ kP0, kP1 ^ (h >> 29));
}

}  // namespace tidekv
