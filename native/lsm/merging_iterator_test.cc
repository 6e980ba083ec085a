#include "lsm/merging_iterator.h"

#include <map>
#include <optional>
#include <random>
#include <string>

#include "common/env_mem.h"
#include "common/testing.h"

namespace tidekv::lsm {
namespace {

// A run's contents: key -> value, or nullopt for a tombstone.
using Run = std::map<std::string, std::optional<std::string>>;

std::unique_ptr<SSTableReader> BuildTable(MemEnv* env, const std::string& path, const Run& run) {
  SSTableBuilder builder;
  SSTableOptions options;
  options.block_bytes = 200;
  if (!builder.Open(env, path, 1, options).ok()) return nullptr;
  for (const auto& [k, v] : run) {
    if (!builder.Add(k, v ? EntryKind::kValue : EntryKind::kTombstone, v ? *v : "").ok()) return nullptr;
  }
  if (!builder.Finish(nullptr).ok()) return nullptr;
  std::unique_ptr<SSTableReader> table;
  if (!SSTableReader::Open(env, path, &table).ok()) return nullptr;
  return table;
}

Run RandomRun(std::mt19937_64& rng, int keys, int key_space) {
  Run run;
  for (int i = 0; i < keys; ++i) {
    const std::string k = "k" + std::to_string(rng() % key_space);
    if (rng() % 4 == 0) {
      run[k] = std::nullopt;
    } else {
      run[k] = std::string(rng() % 30, static_cast<char>('a' + rng() % 26));
    }
  }
  return run;
}

struct Tables {
  MemEnv env;
  std::vector<std::unique_ptr<SSTableReader>> tables;  // newest first
  MergingIterator Merge() {
    std::vector<std::unique_ptr<RunIterator>> its;
    for (auto& t : tables) its.push_back(NewTableRunIterator(t.get()));
    return MergingIterator(std::move(its));
  }
};

// The newest run's entry for each key, tombstones included.
Run Overlay(const std::vector<Run>& runs) {
  Run out;
  for (auto it = runs.rbegin(); it != runs.rend(); ++it) {
    for (const auto& [k, v] : *it) out[k] = v;
  }
  return out;
}

TEST(MergingIterator, TheNewestRunWinsForEveryKey) {
  std::mt19937_64 rng(testing::TestSeed() + 41);
  for (int round = 0; round < 20; ++round) {
    Tables t;
    ASSERT_OK(t.env.CreateDir("/t"));
    std::vector<Run> runs;
    const int n = 1 + static_cast<int>(rng() % 6);
    for (int i = 0; i < n; ++i) {
      runs.push_back(RandomRun(rng, static_cast<int>(rng() % 300), 400));
      t.tables.push_back(BuildTable(&t.env, "/t/" + std::to_string(i) + ".sst", runs.back()));
      ASSERT_TRUE(t.tables.back() != nullptr);
    }
    const Run want = Overlay(runs);
    MergingIterator it = t.Merge();
    auto w = want.begin();
    for (it.SeekToFirst(); it.Valid(); it.Next(), ++w) {
      ASSERT_TRUE(w != want.end());
      ASSERT_EQ(std::string(it.key()), w->first);
      EXPECT_EQ(it.kind() == EntryKind::kTombstone, !w->second.has_value());
      if (w->second) EXPECT_EQ(std::string(it.value()), *w->second);
    }
    ASSERT_OK(it.status());
    EXPECT_TRUE(w == want.end());
    // Seek to random targets.
    for (int i = 0; i < 50; ++i) {
      const std::string target = "k" + std::to_string(rng() % 450);
      it.Seek(target);
      auto lb = want.lower_bound(target);
      EXPECT_EQ(it.Valid(), lb != want.end());
      if (it.Valid() && lb != want.end()) EXPECT_EQ(std::string(it.key()), lb->first);
    }
  }
}

// Tombstones go only at the bottom. Dropping one while an older run below
// the compaction still holds the key would bring the old value back (the
// seed's LSM did exactly that).
TEST(Compaction, TombstonesAreDroppedOnlyAtTheBottom) {
  Tables t;
  ASSERT_OK(t.env.CreateDir("/t"));
  const Run newer = {{"a", std::nullopt}, {"b", std::string("new b")}};
  const Run middle = {{"a", std::string("mid a")}, {"c", std::nullopt}};
  const Run oldest = {{"a", std::string("old a")}, {"c", std::string("old c")}};
  t.tables.push_back(BuildTable(&t.env, "/t/n.sst", newer));
  t.tables.push_back(BuildTable(&t.env, "/t/m.sst", middle));
  auto bottom = BuildTable(&t.env, "/t/o.sst", oldest);
  ASSERT_TRUE(t.tables[0] && t.tables[1] && bottom);

  // Compact the two newer runs into one, with the oldest left below them.
  for (bool bottommost : {false, true}) {
    MergingIterator input = t.Merge();
    input.SeekToFirst();
    Run out;
    ASSERT_OK(CompactRuns(&input, CompactionRules{bottommost}, [&](Slice k, EntryKind kind, Slice v) {
      out[std::string(k)] = kind == EntryKind::kTombstone ? std::nullopt : std::optional<std::string>(std::string(v));
      return Status::OK();
    }));
    if (!bottommost) {
      // Kept: reading the output over the oldest run still sees a and c deleted.
      EXPECT_TRUE(out.count("a") == 1 && !out["a"].has_value());
      EXPECT_TRUE(out.count("c") == 1 && !out["c"].has_value());
      Tables read;
      ASSERT_OK(read.env.CreateDir("/t"));
      read.tables.push_back(BuildTable(&read.env, "/t/out.sst", out));
      read.tables.push_back(BuildTable(&read.env, "/t/o.sst", oldest));
      MergingIterator it = read.Merge();
      for (it.SeekToFirst(); it.Valid(); it.Next()) {
        if (it.key() == "a" || it.key() == "c") EXPECT_TRUE(it.kind() == EntryKind::kTombstone);
      }
    } else {
      // With nothing below, the tombstones go.
      EXPECT_EQ(out.count("a"), size_t{0});
      EXPECT_EQ(out.count("c"), size_t{0});
      EXPECT_EQ(out.size(), size_t{1});
    }
  }
}

TEST(MergingIterator, ADamagedRunStopsTheWalkWithCorruption) {
  Tables t;
  ASSERT_OK(t.env.CreateDir("/t"));
  Run big;
  for (int i = 0; i < 500; ++i) big["k" + std::to_string(1000 + i)] = std::string(40, 'x');
  t.tables.push_back(BuildTable(&t.env, "/t/a.sst", {{"k1000", std::string("v")}}));
  t.tables.push_back(BuildTable(&t.env, "/t/b.sst", big));
  ASSERT_TRUE(t.tables[0] && t.tables[1]);
  // Damage a data block of b in place (the reader maps the file: MemEnv hands
  // out a view of its bytes).
  std::string bytes;
  ASSERT_OK(t.env.ReadAll("/t/b.sst", &bytes));
  {
    std::unique_ptr<File> f;
    ASSERT_OK(t.env.OpenFile("/t/b.sst", OpenMode::kReadWrite, &f));
    ASSERT_OK(f->WriteAt(bytes.size() / 3, "\x55\x55"));
  }
  ASSERT_OK(SSTableReader::Open(&t.env, "/t/b.sst", &t.tables[1]));
  MergingIterator it = t.Merge();
  size_t n = 0;
  for (it.SeekToFirst(); it.Valid(); it.Next()) ++n;
  EXPECT_STATUS(it.status(), kCorruption);
  EXPECT_TRUE(n < big.size());
}

}  // namespace
}  // namespace tidekv::lsm
