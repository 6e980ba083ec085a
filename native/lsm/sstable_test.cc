#include "lsm/sstable.h"

#include <map>
#include <random>
#include <string>

#include "common/crc32c.h"
#include "common/env_mem.h"
#include "common/testing.h"

namespace tidekv::lsm {
namespace {

struct Entry {
  EntryKind kind;
  std::string value;
};
using Model = std::map<std::string, Entry>;

// Keys with shared prefixes, NUL bytes and a wide spread of lengths.
std::string RandomKey(std::mt19937_64& rng) {
  static const char* kPrefixes[] = {"user:", "user:1", "u", ""};
  std::string key = kPrefixes[rng() % 4];
  const size_t n = 1 + rng() % (rng() % 8 == 0 ? 300 : 12);
  for (size_t i = 0; i < n; ++i) key.push_back(static_cast<char>(rng() % 8 == 0 ? 0 : 'a' + rng() % 26));
  return key;
}

Model RandomModel(std::mt19937_64& rng, size_t n) {
  Model model;
  while (model.size() < n) {
    const int k = static_cast<int>(rng() % 10);
    const EntryKind kind = k < 6 ? EntryKind::kValue : k < 8 ? EntryKind::kTombstone
                                                     : k < 9 ? EntryKind::kMergeAdd : EntryKind::kMergeAppend;
    std::string value;
    if (kind == EntryKind::kValue || kind == EntryKind::kMergeAppend) {
      value.assign(rng() % 16 == 0 ? 5000 : rng() % 120, static_cast<char>('A' + rng() % 26));
    } else if (kind == EntryKind::kMergeAdd) {
      value.assign(8, static_cast<char>(rng()));
    }
    model[RandomKey(rng)] = Entry{kind, value};
  }
  return model;
}

Status Build(Env* env, const std::string& path, const Model& model, const SSTableOptions& options,
             SSTableProperties* props) {
  SSTableBuilder builder;
  TIDEKV_RETURN_IF_ERROR(builder.Open(env, path, 7, options));
  for (const auto& [k, e] : model) TIDEKV_RETURN_IF_ERROR(builder.Add(k, e.kind, e.value));
  return builder.Finish(props);
}

// Each block size with each restart interval (0: the layout without restart
// offsets, which must stay readable), so that keys sit first, last and between
// restarts, and blocks hold one entry or hundreds.
TEST(SSTable, EveryEntryReadsBackByGetAndInOrder) {
  std::mt19937_64 rng(testing::TestSeed() + 31);
  for (uint32_t block_bytes : {64u, 512u, 4096u, 65536u})
  for (uint32_t restart_interval : {0u, 1u, 4u, 16u}) {
    MemEnv env;
    ASSERT_OK(env.CreateDir("/t"));
    const Model model = RandomModel(rng, 3000);
    SSTableOptions options;
    options.block_bytes = block_bytes;
    options.restart_interval = restart_interval;
    SSTableProperties props;
    ASSERT_OK(Build(&env, "/t/1.sst", model, options, &props));
    EXPECT_EQ(props.entries, uint64_t{model.size()});
    EXPECT_EQ(props.smallest, model.begin()->first);
    EXPECT_EQ(props.largest, model.rbegin()->first);
    std::unique_ptr<SSTableReader> table;
    ASSERT_OK(SSTableReader::Open(&env, "/t/1.sst", &table));
    EXPECT_EQ(table->properties().entries, props.entries);
    EXPECT_EQ(table->properties().data_blocks, props.data_blocks);
    EXPECT_EQ(table->properties().file_number, uint64_t{7});
    EXPECT_EQ(table->properties().smallest, props.smallest);
    EXPECT_EQ(table->properties().largest, props.largest);
    for (const auto& [k, e] : model) {
      bool found = false;
      EntryKind kind;
      std::string value;
      ASSERT_OK(table->Get(k, &found, &kind, &value));
      ASSERT_TRUE(found);
      EXPECT_TRUE(kind == e.kind);
      EXPECT_EQ(value, e.value);
      // Just before and just after the key: absent unless the model has them.
      for (const std::string& near : {k + std::string(1, '\0'), k.substr(0, k.size() - 1)}) {
        if (near.empty() || model.count(near) != 0) continue;
        ASSERT_OK(table->Get(near, &found, &kind, &value));
        ASSERT_FALSE(found);
      }
    }
    SSTableReader::Iterator it(table.get());
    auto want = model.begin();
    for (it.SeekToFirst(); it.Valid(); it.Next(), ++want) {
      ASSERT_TRUE(want != model.end());
      EXPECT_EQ(std::string(it.key()), want->first);
      EXPECT_EQ(std::string(it.value()), want->second.value);
    }
    ASSERT_OK(it.status());
    EXPECT_TRUE(want == model.end());
  }
}

TEST(SSTable, SeekLandsOnTheFirstKeyAtOrAfterTheTarget) {
  std::mt19937_64 rng(testing::TestSeed() + 32);
  for (uint32_t restart_interval : {0u, 1u, 3u, 16u}) {
  MemEnv env;
  ASSERT_OK(env.CreateDir("/t"));
  const Model model = RandomModel(rng, 2000);
  SSTableOptions options;
  options.block_bytes = restart_interval == 16 ? 4096 : 256;
  options.restart_interval = restart_interval;
  ASSERT_OK(Build(&env, "/t/1.sst", model, options, nullptr));
  std::unique_ptr<SSTableReader> table;
  ASSERT_OK(SSTableReader::Open(&env, "/t/1.sst", &table));
  SSTableReader::Iterator it(table.get());
  for (int i = 0; i < 3000; ++i) {
    std::string target = i % 3 == 0 ? std::next(model.begin(), rng() % model.size())->first : RandomKey(rng);
    if (i % 7 == 0) target.push_back('\0');  // just past an existing key
    it.Seek(target);
    ASSERT_OK(it.status());
    auto want = model.lower_bound(target);
    if (want == model.end()) {
      EXPECT_FALSE(it.Valid());
    } else {
      ASSERT_TRUE(it.Valid());
      EXPECT_EQ(std::string(it.key()), want->first);
    }
  }
  it.Seek(std::string(1000, '\xff'));
  EXPECT_FALSE(it.Valid());
  }
}

TEST(SSTable, AbsentKeysAreNotFoundAndMostAreRejectedByTheFilter) {
  std::mt19937_64 rng(testing::TestSeed() + 33);
  MemEnv env;
  ASSERT_OK(env.CreateDir("/t"));
  const Model model = RandomModel(rng, 5000);
  ASSERT_OK(Build(&env, "/t/1.sst", model, SSTableOptions{}, nullptr));
  std::unique_ptr<SSTableReader> table;
  ASSERT_OK(SSTableReader::Open(&env, "/t/1.sst", &table));
  int absent = 0, passed_filter = 0;
  for (int i = 0; i < 20000; ++i) {
    const std::string key = RandomKey(rng) + "#absent";
    if (model.count(key) != 0) continue;
    ++absent;
    if (table->MayContain(key)) ++passed_filter;
    bool found = true;
    EntryKind kind;
    std::string value;
    ASSERT_OK(table->Get(key, &found, &kind, &value));
    EXPECT_FALSE(found);
  }
  // 10 bits per key: about 1% false positives.
  EXPECT_TRUE(passed_filter * 100 < absent * 3);
  // Without a filter every key passes.
  SSTableOptions no_filter;
  no_filter.bloom_bits_per_key = 0;
  ASSERT_OK(Build(&env, "/t/2.sst", model, no_filter, nullptr));
  ASSERT_OK(SSTableReader::Open(&env, "/t/2.sst", &table));
  EXPECT_TRUE(table->MayContain("anything"));
}

TEST(SSTable, EmptyTable) {
  MemEnv env;
  ASSERT_OK(env.CreateDir("/t"));
  SSTableProperties props;
  ASSERT_OK(Build(&env, "/t/1.sst", Model{}, SSTableOptions{}, &props));
  EXPECT_EQ(props.entries, uint64_t{0});
  std::unique_ptr<SSTableReader> table;
  ASSERT_OK(SSTableReader::Open(&env, "/t/1.sst", &table));
  SSTableReader::Iterator it(table.get());
  it.SeekToFirst();
  EXPECT_FALSE(it.Valid());
  bool found = true;
  EntryKind kind;
  std::string value;
  ASSERT_OK(table->Get("a", &found, &kind, &value));
  EXPECT_FALSE(found);
}

TEST(SSTable, KeysOutOfOrderAreRejectedAndAnAbandonedTableLeavesNoFile) {
  MemEnv env;
  ASSERT_OK(env.CreateDir("/t"));
  {
    SSTableBuilder builder;
    ASSERT_OK(builder.Open(&env, "/t/1.sst", 1, SSTableOptions{}));
    ASSERT_OK(builder.Add("b", EntryKind::kValue, "1"));
    EXPECT_STATUS(builder.Add("b", EntryKind::kValue, "2"), kInvalidArgument);
    EXPECT_STATUS(builder.Add("a", EntryKind::kValue, "2"), kInvalidArgument);
    EXPECT_STATUS(builder.Add("c", static_cast<EntryKind>(9), "2"), kInvalidArgument);
  }  // destroyed unfinished
  EXPECT_FALSE(env.FileExists("/t/1.sst"));
}

// Damage anywhere is reported as Corruption: at open for the header, footer,
// index and filter; on the read that enters a damaged data block.
TEST(SSTable, DamageIsReportedAsCorruption) {
  std::mt19937_64 rng(testing::TestSeed() + 34);
  MemEnv env;
  ASSERT_OK(env.CreateDir("/t"));
  const Model model = RandomModel(rng, 1500);
  SSTableOptions options;
  options.block_bytes = 1024;
  ASSERT_OK(Build(&env, "/t/good.sst", model, options, nullptr));
  std::string good;
  ASSERT_OK(env.ReadAll("/t/good.sst", &good));
  for (int trial = 0; trial < 200; ++trial) {
    std::string bad = good;
    const size_t at = trial < 100 ? rng() % bad.size() : bad.size() - 1 - rng() % 200;  // bias to the tail
    bad[at] = static_cast<char>(bad[at] ^ (1 << (rng() % 8)));
    {
      std::unique_ptr<File> f;
      ASSERT_OK(env.OpenFile("/t/bad.sst", OpenMode::kCreateTruncate, &f));
      ASSERT_OK(f->WriteAt(0, bad));
    }
    std::unique_ptr<SSTableReader> table;
    Status s = SSTableReader::Open(&env, "/t/bad.sst", &table);
    if (!s.ok()) {
      EXPECT_STATUS(s, kCorruption);
      continue;
    }
    // Opened: the flip is in a data block; walking everything must hit it.
    SSTableReader::Iterator it(table.get());
    size_t seen = 0;
    for (it.SeekToFirst(); it.Valid(); it.Next()) ++seen;
    EXPECT_STATUS(it.status(), kCorruption);
    EXPECT_TRUE(seen < model.size());
  }
  // Truncation.
  for (size_t cut : {size_t{0}, size_t{10}, good.size() / 2, good.size() - 1}) {
    std::unique_ptr<File> f;
    ASSERT_OK(env.OpenFile("/t/short.sst", OpenMode::kCreateTruncate, &f));
    ASSERT_OK(f->WriteAt(0, Slice(good.data(), cut)));
    f.reset();
    std::unique_ptr<SSTableReader> table;
    EXPECT_STATUS(SSTableReader::Open(&env, "/t/short.sst", &table), kCorruption);
  }
}

// A block whose CRC matches but whose restart trailer is wrong (a bug in a
// writer, or a crafted file) is Corruption on the read, never a read outside
// the block.
TEST(SSTable, AMalformedRestartTrailerIsCorruption) {
  MemEnv env;
  ASSERT_OK(env.CreateDir("/t"));
  Model model;
  for (int i = 0; i < 40; ++i) model["key" + std::to_string(100 + i)] = Entry{EntryKind::kValue, "v"};
  SSTableOptions options;
  options.block_bytes = 1u << 20;  // one block: [header, filter offset - CRC)
  ASSERT_OK(Build(&env, "/t/good.sst", model, options, nullptr));
  std::string good;
  ASSERT_OK(env.ReadAll("/t/good.sst", &good));
  const size_t filter_offset = LoadFixed64(good.data() + good.size() - 48 + 16);
  const size_t block_end = filter_offset - 4;  // where the block's CRC is
  const uint32_t count = LoadFixed32(good.data() + block_end - 4);
  ASSERT_EQ(count, uint32_t{10});  // 40 entries, a restart every 4
  const size_t restarts = block_end - 4 - 4 * count;
  // Each damage, written with a CRC that matches it.
  const std::vector<std::pair<size_t, uint32_t>> damages = {
      {block_end - 4, 0xFFFFFFF0u},           // a count larger than the block
      {block_end - 4, (block_end - 64) / 4},  // a count that takes the whole block
      {restarts + 4 * 5, 0x7FFFFFFFu},        // an offset past the entries
      {restarts + 4 * 5, uint32_t(restarts - 64)},  // an offset at the trailer itself
      {restarts + 4 * 5, 1},                  // an offset inside an entry
  };
  for (const auto& [at, value] : damages) {
    std::string bad = good;
    StoreFixed32(&bad[at], value);
    StoreFixed32(&bad[block_end], crc32c::Value(bad.data() + 64, block_end - 64));
    {
      std::unique_ptr<File> f;
      ASSERT_OK(env.OpenFile("/t/bad.sst", OpenMode::kCreateTruncate, &f));
      ASSERT_OK(f->WriteAt(0, bad));
    }
    std::unique_ptr<SSTableReader> table;
    ASSERT_OK(SSTableReader::Open(&env, "/t/bad.sst", &table));
    ASSERT_OK(table->VerifyBlocks());  // the CRC matches: only parsing can tell
    bool any_corruption = false;
    for (const auto& [k, e] : model) {
      bool found = false;
      EntryKind kind;
      std::string v;
      Status s = table->Get(k, &found, &kind, &v);
      if (!s.ok()) {
        EXPECT_STATUS(s, kCorruption);
        any_corruption = true;
      } else if (found) {
        EXPECT_EQ(v, e.value);
      }
      SSTableReader::Iterator it(table.get());
      it.Seek(k);
      if (!it.status().ok()) EXPECT_STATUS(it.status(), kCorruption);
    }
    EXPECT_TRUE(any_corruption);
  }
}

}  // namespace
}  // namespace tidekv::lsm
