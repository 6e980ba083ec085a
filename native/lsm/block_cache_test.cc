#include <map>
#include <string>

#include "common/testing.h"
#include "lsm/block_cache.h"

namespace tidekv::lsm {
namespace {

TEST(BlockCache, KeepsWithinItsBudgetEvictingColdBlocksFirst) {
  const std::string block(1000, 'b');
  BlockCache cache(10 * 1100);  // about ten 1000-byte blocks with their overhead
  for (uint64_t i = 0; i < 10; ++i) ASSERT_TRUE(cache.Insert(1, i, block).data() != nullptr);
  EXPECT_TRUE(cache.bytes() <= cache.capacity());
  // Touch block 0, then insert more: block 1 (now the oldest) goes first, 0 stays.
  ASSERT_TRUE(cache.Lookup(1, 0).data() != nullptr);
  for (uint64_t i = 10; i < 13; ++i) ASSERT_TRUE(cache.Insert(1, i, block).data() != nullptr);
  EXPECT_TRUE(cache.bytes() <= cache.capacity());
  EXPECT_TRUE(cache.Lookup(1, 0).data() != nullptr);
  EXPECT_TRUE(cache.Lookup(1, 1).data() == nullptr);
  EXPECT_TRUE(cache.Lookup(1, 12).data() != nullptr);
  // The same block number of another table is another block.
  EXPECT_TRUE(cache.Lookup(2, 12).data() == nullptr);
  EXPECT_EQ(cache.Lookup(1, 12), Slice(block));
  EXPECT_TRUE(cache.hits() >= 4);
  EXPECT_TRUE(cache.misses() >= 2);
}

TEST(BlockCache, ABlockLargerThanTheBudgetIsNotKept) {
  BlockCache cache(4096);
  EXPECT_TRUE(cache.Insert(1, 0, std::string(8192, 'x')).data() == nullptr);
  EXPECT_EQ(cache.bytes(), size_t{0});
  BlockCache none(0);
  EXPECT_TRUE(none.Insert(1, 0, "tiny").data() == nullptr);
  EXPECT_TRUE(none.Lookup(1, 0).data() == nullptr);
}

TEST(BlockCache, ReinsertingKeepsOneCopy) {
  BlockCache cache(1 << 20);
  const Slice a = cache.Insert(7, 3, "first");
  const Slice b = cache.Insert(7, 3, "second");
  EXPECT_TRUE(a.data() == b.data());
  EXPECT_EQ(b, Slice("first"));  // blocks are immutable: the cached copy stands
  cache.Clear();
  EXPECT_EQ(cache.bytes(), size_t{0});
  EXPECT_TRUE(cache.Lookup(7, 3).data() == nullptr);
}

// Random inserts and lookups against a model of the blocks' contents: a hit
// always returns the right bytes, the budget always holds, and the index
// (backward-shift deletion included) never loses a cached block it reports.
TEST(BlockCache, RandomOpsAgainstAModel) {
  uint64_t rng = testing::TestSeed();
  BlockCache cache(64 * 1024);
  auto content = [](uint64_t table, uint64_t block) {
    return std::string(100 + (table * 31 + block) % 1500, static_cast<char>('a' + (table + block) % 26));
  };
  std::map<std::pair<uint64_t, uint64_t>, bool> seen;
  for (int i = 0; i < 200000; ++i) {
    const uint64_t table = testing::SplitMix(&rng) % 8, block = testing::SplitMix(&rng) % 64;
    if (testing::SplitMix(&rng) % 3 == 0) {
      const Slice got = cache.Insert(table, block, content(table, block));
      ASSERT_TRUE(got.data() != nullptr);
      ASSERT_TRUE(got == content(table, block));
      seen[{table, block}] = true;
    } else if (const Slice got = cache.Lookup(table, block); got.data() != nullptr) {
      ASSERT_TRUE(seen.count({table, block}) == 1);
      ASSERT_TRUE(got == content(table, block));
    }
    ASSERT_TRUE(cache.bytes() <= cache.capacity());
  }
  // Right after an insert the block is there.
  cache.Insert(99, 1, "x");
  EXPECT_TRUE(cache.Lookup(99, 1).data() != nullptr);
  EXPECT_TRUE(cache.hits() > 10000);
}

}  // namespace
}  // namespace tidekv::lsm
