// The LSM engine against a std::map model: random writes with flushes and
// compactions forced by tiny memtables, range scans both ways, checkpoints,
// restores and reopen, for both compaction styles.
#include <map>
#include <string>

#include "common/engine_testing.h"
#include "common/env_mem.h"
#include "common/testing.h"
#include "lsm/lsm_engine.h"
#include "lsm/lsm_testing.h"

namespace tidekv::lsm {
namespace {

using testing::Checkpoint;
using Model = std::map<std::string, std::string>;

std::unique_ptr<Engine> OpenOrDie(const LsmOptions& o) {
  std::unique_ptr<Engine> e;
  Status s = Lsm::Open(o, "/db", &e);
  if (!s.ok()) testing::ReportFailure(__FILE__, __LINE__, "open: " + s.ToString());
  return e;
}

std::vector<std::pair<std::string, std::string>> Scan(Engine* e, const RangeOptions& r) {
  std::unique_ptr<RangeCursor> c;
  std::vector<std::pair<std::string, std::string>> out;
  Status s = e->NewRangeCursor(r, &c);
  if (!s.ok()) {
    testing::ReportFailure(__FILE__, __LINE__, "range: " + s.ToString());
    return out;
  }
  bool done = false;
  while (!done) {
    s = c->Next(
        [&](Slice k, Slice v) {
          out.emplace_back(std::string(k), std::string(v));
          return out.size() % 7 != 0;  // stop now and then: resuming must continue where it stopped
        },
        &done);
    if (!s.ok()) {
      testing::ReportFailure(__FILE__, __LINE__, "range next: " + s.ToString());
      break;
    }
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> ModelScan(const Model& m, const RangeOptions& r) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [k, v] : m) {
    if (r.has_lower && (r.lower_inclusive ? k < r.lower : k <= r.lower)) continue;
    if (r.has_upper && (r.upper_inclusive ? k > r.upper : k >= r.upper)) continue;
    out.emplace_back(k, v);
  }
  if (r.reverse) std::reverse(out.begin(), out.end());
  if (out.size() > r.limit) out.resize(r.limit);
  return out;
}

void ExpectState(Engine* e, const Model& m, uint64_t* rng) {
  for (const auto& [k, v] : m) {
    std::string got;
    Status s = e->Get(k, &got);
    if (!s.ok() || got != v) {
      testing::ReportFailure(__FILE__, __LINE__, "key " + k + ": " + s.ToString());
      return;
    }
  }
  EngineStats stats;
  e->GetStats(&stats);
  EXPECT_EQ(stats.keys, m.size());
  for (int i = 0; i < 6; ++i) {
    RangeOptions r;
    auto key = [&] { return "k" + std::to_string(testing::SplitMix(rng) % 2000); };
    if (testing::SplitMix(rng) % 3 != 0) {
      r.has_lower = true;
      r.lower = key();
      r.lower_inclusive = testing::SplitMix(rng) % 2;
    }
    if (testing::SplitMix(rng) % 3 != 0) {
      r.has_upper = true;
      r.upper = key();
      r.upper_inclusive = testing::SplitMix(rng) % 2;
    }
    r.reverse = testing::SplitMix(rng) % 2;
    if (testing::SplitMix(rng) % 2) r.limit = testing::SplitMix(rng) % 50;
    const auto got = Scan(e, r);
    const auto want = ModelScan(m, r);
    if (got != want) {
      testing::ReportFailure(__FILE__, __LINE__,
                             "range [" + r.lower + ", " + r.upper + "] reverse " + std::to_string(r.reverse) +
                                 ": got " + std::to_string(got.size()) + " entries, want " +
                                 std::to_string(want.size()));
      return;
    }
  }
}

void Count(Engine* e, uint64_t* flushes, uint64_t* compactions) {
  *flushes += testing::StatValue(e, "flushes");
  *compactions += testing::StatValue(e, "compactions");
}

void RandomOps(LsmCompactionStyle style, uint64_t seed) {
  MemEnv env;
  LsmOptions o = TinyLsmOptions(&env, style);
  auto e = OpenOrDie(o);
  Model model;
  std::map<uint64_t, Model> checkpoints;
  uint64_t flushes = 0, compactions = 0;
  uint64_t rng = seed;
  for (int step = 0; step < 30000; ++step) {
    const uint64_t r = testing::SplitMix(&rng) % 1000;
    const std::string key = "k" + std::to_string(testing::SplitMix(&rng) % 2000);
    if (r < 600) {
      const std::string value(testing::SplitMix(&rng) % 400, static_cast<char>('a' + step % 26));
      ASSERT_OK(e->Put(key, value));
      model[key] = value;
    } else if (r < 800) {
      bool existed = false;
      ASSERT_OK(e->Delete(key, &existed));
      EXPECT_EQ(existed, model.erase(key) == 1);
    } else if (r < 900) {
      int64_t result = 0;
      char delta[8];
      StoreFixed64(delta, 3);
      Status s = e->Merge("c" + key, MergeOp::kAddInt64, Slice(delta, 8), &result);
      ASSERT_OK(s);
      std::string& v = model["c" + key];
      const int64_t before = v.empty() ? 0 : static_cast<int64_t>(LoadFixed64(v.data()));
      EXPECT_EQ(result, before + 3);
      v.resize(8);
      StoreFixed64(v.data(), static_cast<uint64_t>(result));
    } else if (r < 990) {
      ASSERT_OK(e->Merge(key, MergeOp::kAppend, "xy", nullptr));
      model[key] += "xy";
    } else if (r < 994) {
      CheckpointInfo info;
      ASSERT_OK(Checkpoint(e.get(), &info));
      checkpoints[info.version] = model;
      while (checkpoints.size() > o.retain_checkpoints) checkpoints.erase(checkpoints.begin());
    } else if (r < 996 && !checkpoints.empty()) {
      auto it = checkpoints.begin();
      std::advance(it, testing::SplitMix(&rng) % checkpoints.size());
      ASSERT_OK(e->Restore(it->first));
      model = it->second;
      checkpoints.erase(std::next(it), checkpoints.end());
    } else if (r < 998) {
      // Reopen: the state is the last checkpoint.
      Count(e.get(), &flushes, &compactions);
      ASSERT_OK(e->Close());
      e = OpenOrDie(o);
      model = checkpoints.empty() ? Model{} : checkpoints.rbegin()->second;
    } else {
      ASSERT_OK(e->Verify());
      ExpectState(e.get(), model, &rng);
    }
  }
  ExpectState(e.get(), model, &rng);
  CompactionResult result;
  ASSERT_OK(e->Compact(&result));
  ExpectState(e.get(), model, &rng);
  ASSERT_OK(e->Verify());
  Count(e.get(), &flushes, &compactions);
  EXPECT_TRUE(flushes > 10);
  EXPECT_TRUE(compactions > 2);
  std::printf("    %s: %llu flushes, %llu compactions\n", style == LsmCompactionStyle::kLeveled ? "leveled" : "tiered",
              static_cast<unsigned long long>(flushes), static_cast<unsigned long long>(compactions));
  ASSERT_OK(e->Close());
}

TEST(LsmEngine, RandomOpsLeveled) { RandomOps(LsmCompactionStyle::kLeveled, testing::TestSeed()); }
TEST(LsmEngine, RandomOpsSizeTiered) { RandomOps(LsmCompactionStyle::kSizeTiered, testing::TestSeed() + 1); }

}  // namespace
}  // namespace tidekv::lsm
