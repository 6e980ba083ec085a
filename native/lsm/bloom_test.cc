#include "lsm/bloom.h"

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "common/hash.h"
#include "common/testing.h"

namespace tidekv::lsm {
namespace {

using testing::SplitMix;

// Random bytes of 9..40 bytes (NULs included), the first byte fixed so the
// present and absent sets cannot overlap. Long enough that keys are distinct
// (duplicates would make the measured rate look better than it is).
std::string RandomKey(uint64_t* rng, char first) {
  std::string key(9 + SplitMix(rng) % 32, '\0');
  key[0] = first;
  for (size_t i = 1; i < key.size(); ++i) key[i] = static_cast<char>(SplitMix(rng));
  return key;
}

// Structured keys, as applications write them: similar and short.
std::string NumberedKey(const char* prefix, uint64_t i) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%s%012llu", prefix, static_cast<unsigned long long>(i));
  return buf;
}

double TheoreticalFpRate(size_t keys, size_t bits, int probes) {
  return std::pow(1.0 - std::exp(-static_cast<double>(probes) * keys / bits), probes);
}

// Blocked: a block holds a Poisson number j of keys (mean keys per block);
// the rate is the classic one of a 512-bit filter of j keys, averaged over j.
double TheoreticalBlockedFpRate(size_t keys, size_t bits, int probes) {
  const double per_block = static_cast<double>(keys) * 512 / static_cast<double>(bits);
  double rate = 0, p = std::exp(-per_block);  // P(j = 0)
  for (int j = 0; j < 400; ++j) {
    rate += p * std::pow(1.0 - std::pow(1.0 - 1.0 / 512, probes * j), probes);
    p *= per_block / (j + 1);
  }
  return rate;
}

TEST(Bloom, ProbesFor) {
  EXPECT_EQ(BloomBuilder::ProbesFor(1), 1);
  EXPECT_EQ(BloomBuilder::ProbesFor(5), 3);    // 3.47
  EXPECT_EQ(BloomBuilder::ProbesFor(10), 7);   // 6.93
  EXPECT_EQ(BloomBuilder::ProbesFor(15), 10);  // 10.4
  EXPECT_EQ(BloomBuilder::ProbesFor(100), kBloomMaxProbes);
}

TEST(Bloom, NoFalseNegatives) {
  uint64_t rng = testing::TestSeed();
  for (int bits_per_key : {1, 2, 10, 20}) {
    BloomBuilder builder(bits_per_key);
    std::vector<std::string> keys;
    for (int i = 0; i < 100000; ++i) keys.push_back(RandomKey(&rng, 'p'));
    for (const std::string& k : keys) builder.AddKey(k);
    EXPECT_EQ(builder.key_count(), keys.size());
    const std::string filter = builder.Finish();
    size_t missed = 0;
    for (const std::string& k : keys) missed += BloomMayContain(filter, k) ? 0 : 1;
    EXPECT_EQ(missed, size_t{0});
  }
}

TEST(Bloom, FalsePositiveRateMatchesTheory) {
  constexpr size_t kKeys = 100000;
  for (BloomLayout layout : {BloomLayout::kClassic, BloomLayout::kBlocked})
  for (int bits_per_key : {5, 10, 15}) {
    for (bool numbered : {false, true}) {
      uint64_t rng = testing::TestSeed() + static_cast<uint64_t>(bits_per_key);
      BloomBuilder builder(bits_per_key, layout);
      for (size_t i = 0; i < kKeys; ++i) builder.AddKey(numbered ? NumberedKey("user", i) : RandomKey(&rng, 'p'));
      const std::string filter = builder.Finish();
      const size_t bits = (filter.size() - 1) * 8;
      EXPECT_TRUE(bits >= kKeys * bits_per_key && bits < kKeys * bits_per_key + 512);
      size_t false_positives = 0;
      for (size_t i = 0; i < kKeys; ++i) {
        const std::string absent = numbered ? NumberedKey("user", kKeys + i) : RandomKey(&rng, 'a');
        false_positives += BloomMayContain(filter, absent) ? 1 : 0;
      }
      const double rate = static_cast<double>(false_positives) / kKeys;
      const bool blocked = layout == BloomLayout::kBlocked;
      const double theory = blocked ? TheoreticalBlockedFpRate(kKeys, bits, BloomBuilder::ProbesFor(bits_per_key))
                                    : TheoreticalFpRate(kKeys, bits, BloomBuilder::ProbesFor(bits_per_key));
      std::printf("    bloom %s %2d bits/key, %s keys: fp %.4f%% (theory %.4f%%)\n", blocked ? "blocked" : "classic",
                  bits_per_key, numbered ? "numbered" : "random  ", 100 * rate, 100 * theory);
      // 1.5x theory, plus slack for the binomial noise at the lowest rate
      // (about 74 expected hits at 15 bits/key).
      EXPECT_TRUE(rate <= 1.5 * theory + 0.0003);
      // A rate far below theory would mean the test does not probe what it thinks.
      EXPECT_TRUE(rate >= 0.5 * theory);
    }
  }
}

TEST(Bloom, NoFilterWhenBitsPerKeyIsZero) {
  for (int bits_per_key : {0, -3}) {
    BloomBuilder builder(bits_per_key);
    builder.AddKey("a");
    EXPECT_EQ(builder.key_count(), size_t{0});
    const std::string filter = builder.Finish();
    EXPECT_TRUE(filter.empty());
    EXPECT_TRUE(BloomMayContain(filter, "a"));
    EXPECT_TRUE(BloomMayContain(filter, "anything"));
  }
}

TEST(Bloom, ZeroKeysRejectsEverything) {
  BloomBuilder classic(10, BloomLayout::kClassic);
  const std::string small = classic.Finish();
  EXPECT_EQ(small.size(), size_t{64 / 8 + 1});  // the minimum classic filter
  EXPECT_FALSE(BloomMayContain(small, "a"));
  BloomBuilder builder(10);
  const std::string filter = builder.Finish();
  EXPECT_EQ(filter.size(), size_t{512 / 8 + 1});  // one block
  EXPECT_FALSE(BloomMayContain(filter, "a"));
  EXPECT_FALSE(BloomMayContain(filter, ""));
}

TEST(Bloom, OneKey) {
  BloomBuilder builder(10);
  builder.AddKey("only");
  const std::string filter = builder.Finish();
  EXPECT_TRUE(BloomMayContain(filter, "only"));
  // 7 bits set out of 64: a random other key passes with probability < 1e-3.
  size_t false_positives = 0;
  for (int i = 0; i < 1000; ++i) false_positives += BloomMayContain(filter, NumberedKey("other", i)) ? 1 : 0;
  EXPECT_TRUE(false_positives < 20);
}

TEST(Bloom, SmallKeyCounts) {
  uint64_t rng = testing::TestSeed();
  for (size_t n = 1; n <= 200; ++n) {
    BloomBuilder builder(10);
    std::vector<std::string> keys;
    for (size_t i = 0; i < n; ++i) keys.push_back(RandomKey(&rng, 'p'));
    for (const std::string& k : keys) builder.AddKey(k);
    const std::string filter = builder.Finish();
    for (const std::string& k : keys) ASSERT_TRUE(BloomMayContain(filter, k));
  }
}

TEST(Bloom, EmptyKeyAndNulBytes) {
  BloomBuilder builder(10);
  builder.AddKey("");
  builder.AddKey(Slice("a\0b", 3));
  const std::string filter = builder.Finish();
  EXPECT_TRUE(BloomMayContain(filter, ""));
  EXPECT_TRUE(BloomMayContain(filter, Slice("a\0b", 3)));
}

TEST(Bloom, MalformedFilterMayContainEverything) {
  EXPECT_TRUE(BloomMayContain(Slice(), "k"));
  EXPECT_TRUE(BloomMayContain(Slice("\x07", 1), "k"));  // k but no bit array
  const std::string zero_bits(9, '\0');                 // k = 0
  EXPECT_TRUE(BloomMayContain(zero_bits, "k"));
  for (int k : {31, 64, 255}) {  // reserved encodings
    std::string filter(9, '\0');
    filter.back() = static_cast<char>(k);
    EXPECT_TRUE(BloomMayContain(filter, "k"));
  }
  // Garbage of every small size is read safely (ASan watches the bounds).
  uint64_t rng = testing::TestSeed();
  for (size_t n = 0; n < 100; ++n) {
    std::string garbage(n, '\0');
    for (char& c : garbage) c = static_cast<char>(SplitMix(&rng));
    (void)BloomMayContain(garbage, "k");
    (void)BloomMayContain(garbage, "");
  }
}

TEST(Bloom, DeterministicAndReusable) {
  BloomBuilder a(10);
  BloomBuilder b(10);
  for (int i = 0; i < 1000; ++i) {
    a.AddKey(NumberedKey("k", i));
    b.AddKey(NumberedKey("k", i));
  }
  const std::string fa = a.Finish();
  EXPECT_EQ(fa, b.Finish());
  EXPECT_EQ(a.key_count(), size_t{0});
  // After Finish the builder starts a new, independent filter.
  a.AddKey("fresh");
  const std::string second = a.Finish();
  EXPECT_EQ(second.size(), size_t{512 / 8 + 1});
  EXPECT_TRUE(BloomMayContain(second, "fresh"));
}

// Filters are persisted in SSTables: if this fails, the probe sequence
// changed and every existing table's filter would give false negatives.
TEST(Bloom, PinnedEncoding) {
  BloomBuilder builder(10, BloomLayout::kClassic);
  builder.AddKey("hello");
  const std::string filter = builder.Finish();
  ASSERT_EQ(filter.size(), size_t{9});
  uint64_t bits = 0;
  for (int i = 0; i < 8; ++i) bits |= uint64_t{static_cast<unsigned char>(filter[i])} << (8 * i);
  // Bits 49 51 54 56 58 61 63, computed independently from HashKey("hello")'s pinned value.
  EXPECT_EQ(bits, 0xA54A000000000000ull);
  EXPECT_EQ(static_cast<int>(filter[8]), 7);
}

// The blocked layout, recomputed here from the format described in bloom.h.
TEST(Bloom, PinnedBlockedEncoding) {
  BloomBuilder builder(10);
  builder.AddKey("hello");
  const std::string filter = builder.Finish();
  ASSERT_EQ(filter.size(), size_t{65});  // one 512-bit block and the marker
  EXPECT_EQ(static_cast<int>(static_cast<unsigned char>(filter[64])), 64 + 7);
  const uint64_t h1 = HashKey("hello");
  uint32_t h = static_cast<uint32_t>(h1 * 0xC2B2AE3D27D4EB4Full >> 32) | 1;
  std::string want(64, '\0');
  for (int i = 0; i < 7; ++i) {
    const uint32_t bit = h >> 23;
    want[bit / 8] = static_cast<char>(want[bit / 8] | (1 << (bit % 8)));
    h *= 0x9E3779B9u;
  }
  EXPECT_EQ(filter.substr(0, 64), want);
}

}  // namespace
}  // namespace tidekv::lsm
