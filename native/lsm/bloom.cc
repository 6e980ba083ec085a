#include "lsm/bloom.h"

#include <algorithm>
#include <cmath>

#include "common/hash.h"

namespace tidekv::lsm {

namespace {

constexpr uint64_t kMinFilterBits = 64;

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

BloomBuilder::BloomBuilder(int bits_per_key)
    : bits_per_key_(std::max(bits_per_key, 0)), probes_(ProbesFor(bits_per_key_)) {}

void BloomBuilder::AddKey(Slice key) {
  if (bits_per_key_ == 0) return;
  hashes_.push_back(HashKey(key));
}

std::string BloomBuilder::Finish() {
  if (bits_per_key_ == 0) return std::string();
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

bool BloomMayContain(Slice filter, Slice key) {
  if (filter.size() < 2) return true;  // no filter, or no bit array
  const int probes = static_cast<unsigned char>(filter.back());
  if (probes < 1 || probes > kBloomMaxProbes) return true;  // reserved: an encoding we do not know
  const uint64_t bits = (filter.size() - 1) * uint64_t{8};
  const uint64_t h1 = HashKey(key);
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
