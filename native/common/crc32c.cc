// CRC32C: a slicing-by-8 portable path and an SSE4.2 path picked at runtime.
//
// Both paths work on the raw CRC register (the value before the final
// inversion); Extend inverts on entry and exit, as the standard CRC32C does.
//
// Polynomial arithmetic uses the reflected representation: bit 31 holds the
// coefficient of x^0 and bit 0 that of x^31, so "multiply by x" is a right
// shift (plus a reduction when a bit falls off).
#include "crc32c.h"

#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace tidekv::crc32c {

namespace {

constexpr uint32_t kPoly = 0x82F63B78;  // 0x1EDC6F41 reflected

using Table = std::array<uint32_t, 256>;

// tables[0] advances the register by one byte; tables[k][b] is the effect of
// byte b followed by k zero bytes, so eight bytes can be folded in at once.
constexpr std::array<Table, 8> MakeSlicingTables() {
  std::array<Table, 8> t{};
  for (uint32_t b = 0; b < 256; ++b) {
    uint32_t r = b;
    for (int i = 0; i < 8; ++i) r = (r >> 1) ^ ((r & 1) ? kPoly : 0);
    t[0][b] = r;
  }
  for (int k = 1; k < 8; ++k) {
    for (int b = 0; b < 256; ++b) t[k][b] = (t[k - 1][b] >> 8) ^ t[0][t[k - 1][b] & 0xFF];
  }
  return t;
}
constexpr std::array<Table, 8> kSlicing = MakeSlicingTables();

inline uint64_t Load64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

uint32_t ExtendPortableRaw(uint32_t r, const uint8_t* p, size_t n) {
  const auto& t = kSlicing;
  while (n >= 8) {
    const uint64_t w = Load64(p) ^ r;  // little-endian: the register meets the first 4 bytes
    r = t[7][w & 0xFF] ^ t[6][(w >> 8) & 0xFF] ^ t[5][(w >> 16) & 0xFF] ^ t[4][(w >> 24) & 0xFF] ^
        t[3][(w >> 32) & 0xFF] ^ t[2][(w >> 40) & 0xFF] ^ t[1][(w >> 48) & 0xFF] ^ t[0][w >> 56];
    p += 8;
    n -= 8;
  }
  while (n-- > 0) r = t[0][(r ^ *p++) & 0xFF] ^ (r >> 8);
  return r;
}

}  // namespace

uint32_t ExtendPortable(uint32_t crc, const void* data, size_t n) {
  return ~ExtendPortableRaw(~crc, static_cast<const uint8_t*>(data), n);
}

#if defined(__x86_64__)
namespace {

// Product of two polynomials modulo the CRC polynomial (both reflected).
constexpr uint32_t MulMod(uint32_t a, uint32_t b) {
  uint32_t product = 0;
  for (int i = 0; i < 32; ++i) {  // i = power of x in a, from x^0 (bit 31) upwards
    if (a & (0x80000000u >> i)) product ^= b;
    b = (b >> 1) ^ ((b & 1) ? kPoly : 0);  // b *= x
  }
  return product;
}

// x^n mod P, by square-and-multiply.
constexpr uint32_t XPowMod(uint64_t n) {
  uint32_t result = 0x80000000u;  // 1
  uint32_t square = 0x40000000u;  // x
  for (; n != 0; n >>= 1) {
    if (n & 1) result = MulMod(result, square);
    square = MulMod(square, square);
  }
  return result;
}

// Feeding `bytes` zero bytes to the raw register multiplies it by x^(8*bytes).
// The register is a sum of its four bytes, so the shift is four table lookups.
struct ShiftTable {
  std::array<Table, 4> t{};
  constexpr explicit ShiftTable(size_t bytes) {
    const uint32_t k = XPowMod(8 * uint64_t{bytes});
    for (int j = 0; j < 4; ++j) {
      for (uint32_t b = 0; b < 256; ++b) t[j][b] = MulMod(b << (8 * j), k);
    }
  }
  uint32_t Shift(uint32_t r) const {
    return t[0][r & 0xFF] ^ t[1][(r >> 8) & 0xFF] ^ t[2][(r >> 16) & 0xFF] ^ t[3][r >> 24];
  }
};

// Long buffers run three independent crc32 chains (the instruction has a
// latency of 3 cycles and a throughput of 1), over three adjacent blocks, and
// merge them: crc(A|B|C) = shift(shift(crc(A), |B|) ^ crc0(B), |C|) ^ crc0(C).
constexpr size_t kLongBlock = 2048;
constexpr size_t kShortBlock = 256;
constexpr ShiftTable kLongShift(kLongBlock);
constexpr ShiftTable kShortShift(kShortBlock);

__attribute__((target("sse4.2"))) inline uint64_t ThreeWay(uint64_t r, const uint8_t* p, size_t block,
                                                           const ShiftTable& shift) {
  uint64_t c0 = r, c1 = 0, c2 = 0;
  for (size_t i = 0; i < block; i += 8) {
    c0 = _mm_crc32_u64(c0, Load64(p + i));
    c1 = _mm_crc32_u64(c1, Load64(p + block + i));
    c2 = _mm_crc32_u64(c2, Load64(p + 2 * block + i));
  }
  return shift.Shift(shift.Shift(static_cast<uint32_t>(c0)) ^ static_cast<uint32_t>(c1)) ^
         static_cast<uint32_t>(c2);
}

__attribute__((target("sse4.2"))) uint32_t ExtendHardware(uint32_t crc, const void* data, size_t n) {
  const uint8_t* p = static_cast<const uint8_t*>(data);
  uint64_t r = ~crc;
  // Aligned 8-byte loads never straddle a cache line.
  while (n > 0 && (reinterpret_cast<uintptr_t>(p) & 7) != 0) {
    r = _mm_crc32_u8(static_cast<uint32_t>(r), *p++);
    --n;
  }
  for (; n >= 3 * kLongBlock; p += 3 * kLongBlock, n -= 3 * kLongBlock) {
    r = ThreeWay(r, p, kLongBlock, kLongShift);
  }
  for (; n >= 3 * kShortBlock; p += 3 * kShortBlock, n -= 3 * kShortBlock) {
    r = ThreeWay(r, p, kShortBlock, kShortShift);
  }
  for (; n >= 8; p += 8, n -= 8) r = _mm_crc32_u64(r, Load64(p));
  while (n-- > 0) r = _mm_crc32_u8(static_cast<uint32_t>(r), *p++);
  return ~static_cast<uint32_t>(r);
}

bool CpuHasSse42() {
  __builtin_cpu_init();  // we may run from another translation unit's static initializer
  return __builtin_cpu_supports("sse4.2");
}

}  // namespace
#endif  // __x86_64__

namespace {
using ExtendFn = uint32_t (*)(uint32_t, const void*, size_t);
ExtendFn Choose() {
#if defined(__x86_64__)
  if (CpuHasSse42()) return &ExtendHardware;
#endif
  return &ExtendPortable;
}
// A function-local static: initialized on first use, whatever the static
// initialization order of the program.
ExtendFn Selected() {
  static const ExtendFn fn = Choose();
  return fn;
}
}  // namespace

uint32_t Extend(uint32_t crc, const void* data, size_t n) { return Selected()(crc, data, n); }

bool IsHardwareAccelerated() { return Selected() != &ExtendPortable; }

}  // namespace tidekv::crc32c
