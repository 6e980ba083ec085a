// Bloom filters for SSTables: a point lookup skips a table whose filter says
// the key is certainly absent.
//
// Filter format (a byte string; the SSTable stores it in a CRC'd block, so it
// carries no checksum of its own):
//
//   bytes [0, n-1)   the bit array, m = 8 * (n - 1) bits; bit b is
//                    (byte[b / 8] >> (b % 8)) & 1
//   byte  n-1        k, the number of probes, 1..30 (classic layout), or
//                    64 + k (blocked layout, below). Other values are
//                    reserved for future encodings and read as "may contain".
//
// Probe i (0 <= i < k) of a key sets bit FastRange(h1 + i * h2, m), where
// h1 = HashKey(key) (common/hash.h, pinned across releases), h2 is a
// bijective remix of h1, the sum wraps mod 2^64, and FastRange(x, m) =
// (x * m) >> 64 maps a 64-bit value onto [0, m) without a division. This is
// double hashing (Kirsch-Mitzenmacher): k probes from one hash, with the
// false-positive rate of k independent hashes.
//
// Blocked layout (the default, last byte 64 + k): m is a multiple of 512 and
// all k probes of a key fall in one 64-byte block, block FastRange(h1, m/512);
// probe i sets bit (s * c^i mod 2^32) >> 23 of it: s an odd 32-bit seed
// remixed from h1, c = 0x9E3779B9. One cache miss per lookup instead of k: measured at 1M keys a table
// (a 1.2 MB filter, far past the cache), a miss through the classic layout
// cost k cache misses and made misses slower than a block read. The price is
// a somewhat higher false-positive rate at the same bits per key (blocks fill
// unevenly): about 1.0% instead of 0.8% at 10 bits.
//
// The filter is m >= 64 bits so a table with a handful of keys still filters.
// An empty string means "no filter" (bits_per_key 0): every key may be present.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/slice.h"

namespace tidekv::lsm {

inline constexpr int kBloomMaxProbes = 30;

enum class BloomLayout : uint8_t { kClassic, kBlocked };

class BloomBuilder {
 public:
  // bits_per_key <= 0 builds no filter (Finish returns an empty string).
  explicit BloomBuilder(int bits_per_key, BloomLayout layout = BloomLayout::kBlocked);

  // Duplicate keys are counted twice (the filter is sized a little larger).
  void AddKey(Slice key);
  size_t key_count() const { return hashes_.size(); }

  // The filter of every key added since construction or the last Finish;
  // the builder is then empty again, ready for the next table.
  std::string Finish();

  // k for bits_per_key: round(bits_per_key * ln 2) clamped to [1, 30].
  static int ProbesFor(int bits_per_key);

 private:
  const int bits_per_key_;
  const int probes_;
  const BloomLayout layout_;
  std::vector<uint64_t> hashes_;  // 8 bytes a key, not the keys themselves
};

// False only when key was certainly not added to filter. An empty, truncated
// or unknown-format filter returns true: a damaged filter costs a read,
// never a missed key.
bool BloomMayContain(Slice filter, Slice key);
// The same for a key whose HashKey is key_hash.
bool BloomMayContainHash(Slice filter, uint64_t key_hash);
// Starts loading the filter block key_hash probes (blocked layout), for a
// check soon after: batches prefetch a few keys ahead. A hint only.
void BloomPrefetch(Slice filter, uint64_t key_hash);

}  // namespace tidekv::lsm
