#include "common/hash.h"

#include <algorithm>
#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include "common/testing.h"

namespace tidekv {
namespace {

TEST(Hash, Deterministic) {
  const std::string key = "some key";
  const uint64_t h = HashKey(key);
  EXPECT_EQ(HashKey(std::string("some key")), h);
  EXPECT_EQ(HashKey(Slice(key.data(), key.size())), h);
  // Keys are bytes: an embedded NUL and the length both matter.
  EXPECT_TRUE(HashKey(Slice("a\0b", 3)) != HashKey(Slice("a\0c", 3)));
  EXPECT_TRUE(HashKey(Slice("a\0", 2)) != HashKey(Slice("a", 1)));
}

// Checkpoints persist these hashes: if this test fails, the function changed
// and every existing index would be misread. Do not "fix" the expected values.
TEST(Hash, PinnedValues) {
  EXPECT_EQ(HashKey("a"), 0xB5070DB85C6FA9B5ull);
  EXPECT_EQ(HashKey("hello"), 0xC6F821567E99E186ull);
  EXPECT_EQ(HashKey("user000000000042"), 0x79A8634299CB7D22ull);
  EXPECT_EQ(HashKey("0123456789abcdefX"), 0xA3D4B0851702C512ull);
  EXPECT_EQ(HashKey("the quick brown fox jumps over the lazy dog"), 0x3A6D0D0DB4A536B4ull);
}

TEST(Hash, EveryLengthAndByteMatters) {
  // Changing any single byte of keys of length 1..64 changes the hash.
  std::string key(64, 'k');
  for (size_t n = 1; n <= key.size(); ++n) {
    const Slice base(key.data(), n);
    const uint64_t h = HashKey(base);
    for (size_t i = 0; i < n; ++i) {
      std::string changed(base);
      changed[i] ^= 0x01;
      EXPECT_TRUE(HashKey(changed) != h);
    }
  }
}

TEST(Hash, Distribution) {
  constexpr int kKeys = 1000000;
  constexpr int kBucketBits = 16;
  std::vector<uint32_t> buckets(size_t{1} << kBucketBits);
  std::vector<uint32_t> tag_buckets(size_t{1} << kBucketBits);  // the 16 bits above the bucket bits
  uint64_t bit_counts[64] = {};
  char key[32];
  for (int i = 0; i < kKeys; ++i) {
    const int n = std::snprintf(key, sizeof key, "user%012d", i);
    const uint64_t h = HashKey(Slice(key, static_cast<size_t>(n)));
    ++buckets[h & ((1u << kBucketBits) - 1)];
    ++tag_buckets[(h >> kBucketBits) & ((1u << kBucketBits) - 1)];
    for (int b = 0; b < 64; ++b) bit_counts[b] += (h >> b) & 1;
  }
  // Mean load 15.3; for a random function the maximum of 65536 Poisson(15.3)
  // buckets is about 35, so 48 is a loose but meaningful bound.
  EXPECT_TRUE(*std::max_element(buckets.begin(), buckets.end()) <= 48u);
  EXPECT_TRUE(*std::max_element(tag_buckets.begin(), tag_buckets.end()) <= 48u);
  EXPECT_TRUE(std::count(buckets.begin(), buckets.end(), 0u) < 20);  // expected ~0.015
  // Each bit set in 50% +- 0.5% of hashes (the standard deviation is 0.05%).
  for (int b = 0; b < 64; ++b) {
    EXPECT_TRUE(bit_counts[b] > kKeys * 0.495 && bit_counts[b] < kKeys * 0.505);
  }
}

TEST(Hash, NoCollisionsOnSequentialKeys) {
  std::set<uint64_t> seen;
  char key[32];
  for (int i = 0; i < 200000; ++i) {
    const int n = std::snprintf(key, sizeof key, "k%d", i);
    EXPECT_TRUE(seen.insert(HashKey(Slice(key, static_cast<size_t>(n)))).second);
  }
}

}  // namespace
}  // namespace tidekv
