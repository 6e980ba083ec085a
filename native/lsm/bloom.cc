#include "lsm/bloom.h"

#include <algorithm>
#include <cmath>

#include "common/hash.h"

namespace tidekv::lsm {

namespace {

constexpr uint64_t kMinFilterBits = 64;
constexpr uint32_t kBlockBits = 512;  // one cache line
constexpr int kBlockedMarker = 64;
// Blocked probes: successive products by an odd constant, top bits taken
// (multiplicative hashing); the seed is the half of the remixed hash that
// FastRange's block choice did not use.
constexpr uint32_t kProbeMultiplier = 0x9E3779B9u;
uint32_t BlockProbeSeed(uint64_t h1) { return static_cast<uint32_t>(h1 * 0xC2B2AE3D27D4EB4Full >> 32) | 1; }

// The second hash of double hashing. A bijection of h1 (rotate, then multiply
// by an odd constant), so it never loses entropy, while its bits are not a
// shifted copy of h1's: a step correlated with the start would cluster probes.
uint64_t SecondHash(uint64_t h1) {
  const uint64_t rotated = (h1 >> 32) | (h1 << 32);
  return rotated * 0xC2B2AE3D27D4EB4Full;
}

uint64_t FastRange(uint64_t x, uint64_t m) {
  return static_cast<uint64_t>((static_cast<__uint128_t>(x) * m) >> 64);
}

}  // namespace

int BloomBuilder::ProbesFor(int bits_per_key) {
  const long k = std::lround(bits_per_key * 0.69314718055994530942);  // ln 2
  return static_cast<int>(std::clamp<long>(k, 1, kBloomMaxProbes));
}

BloomBuilder::BloomBuilder(int bits_per_key, BloomLayout layout)
    : bits_per_key_(std::max(bits_per_key, 0)), probes_(ProbesFor(bits_per_key_)), layout_(layout) {}

void BloomBuilder::AddKey(Slice key) {
  if (bits_per_key_ == 0) return;
  hashes_.push_back(HashKey(key));
}

std::string BloomBuilder::Finish() {
  if (bits_per_key_ == 0) return std::string();
  if (layout_ == BloomLayout::kBlocked) {
    const uint64_t wanted = std::max<uint64_t>(hashes_.size() * static_cast<uint64_t>(bits_per_key_), kBlockBits);
    const uint64_t blocks = (wanted + kBlockBits - 1) / kBlockBits;
    std::string filter(blocks * kBlockBits / 8 + 1, '\0');
    for (const uint64_t h1 : hashes_) {
      char* block = filter.data() + FastRange(h1, blocks) * (kBlockBits / 8);
      uint32_t h = BlockProbeSeed(h1);
      for (int i = 0; i < probes_; ++i) {
        const uint32_t bit = h >> 23;  // the top 9 bits: 0..511
        block[bit / 8] = static_cast<char>(block[bit / 8] | (1 << (bit % 8)));
        h *= kProbeMultiplier;
      }
    }
    filter.back() = static_cast<char>(kBlockedMarker + probes_);
    hashes_.clear();
    return filter;
  }
  uint64_t bits = std::max<uint64_t>(hashes_.size() * static_cast<uint64_t>(bits_per_key_), kMinFilterBits);
  bits = (bits + 7) / 8 * 8;
  std::string filter(bits / 8 + 1, '\0');
  char* array = filter.data();
  for (const uint64_t h1 : hashes_) {
    const uint64_t h2 = SecondHash(h1);
    uint64_t x = h1;
    for (int i = 0; i < probes_; ++i) {
      const uint64_t bit = FastRange(x, bits);
      array[bit / 8] = static_cast<char>(array[bit / 8] | (1 << (bit % 8)));
      x += h2;
    }
  }
  filter.back() = static_cast<char>(probes_);
  hashes_.clear();
  return filter;
}

bool BloomMayContain(Slice filter, Slice key) { return BloomMayContainHash(filter, HashKey(key)); }

void BloomPrefetch(Slice filter, uint64_t h1) {
  if (filter.size() < 2) return;
  const int marker = static_cast<unsigned char>(filter.back());
  if (marker <= kBlockedMarker || marker > kBlockedMarker + kBloomMaxProbes) return;
  const uint64_t blocks = (filter.size() - 1) / (kBlockBits / 8);
  if (blocks == 0) return;
  __builtin_prefetch(filter.data() + FastRange(h1, blocks) * (kBlockBits / 8));
}

bool BloomMayContainHash(Slice filter, uint64_t h1) {
  if (filter.size() < 2) return true;  // no filter, or no bit array
  const int marker = static_cast<unsigned char>(filter.back());
  if (marker > kBlockedMarker && marker <= kBlockedMarker + kBloomMaxProbes) {
    const uint64_t blocks = (filter.size() - 1) / (kBlockBits / 8);
    if (blocks == 0 || (filter.size() - 1) % (kBlockBits / 8) != 0) return true;  // malformed: no claim
    const unsigned char* block =
        reinterpret_cast<const unsigned char*>(filter.data()) + FastRange(h1, blocks) * (kBlockBits / 8);
    uint32_t h = BlockProbeSeed(h1);
    for (int i = 0; i < marker - kBlockedMarker; ++i) {
      const uint32_t bit = h >> 23;
      if ((block[bit / 8] & (1u << (bit % 8))) == 0) return false;
      h *= kProbeMultiplier;
    }
    return true;
  }
  const int probes = marker;
  if (probes < 1 || probes > kBloomMaxProbes) return true;  // reserved: an encoding we do not know
  const uint64_t bits = (filter.size() - 1) * uint64_t{8};
  const uint64_t h2 = SecondHash(h1);
  uint64_t x = h1;
  for (int i = 0; i < probes; ++i) {
    const uint64_t bit = FastRange(x, bits);
    if ((static_cast<unsigned char>(filter[bit / 8]) & (1u << (bit % 8))) == 0) return false;
    x += h2;
  }
  return true;
}

}  // namespace tidekv::lsm
