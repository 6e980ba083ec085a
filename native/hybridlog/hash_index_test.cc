#include "hybridlog/hash_index.h"

#include <map>
#include <random>

#include "common/hash.h"
#include "common/testing.h"

namespace tidekv::hlog {
namespace {

TEST(HashIndex, FindOrCreateThenFind) {
  HashIndex index;
  ASSERT_OK(index.Init(2));
  std::mt19937_64 rng(testing::TestSeed());
  std::map<uint64_t, uint64_t*> slots;
  uint64_t next_address = 100;
  for (int i = 0; i < 50; ++i) {
    const uint64_t h = rng();
    uint64_t* slot = nullptr;
    ASSERT_OK(index.FindOrCreate(h, 64, &slot));
    EXPECT_EQ(HashIndex::Address(*slot), uint64_t{0});  // new entry: empty chain
    index.SetAddress(slot, next_address++);
  }
  EXPECT_TRUE(index.overflow_bucket_count() > 0);  // 50 entries in 4 buckets of 7
  rng.seed(testing::TestSeed());
  for (int i = 0; i < 50; ++i) {
    const uint64_t h = rng();
    uint64_t* slot = index.Find(h, 64);
    ASSERT_TRUE(slot != nullptr);
    EXPECT_TRUE(index.EntryAcceptsHash(*slot, h));
  }
}

TEST(HashIndex, DeadEntriesAreSkippedAndReused) {
  HashIndex index;
  ASSERT_OK(index.Init(1));
  uint64_t* slot = nullptr;
  ASSERT_OK(index.FindOrCreate(0x1234, 64, &slot));
  index.SetAddress(slot, 100);
  EXPECT_TRUE(index.Find(0x1234, 64) != nullptr);
  EXPECT_TRUE(index.Find(0x1234, 101) == nullptr);  // begin passed the chain: dead
  const uint64_t entries = index.live_entries();
  uint64_t* reused = nullptr;
  ASSERT_OK(index.FindOrCreate(0x5678, 101, &reused));
  EXPECT_EQ(reused, slot);  // the dead slot is the first free one
  EXPECT_EQ(index.live_entries(), entries);
}

// Growing must keep every hash mapped to the entry holding its chain, with no
// record reads: the split bit comes from the tag.
TEST(HashIndex, GrowPreservesEveryLookup) {
  HashIndex index;
  ASSERT_OK(index.Init(2));
  std::mt19937_64 rng(testing::TestSeed() + 1);
  std::vector<uint64_t> hashes;
  std::map<uint64_t, uint64_t> chain_of;  // hash -> address its entry holds
  uint64_t next_address = 1000;
  for (int round = 0; round < 12; ++round) {
    for (int i = 0; i < 200; ++i) {
      const uint64_t h = rng();
      uint64_t* slot = nullptr;
      ASSERT_OK(index.FindOrCreate(h, 64, &slot));
      if (HashIndex::Address(*slot) == 0) index.SetAddress(slot, next_address++);
      hashes.push_back(h);
      chain_of[h] = HashIndex::Address(*slot);
    }
    ASSERT_OK(index.Grow(64));
    for (uint64_t h : hashes) {
      uint64_t* slot = index.Find(h, 64);
      ASSERT_TRUE(slot != nullptr);
      EXPECT_EQ(HashIndex::Address(*slot), chain_of[h]);
    }
  }
  EXPECT_EQ(index.bucket_count(), uint64_t{4} << 12);
}

// After 15 doublings a tag has no bits left: the entry must be copied into
// both halves and still answer for every hash of its old bucket.
TEST(HashIndex, TagRunsOutAfterFifteenDoublings) {
  HashIndex index;
  ASSERT_OK(index.Init(1));
  std::mt19937_64 rng(testing::TestSeed() + 2);
  std::vector<uint64_t> hashes;
  for (int i = 0; i < 6; ++i) hashes.push_back(rng());
  std::map<uint64_t, uint64_t> chain_of;
  for (size_t i = 0; i < hashes.size(); ++i) {
    uint64_t* slot = nullptr;
    ASSERT_OK(index.FindOrCreate(hashes[i], 64, &slot));
    if (HashIndex::Address(*slot) == 0) index.SetAddress(slot, 500 + i);
    chain_of[hashes[i]] = HashIndex::Address(*slot);
  }
  for (int g = 0; g < 18; ++g) {
    ASSERT_OK(index.Grow(64));
    for (uint64_t h : hashes) {
      uint64_t* slot = index.Find(h, 64);
      ASSERT_TRUE(slot != nullptr);
      EXPECT_EQ(HashIndex::Address(*slot), chain_of[h]);
    }
  }
}

TEST(HashIndex, GrowDropsDeadEntries) {
  HashIndex index;
  ASSERT_OK(index.Init(3));
  for (uint64_t i = 0; i < 40; ++i) {
    uint64_t* slot = nullptr;
    ASSERT_OK(index.FindOrCreate(HashKey(std::to_string(i)), 64, &slot));
    index.SetAddress(slot, 100 + i);
  }
  const uint64_t before = index.live_entries();
  ASSERT_OK(index.Grow(120));  // addresses 100..119 are now below begin
  EXPECT_TRUE(index.live_entries() < before);
  EXPECT_TRUE(index.Find(HashKey("5"), 120) == nullptr);
  EXPECT_TRUE(index.Find(HashKey("30"), 120) != nullptr);
}

}  // namespace
}  // namespace tidekv::hlog
