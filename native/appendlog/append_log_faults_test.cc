// The append log under disk faults (suite AppendLogFaults): writes, seals,
// merges and checkpoints meeting ENOSPC, failed syncs, opens and renames
// (FaultEnv over MemEnv). Whatever fails must fail with an error and leave
// the store consistent: the calls that returned OK are what it holds, and a
// reopen yields exactly the last checkpoint that completed.
#include <map>
#include <string>

#include "appendlog/append_log.h"
#include "appendlog/append_log_testing.h"
#include "common/engine_testing.h"
#include "common/env_fault.h"
#include "common/env_mem.h"
#include "common/testing.h"

namespace tidekv::appendlog {
namespace {

using testing::Checkpoint;
using testing::StatValue;
const char* const kDir = "/db";

AppendLogOptions FaultOptions(Env* env) {
  AppendLogOptions o = TinyAppendLogOptions(env);
  o.merge_dead_ratio = 0.3;
  o.background_merge = false;  // merges run through Compact, where the test can see them fail
  o.retain_checkpoints = 2;
  return o;
}

FaultPlan RandomPlan(uint64_t* rng) {
  FaultPlan p;
  switch (testing::SplitMix(rng) % 5) {
    case 0:
      p.fail_writes_after_bytes = testing::SplitMix(rng) % 20000;
      break;
    case 1:
      p.fail_sync = true;
      break;
    case 2:
      p.fail_open = true;
      p.path_filter = testing::SplitMix(rng) % 2 ? "seg-" : "hint-";
      break;
    case 3:
      p.fail_rename = true;
      break;
    default:
      p.fail_writes_after_bytes = testing::SplitMix(rng) % 200000;
      p.path_filter = "seg-";
      break;
  }
  return p;
}

#define FAIL_AT_LINE(msg) ::tidekv::testing::ReportFailure(__FILE__, __LINE__, (msg))

TEST(AppendLogFaults, RandomDiskFaultsKeepTheStoreConsistent) {
  uint64_t rng = testing::TestSeed() * 31 + 7;
  uint64_t fired = 0, failed_calls = 0;
  for (int round = 0; round < 30; ++round) {
    MemEnv mem;
    FaultEnv env(&mem);
    const AppendLogOptions o = FaultOptions(&env);
    std::unique_ptr<Engine> e;
    ASSERT_OK(AppendLog::Open(o, kDir, &e));
    Model live, last;
    for (int step = 0; step < 1500; ++step) {
      if (step % 300 == 150) env.Arm(RandomPlan(&rng));
      if (step % 300 == 250) env.Disarm();
      const uint64_t r = testing::SplitMix(&rng) % 100;
      const std::string k = "k" + std::to_string(testing::SplitMix(&rng) % 400);
      Status s;
      if (r < 60) {
        const std::string v(testing::SplitMix(&rng) % (r < 3 ? 70000 : 300), static_cast<char>('a' + step % 26));
        s = e->Put(k, v);
        if (s.ok()) live[k] = v;
      } else if (r < 80) {
        bool existed = false;
        s = e->Delete(k, &existed);
        if (s.ok()) {
          if (existed != (live.count(k) == 1)) FAIL_AT_LINE("delete saw the wrong state of " + k);
          live.erase(k);
        }
      } else if (r < 90) {
        s = e->Merge(k, MergeOp::kAppend, "+", nullptr);
        if (s.ok()) live[k] += "+";
      } else if (r < 95) {
        CheckpointInfo info;
        s = Checkpoint(e.get(), &info);
        if (s.ok()) last = live;
      } else {
        CompactionResult result;
        s = e->Compact(&result);
      }
      if (!s.ok()) {
        ++failed_calls;
        // Only the disk's errors, as the error codes a caller can act on.
        if (s.code() != StatusCode::kIoError) FAIL_AT_LINE("unexpected error: " + s.ToString());
      }
    }
    env.Disarm();
    // What the calls that returned OK wrote is what the store holds.
    std::string why = DifferenceFromModel(e.get(), live);
    if (!why.empty()) FAIL_AT_LINE("round " + std::to_string(round) + " live: " + why);
    fired += env.faults_fired();
    ASSERT_OK(e->Close());
    e.reset();
    // A reopen (on the plain disk) yields the last completed checkpoint.
    std::unique_ptr<Engine> again;
    AppendLogOptions plain = o;
    plain.env = &mem;
    ASSERT_OK(AppendLog::Open(plain, kDir, &again));
    why = DifferenceFromModel(again.get(), last);
    if (!why.empty()) FAIL_AT_LINE("round " + std::to_string(round) + " reopened: " + why);
  }
  EXPECT_TRUE(fired > 30);
  EXPECT_TRUE(failed_calls > 30);
}

TEST(AppendLogFaults, AFailedMergeLosesNothingAndALaterOneSucceeds) {
  MemEnv mem;
  FaultEnv env(&mem);
  std::unique_ptr<Engine> e;
  ASSERT_OK(AppendLog::Open(FaultOptions(&env), kDir, &e));
  Model m;
  for (int round = 0; round < 10; ++round) {
    for (int i = 0; i < 200; ++i) {
      const std::string k = "key" + std::to_string(i), v(300, static_cast<char>('a' + round));
      ASSERT_OK(e->Put(k, v));
      m[k] = v;
    }
  }
  // The merge's new segments run out of space part-way.
  FaultPlan plan;
  plan.path_filter = "seg-";
  plan.fail_writes_after_bytes = 30000;
  env.Arm(plan);
  CompactionResult result;
  EXPECT_STATUS(e->Compact(&result), kIoError);
  env.Disarm();
  EXPECT_EQ(DifferenceFromModel(e.get(), m), "");
  // A checkpoint now covers segments the failed merge left (their hints too).
  ASSERT_OK(Checkpoint(e.get()));
  ASSERT_OK(e->Compact(&result));
  EXPECT_TRUE(result.bytes_reclaimed > 0);
  EXPECT_EQ(DifferenceFromModel(e.get(), m), "");
  ASSERT_OK(e->Close());
  e.reset();
  AppendLogOptions plain = FaultOptions(&mem);
  ASSERT_OK(AppendLog::Open(plain, kDir, &e));
  EXPECT_EQ(DifferenceFromModel(e.get(), m), "");
}

}  // namespace
}  // namespace tidekv::appendlog
