#include <atomic>
#include <chrono>
#include <map>
#include <random>
#include <string>
#include <thread>

#include "common/checkpoint_format.h"
#include "common/engine_testing.h"
#include "common/env_fault.h"
#include "common/env_mem.h"
#include "common/testing.h"
#include "hybridlog/hybrid_log.h"
#include "hybridlog/hybrid_log_impl.h"

namespace tidekv::hlog {
namespace {

constexpr uint32_t kPage = 64 * 1024;
using testing::Checkpoint;
using Model = std::map<std::string, std::string>;

HybridLogOptions Small(Env* env, uint64_t budget_pages = 16) {
  HybridLogOptions o;
  o.env = env;
  o.page_bytes = kPage;
  o.segment_bytes = 4 * kPage;
  o.memory_budget_bytes = budget_pages * kPage;
  o.index_buckets = 16;
  o.retain_checkpoints = 3;
  return o;
}

std::unique_ptr<Engine> OpenOrDie(const HybridLogOptions& o, Status* status = nullptr) {
  std::unique_ptr<Engine> e;
  Status s = HybridLog::Open(o, "/db", &e);
  if (status != nullptr) *status = s;
  if (!s.ok() && status == nullptr) testing::ReportFailure(__FILE__, __LINE__, "open: " + s.ToString());
  return e;
}

// The failure a checkpoint meets: 0 a write failing after `torn_after` bytes
// (ENOSPC, a torn write), 1 EIO on fsync, 2 the manifest's rename failing.
FaultPlan CheckpointFault(int fault, uint64_t torn_after) {
  FaultPlan plan;
  if (fault == 0) plan.fail_writes_after_bytes = torn_after;
  if (fault == 1) plan.fail_sync = true;
  if (fault == 2) plan.fail_rename = true;
  return plan;
}

// Every key of the model reads back, and no other key of the key space.
void ExpectState(Engine* e, const Model& model, int key_space, const char* where) {
  std::string v;
  for (int i = 0; i < key_space; ++i) {
    const std::string k = "k" + std::to_string(i);
    Status s = e->Get(k, &v);
    auto it = model.find(k);
    if (it == model.end()) {
      if (!s.IsNotFound()) testing::ReportFailure(__FILE__, __LINE__, std::string(where) + ": " + k + " should be absent");
    } else if (!s.ok() || v != it->second) {
      testing::ReportFailure(__FILE__, __LINE__, std::string(where) + ": " + k + " wrong (" + s.ToString() + ")");
      return;
    }
  }
  EngineStats stats;
  e->GetStats(&stats);
  if (stats.keys != model.size()) testing::ReportFailure(__FILE__, __LINE__, std::string(where) + ": key count");
  Status vs = e->Verify();
  if (!vs.ok()) testing::ReportFailure(__FILE__, __LINE__, std::string(where) + ": verify " + vs.ToString());
}

// A random mutation of both engine and model.
void Mutate(Engine* e, Model* model, std::mt19937_64& rng, int key_space) {
  const std::string k = "k" + std::to_string(rng() % key_space);
  const int op = static_cast<int>(rng() % 10);
  if (op < 6) {
    std::string v(rng() % 200, static_cast<char>('a' + rng() % 26));
    if (e->Put(k, v).ok()) (*model)[k] = v;
  } else if (op < 8) {
    bool existed = false;
    if (e->Delete(k, &existed).ok()) model->erase(k);
  } else {
    std::string piece(1 + rng() % 20, 'p');
    if (e->Merge(k, MergeOp::kAppend, piece, nullptr).ok()) (*model)[k] += piece;
  }
}

TEST(Checkpoint, ReopenYieldsExactlyTheLastCheckpoint) {
  MemEnv env;
  Model at_checkpoint;
  {
    auto db = OpenOrDie(Small(&env));
    ASSERT_TRUE(db != nullptr);
    Model model;
    std::mt19937_64 rng(testing::TestSeed());
    for (int i = 0; i < 3000; ++i) Mutate(db.get(), &model, rng, 500);
    CheckpointInfo info;
    ASSERT_OK(Checkpoint(db.get(), &info, "offset=3000"));
    EXPECT_EQ(info.version, uint64_t{1});
    EXPECT_EQ(info.meta, std::string("offset=3000"));
    EXPECT_TRUE(info.bytes_written > 0 && info.total_bytes >= info.bytes_written);
    at_checkpoint = model;
    for (int i = 0; i < 2000; ++i) Mutate(db.get(), &model, rng, 500);  // lost by design
    EXPECT_EQ(db->LastCheckpointVersion(), uint64_t{1});
  }
  auto db = OpenOrDie(Small(&env));
  ASSERT_TRUE(db != nullptr);
  ExpectState(db.get(), at_checkpoint, 500, "after reopen");
  std::vector<CheckpointInfo> list;
  db->ListCheckpoints(&list);
  ASSERT_EQ(list.size(), size_t{1});
  EXPECT_EQ(list[0].meta, std::string("offset=3000"));
  // Writing and checkpointing continue from there.
  Model model = at_checkpoint;
  std::mt19937_64 rng(testing::TestSeed() + 1);
  for (int i = 0; i < 1000; ++i) Mutate(db.get(), &model, rng, 500);
  CheckpointInfo info;
  ASSERT_OK(Checkpoint(db.get(), &info));
  EXPECT_EQ(info.version, uint64_t{2});
  db.reset();
  db = OpenOrDie(Small(&env));
  ExpectState(db.get(), model, 500, "after second reopen");
}

TEST(Checkpoint, InPlaceChangesAreIncremental) {
  MemEnv env;
  HybridLogOptions o = Small(&env, 256);  // 16 MiB: all in memory and mutable
  auto db = OpenOrDie(o);
  ASSERT_TRUE(db != nullptr);
  for (int i = 0; i < 50000; ++i) ASSERT_OK(db->Put("k" + std::to_string(i), std::string(100, 'v')));
  CheckpointInfo first, second;
  ASSERT_OK(Checkpoint(db.get(), &first));
  for (int i = 0; i < 50000; i += 100) ASSERT_OK(db->Put("k" + std::to_string(i), std::string(100, 'w')));  // 1%
  ASSERT_OK(Checkpoint(db.get(), &second));
  const uint64_t changed = 500 * RecordFrameBytes(6, 100);
  std::cout << "    full " << first.bytes_written << " B, 1% update " << second.bytes_written << " B (changed records "
            << changed << " B)\n";
  EXPECT_TRUE(second.bytes_written <= 2 * changed + 4096);
  EXPECT_TRUE(second.bytes_written * 20 < first.bytes_written);
  db.reset();
  db = OpenOrDie(o);
  std::string v;
  ASSERT_OK(db->Get("k100", &v));
  EXPECT_EQ(v, std::string(100, 'w'));
  ASSERT_OK(db->Get("k101", &v));
  EXPECT_EQ(v, std::string(100, 'v'));
}

// Restore(v1) and Close() while a cut is being written on a third thread.
// The LSM engine hung here (Close waited for the version counter to pass the
// cut, and the restore lowered it). The hybrid log does not: Close takes
// compaction_mu_, which Restore holds throughout, so Close reads the counter
// only after the restore. This keeps it that way.
TEST(Checkpoint, CloseDuringARestoreThatWaitsForACut) {
  for (int round = 0; round < 12; ++round) {
    // Leaked on a hang (a thread still uses them): the report is the failure.
    auto* env = new MemEnv();
    std::shared_ptr<Engine> db = OpenOrDie(Small(env));
    ASSERT_TRUE(db != nullptr);
    std::mt19937_64 rng(testing::TestSeed() + 40 + round);
    Model model;
    for (int i = 0; i < 500; ++i) Mutate(db.get(), &model, rng, 300);
    CheckpointInfo v1;
    ASSERT_OK(Checkpoint(db.get(), &v1));
    for (int i = 0; i < 300; ++i) Mutate(db.get(), &model, rng, 300);
    ASSERT_OK(Checkpoint(db.get()));
    for (int i = 0; i < 300; ++i) Mutate(db.get(), &model, rng, 300);
    std::shared_ptr<CheckpointTicket> ticket;
    ASSERT_OK(db->BeginCheckpoint(CheckpointRequest{}, &ticket));
    struct Done {
      std::atomic<int> count{0};
      Status restore, close, finish;
    };
    auto done = std::make_shared<Done>();
    const int jitter_us = static_cast<int>(rng() % 2000);
    std::thread restorer([db, done, v = v1.version] {
      done->restore = db->Restore(v);
      done->count.fetch_add(1);
    });
    std::thread closer([db, done] {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      done->close = db->Close();
      done->count.fetch_add(1);
    });
    std::thread finisher([db, done, ticket, jitter_us] {
      std::this_thread::sleep_for(std::chrono::milliseconds(6) + std::chrono::microseconds(jitter_us));
      CheckpointInfo info;
      done->finish = db->FinishCheckpoint(ticket, &info);
      done->count.fetch_add(1);
    });
    for (int waited = 0; waited < 3000 && done->count.load() < 3; ++waited) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    if (done->count.load() < 3) {
      testing::ReportFailure(__FILE__, __LINE__, "Restore and Close, waiting for the same cut, did not both return within 3 s");
      restorer.detach();
      closer.detach();
      finisher.detach();
      return;
    }
    restorer.join();
    closer.join();
    finisher.join();
    EXPECT_OK(done->finish);
    EXPECT_OK(done->close);
    if (!done->restore.ok()) EXPECT_EQ(done->restore.code(), StatusCode::kClosed);
    db.reset();
    delete env;
  }
}

TEST(Checkpoint, RestoreRollsBackAndDiscardsNewerVersions) {
  MemEnv env;
  auto db = OpenOrDie(Small(&env));
  ASSERT_TRUE(db != nullptr);
  std::mt19937_64 rng(testing::TestSeed() + 2);
  Model model;
  std::map<uint64_t, Model> versions;
  for (int round = 0; round < 5; ++round) {
    for (int i = 0; i < 800; ++i) Mutate(db.get(), &model, rng, 300);
    CheckpointInfo info;
    ASSERT_OK(Checkpoint(db.get(), &info));
    versions[info.version] = model;
  }
  std::vector<CheckpointInfo> list;
  db->ListCheckpoints(&list);
  ASSERT_EQ(list.size(), size_t{3});  // retain 3
  EXPECT_EQ(list.front().version, uint64_t{3});
  EXPECT_STATUS(db->Restore(1), kVersionNotFound);
  ASSERT_OK(db->Restore(4));
  ExpectState(db.get(), versions[4], 300, "restored to 4");
  db->ListCheckpoints(&list);
  ASSERT_EQ(list.back().version, uint64_t{4});
  // New checkpoints continue from 4.
  model = versions[4];
  for (int i = 0; i < 500; ++i) Mutate(db.get(), &model, rng, 300);
  CheckpointInfo info;
  ASSERT_OK(Checkpoint(db.get(), &info));
  EXPECT_EQ(info.version, uint64_t{5});
  ASSERT_OK(db->Restore(3));
  ExpectState(db.get(), versions[3], 300, "restored to 3");
  db.reset();
  db = OpenOrDie(Small(&env));
  ExpectState(db.get(), versions[3], 300, "reopened after restore");
  EXPECT_EQ(db->LastCheckpointVersion(), uint64_t{3});
}

TEST(Checkpoint, RetentionDeletesFilesNoCheckpointNeeds) {
  MemEnv env;
  HybridLogOptions o = Small(&env);
  o.retain_checkpoints = 2;
  auto db = OpenOrDie(o);
  ASSERT_TRUE(db != nullptr);
  Model model;
  std::mt19937_64 rng(testing::TestSeed() + 3);
  for (int round = 0; round < 8; ++round) {
    for (int i = 0; i < 2000; ++i) Mutate(db.get(), &model, rng, 400);
    ASSERT_OK(Checkpoint(db.get()));
    CompactionResult r;
    if (round % 3 == 2) ASSERT_OK(db->Compact(&r));
  }
  std::vector<std::string> names;
  ASSERT_OK(env.ListDir("/db", &names));
  std::set<std::string> needed;
  std::vector<CheckpointInfo> list;
  db->ListCheckpoints(&list);
  ASSERT_EQ(list.size(), size_t{2});
  for (const CheckpointInfo& i : list) {
    CheckpointManifest m;
    ASSERT_OK(ReadManifest(&env, "/db", i.version, &m));
    needed.insert(m.files.begin(), m.files.end());
    needed.insert(ManifestFileName(i.version));
  }
  for (const std::string& n : names) {
    uint64_t v = 0;
    if (ParseManifestFileName(n, &v) || ParseCheckpointDataFileName(n, "snap", &v) ||
        ParseCheckpointDataFileName(n, "index", &v)) {
      EXPECT_TRUE(needed.count(n) == 1);  // no orphaned checkpoint file
    }
  }
  db.reset();
  db = OpenOrDie(o);
  ExpectState(db.get(), model, 400, "reopened after retention");
}

// Every checkpoint file in /db is named by a retained manifest.
void ExpectNoOrphans(MemEnv* env, Engine* db, const char* where) {
  std::set<std::string> needed;
  std::vector<CheckpointInfo> list;
  db->ListCheckpoints(&list);
  for (const CheckpointInfo& i : list) {
    CheckpointManifest m;
    if (!ReadManifest(env, "/db", i.version, &m).ok()) testing::ReportFailure(__FILE__, __LINE__, where);
    needed.insert(m.files.begin(), m.files.end());
    needed.insert(ManifestFileName(i.version));
  }
  std::vector<std::string> names;
  (void)env->ListDir("/db", &names);
  for (const std::string& n : names) {
    uint64_t v = 0;
    const bool checkpoint_file = ParseManifestFileName(n, &v) || ParseCheckpointDataFileName(n, "snap", &v) ||
                                 ParseCheckpointDataFileName(n, "index", &v);
    const bool temp = n.size() > 4 && n.compare(n.size() - 4, 4, ".tmp") == 0;
    if ((checkpoint_file && needed.count(n) == 0) || temp) {
      testing::ReportFailure(__FILE__, __LINE__, std::string(where) + ": orphan " + n);
    }
  }
}

void PlantFile(MemEnv* env, const std::string& name) {
  std::unique_ptr<File> f;
  if (!env->OpenFile("/db/" + name, OpenMode::kCreateTruncate, &f).ok() || !f->WriteAt(0, Slice("junk", 4)).ok()) {
    testing::ReportFailure(__FILE__, __LINE__, "plant " + name);
  }
}

TEST(Checkpoint, RestoreAndOpenLeaveNoOrphans) {
  MemEnv env;
  auto db = OpenOrDie(Small(&env));
  ASSERT_TRUE(db != nullptr);
  std::mt19937_64 rng(testing::TestSeed() + 11);
  Model model;
  std::map<uint64_t, Model> versions;
  for (int round = 0; round < 3; ++round) {
    // New keys each round, so every checkpoint writes index chunks as well as a snapshot.
    for (int i = 0; i < 600; ++i) Mutate(db.get(), &model, rng, 200 + 200 * round);
    CheckpointInfo info;
    ASSERT_OK(Checkpoint(db.get(), &info));
    versions[info.version] = model;
  }
  // The files of versions 2 and 3 go with their manifests.
  ASSERT_OK(db->Restore(1));
  ExpectNoOrphans(&env, db.get(), "after restore(1)");
  db.reset();
  // A crash can leave files of a checkpoint whose manifest never landed, of any version.
  PlantFile(&env, CheckpointDataFileName("snap", 7));
  PlantFile(&env, CheckpointDataFileName("index", 2));
  PlantFile(&env, ManifestFileName(9) + ".tmp");
  db = OpenOrDie(Small(&env));
  ExpectNoOrphans(&env, db.get(), "after reopening");
  ExpectState(db.get(), versions[1], 600, "reopened");
}

TEST(Checkpoint, LargerThanMemoryRoundTrip) {
  MemEnv env;
  HybridLogOptions o = Small(&env, 4);  // 256 KiB of memory
  Model model;
  {
    auto db = OpenOrDie(o);
    ASSERT_TRUE(db != nullptr);
    std::mt19937_64 rng(testing::TestSeed() + 4);
    for (int i = 0; i < 20000; ++i) {
      const std::string k = "k" + std::to_string(rng() % 3000), v(100 + rng() % 100, 'x');
      ASSERT_OK(db->Put(k, v));
      model[k] = v;
      if (i % 5000 == 4999) ASSERT_OK(Checkpoint(db.get()));
    }
  }
  auto db = OpenOrDie(o);
  ASSERT_TRUE(db != nullptr);
  ExpectState(db.get(), model, 3000, "larger than memory");
  EngineStats stats;
  db->GetStats(&stats);
  EXPECT_TRUE(stats.disk_bytes > 4 * o.memory_budget_bytes);
}

// A second cut while the first is still to be written: both complete, in
// order, each with exactly the state at its own cut.
TEST(Checkpoint, CutsQueueAndEachHoldsItsOwnState) {
  MemEnv env;
  auto db = OpenOrDie(Small(&env));
  ASSERT_TRUE(db != nullptr);
  Model model;
  std::mt19937_64 rng(testing::TestSeed() + 5);
  for (int i = 0; i < 1000; ++i) Mutate(db.get(), &model, rng, 200);
  std::shared_ptr<CheckpointTicket> t1, t2;
  ASSERT_OK(db->BeginCheckpoint({}, &t1));
  const Model m1 = model;
  for (int i = 0; i < 1000; ++i) Mutate(db.get(), &model, rng, 200);  // updates of frozen records go to the tail
  ASSERT_OK(db->BeginCheckpoint({}, &t2));
  const Model m2 = model;
  for (int i = 0; i < 500; ++i) Mutate(db.get(), &model, rng, 200);
  CheckpointInfo i1, i2;
  Status s2;
  std::thread second([&] { s2 = db->FinishCheckpoint(t2, &i2); });  // waits for the first
  ASSERT_OK(db->FinishCheckpoint(t1, &i1));
  second.join();
  ASSERT_OK(s2);
  EXPECT_EQ(i1.version, uint64_t{1});
  EXPECT_EQ(i2.version, uint64_t{2});
  ExpectState(db.get(), model, 200, "live");
  ASSERT_OK(db->Restore(1));
  ExpectState(db.get(), m1, 200, "cut 1");
  CheckpointInfo i3;
  ASSERT_OK(Checkpoint(db.get(), &i3));
  db.reset();
  db = OpenOrDie(Small(&env));
  ExpectState(db.get(), m1, 200, "reopened");
  (void)m2;
}

TEST(Checkpoint, FoldOverModeRoundTrip) {
  MemEnv env;
  HybridLogOptions o = Small(&env);
  o.fold_over = true;
  Model model;
  {
    auto db = OpenOrDie(o);
    ASSERT_TRUE(db != nullptr);
    std::mt19937_64 rng(testing::TestSeed() + 6);
    for (int round = 0; round < 4; ++round) {
      for (int i = 0; i < 1500; ++i) Mutate(db.get(), &model, rng, 300);
      ASSERT_OK(Checkpoint(db.get()));
    }
    for (int i = 0; i < 500; ++i) {
      Model scratch = model;
      Mutate(db.get(), &scratch, rng, 300);  // lost
    }
  }
  auto db = OpenOrDie(o);
  ASSERT_TRUE(db != nullptr);
  ExpectState(db.get(), model, 300, "fold-over reopen");
}

// A crash at any file write: the checkpoint being written fails (torn write
// then ENOSPC), the machine "reboots" (MemEnv keeps synced bytes and a random
// part of the rest), and reopening yields exactly the last completed one.
TEST(Checkpoint, CrashAtAnyWriteRecoversTheLastCompletedCheckpoint) {
  const int kRuns = 40;
  for (int run = 0; run < kRuns; ++run) {
    MemEnv mem;
    FaultEnv env(&mem);
    std::mt19937_64 rng(testing::TestSeed() * 100 + run);
    std::map<uint64_t, Model> versions;
    Model model;
    uint64_t last_completed = 0;
    {
      auto db = OpenOrDie(Small(&env, 8));
      ASSERT_TRUE(db != nullptr);
      const int crash_round = static_cast<int>(rng() % 5);
      for (int round = 0; round < 5; ++round) {
        for (int i = 0; i < 600; ++i) Mutate(db.get(), &model, rng, 250);
        if (round == crash_round) {
          FaultPlan plan;
          plan.fail_writes_after_bytes = rng() % 200000;
          env.Arm(plan);
        }
        CheckpointInfo info;
        Status s = Checkpoint(db.get(), &info);
        if (s.ok()) {
          versions[info.version] = model;
          last_completed = info.version;
        }
        if (round == crash_round) break;
      }
      mem.SimulateCrash(rng());
      env.Disarm();
    }
    Status s;
    auto db = OpenOrDie(Small(&env, 8), &s);
    if (last_completed == 0) {
      ASSERT_TRUE(db != nullptr);
      ExpectState(db.get(), Model(), 250, "crash before any checkpoint");
      continue;
    }
    ASSERT_OK(s);
    ASSERT_EQ(db->LastCheckpointVersion(), last_completed);
    ExpectState(db.get(), versions[last_completed], 250, "after crash");
  }
}

TEST(Checkpoint, FailedCheckpointLeavesThePreviousIntactAndTheStoreUsable) {
  for (int fault = 0; fault < 3; ++fault) {
    MemEnv mem;
    FaultEnv env(&mem);
    auto db = OpenOrDie(Small(&env, 8));
    ASSERT_TRUE(db != nullptr);
    Model model;
    std::mt19937_64 rng(testing::TestSeed() + 7 + fault);
    for (int i = 0; i < 2000; ++i) Mutate(db.get(), &model, rng, 300);
    ASSERT_OK(Checkpoint(db.get()));
    const Model first = model;
    for (int i = 0; i < 2000; ++i) Mutate(db.get(), &model, rng, 300);
    env.Arm(CheckpointFault(fault, 1000));
    EXPECT_STATUS(Checkpoint(db.get()), kIoError);
    env.Disarm();
    EXPECT_EQ(db->LastCheckpointVersion(), uint64_t{1});
    for (int i = 0; i < 500; ++i) Mutate(db.get(), &model, rng, 300);  // still usable
    CheckpointInfo info;
    ASSERT_OK(Checkpoint(db.get(), &info));  // writes everything: the failed one's changes too
    EXPECT_EQ(info.version, uint64_t{3});
    ExpectState(db.get(), model, 300, "live after a failed checkpoint");
    ASSERT_OK(db->Restore(3));
    ExpectState(db.get(), model, 300, "the third checkpoint");
    ASSERT_OK(db->Restore(1));
    ExpectState(db.get(), first, 300, "the first checkpoint");
  }
}

// The very first checkpoint failing leaves no base behind: the next one must
// still produce a complete index (the failed cut's images go with it).
TEST(Checkpoint, AFailedFirstCheckpointIsFollowedByACompleteOne) {
  for (int fault = 0; fault < 3; ++fault) {
    MemEnv mem;
    FaultEnv env(&mem);
    auto db = OpenOrDie(Small(&env, 8));
    ASSERT_TRUE(db != nullptr);
    Model model;
    std::mt19937_64 rng(testing::TestSeed() + 17 + fault);
    for (int i = 0; i < 3000; ++i) Mutate(db.get(), &model, rng, 500);
    env.Arm(CheckpointFault(fault, 5000));
    EXPECT_STATUS(Checkpoint(db.get()), kIoError);
    env.Disarm();
    EXPECT_EQ(db->LastCheckpointVersion(), uint64_t{0});
    for (int i = 0; i < 200; ++i) Mutate(db.get(), &model, rng, 500);
    ASSERT_OK(Checkpoint(db.get()));
    db.reset();
    db = OpenOrDie(Small(&env, 8));
    ASSERT_TRUE(db != nullptr);
    ExpectState(db.get(), model, 500, "reopened after a failed first checkpoint");
  }
}

// Random mixes of writes, compaction, queued cuts with injected write and
// rename failures on each kind of checkpoint file, restores and reopens, with
// a tiny index that grows often: every restore and reopen must give exactly
// the model of its version. (Written by a reviewer to attack the index chain
// and the carrying of a failed checkpoint's images.)
TEST(Checkpoint, RandomFailuresRestoresAndReopensKeepEveryVersionExact) {
  for (int run = 0; run < 30; ++run) {
    MemEnv mem;
    FaultEnv env(&mem);
    std::mt19937_64 rng(testing::TestSeed() + 1000 + run);
    const int key_space = 50 + static_cast<int>(rng() % 3000);
    HybridLogOptions o = Small(&env, 12);
    o.index_buckets = 2;
    o.retain_checkpoints = 1 + static_cast<uint32_t>(rng() % 3);
    auto db = OpenOrDie(o);
    ASSERT_TRUE(db != nullptr);
    Model model;
    std::map<uint64_t, Model> versions;
    uint64_t last = 0;
    for (int step = 0; step < 40; ++step) {
      const int writes = rng() % 3 == 0 ? 20 : 1 + static_cast<int>(rng() % 2000);
      for (int i = 0; i < writes; ++i) Mutate(db.get(), &model, rng, key_space);
      if (rng() % 5 == 0) {
        CompactionResult r;
        ASSERT_OK(db->Compact(&r));
      }
      const int action = static_cast<int>(rng() % 10);
      if (action < 6) {
        // 1-3 cuts, writes between them, then each written (or failed).
        std::vector<std::pair<std::shared_ptr<CheckpointTicket>, Model>> cuts;
        for (int c = 0, n = 1 + static_cast<int>(rng() % 3); c < n; ++c) {
          std::shared_ptr<CheckpointTicket> ticket;
          ASSERT_OK(db->BeginCheckpoint(CheckpointRequest(), &ticket));
          cuts.emplace_back(ticket, model);
          for (int i = 0, m = static_cast<int>(rng() % 300); i < m; ++i) Mutate(db.get(), &model, rng, key_space);
        }
        for (auto& [ticket, state] : cuts) {
          if (rng() % 3 == 0) {
            FaultPlan plan;
            const char* targets[] = {"index-", "snap-", "checkpoint-"};
            plan.path_filter = targets[rng() % 3];
            if (rng() % 2 == 0) {
              plan.fail_writes_after_bytes = rng() % 5000;
            } else {
              plan.fail_rename = true;
            }
            env.Arm(plan);
          }
          CheckpointInfo info;
          Status s = db->FinishCheckpoint(ticket, &info);
          env.Disarm();
          if (s.ok()) {
            versions[info.version] = state;
            last = info.version;
          }
        }
      } else if (action < 8 && last != 0) {
        std::vector<CheckpointInfo> list;
        db->ListCheckpoints(&list);
        const uint64_t v = list[rng() % list.size()].version;
        ASSERT_OK(db->Restore(v));
        model = versions[v];
        last = v;
        ExpectState(db.get(), model, key_space, "after a restore");
      } else if (last != 0) {
        db.reset();
        db = OpenOrDie(o);
        ASSERT_TRUE(db != nullptr);
        model = versions[last];
        ExpectState(db.get(), model, key_space, "after a reopen");
      }
    }
  }
}

TEST(Checkpoint, StateOfAnotherFormatIsRefused) {
  CheckpointState state;
  state.page_bytes = kPage;
  state.segment_bytes = 4 * kPage;
  state.bucket_bits = 4;
  state.index_chain = {IndexRef{1, 100}};
  std::string encoded = EncodeCheckpointState(state);
  CheckpointState decoded;
  ASSERT_OK(DecodeCheckpointState(encoded, "m", &decoded));
  EXPECT_EQ(decoded.index_chain.size(), size_t{1});
  encoded[0] = 1;  // the unreleased format with a chunk map
  Status s = DecodeCheckpointState(encoded, "m", &decoded);
  EXPECT_STATUS(s, kCorruption);
  EXPECT_TRUE(s.message().find("format 1") != std::string::npos);
}

// A flipped bit in any file of the newest checkpoint makes open fail with
// Corruption naming the file; recover_latest_valid falls back to the previous.
TEST(Checkpoint, CorruptFilesAreReportedOrSkipped) {
  for (int target = 0; target < 4; ++target) {
    MemEnv env;
    Model older, newer;
    {
      auto db = OpenOrDie(Small(&env, 4));
      ASSERT_TRUE(db != nullptr);
      std::mt19937_64 rng(testing::TestSeed() + 20 + target);
      for (int i = 0; i < 4000; ++i) Mutate(db.get(), &older, rng, 400);
      ASSERT_OK(Checkpoint(db.get()));
      newer = older;
      for (int i = 0; i < 4000; ++i) Mutate(db.get(), &newer, rng, 400);
      ASSERT_OK(Checkpoint(db.get()));
    }
    std::string name;
    if (target == 0) name = ManifestFileName(2);
    if (target == 1) name = CheckpointDataFileName("snap", 2);
    if (target == 2) name = CheckpointDataFileName("index", 2);
    if (target == 3) name = SegmentFileName(0);
    std::string contents;
    ASSERT_OK(env.ReadAll("/db/" + name, &contents));
    const uint64_t offset = target == 3 ? 20 : contents.size() / 2;  // the segment's header
    ASSERT_OK(env.FlipBit("/db/" + name, offset, 1));
    Status s;
    auto db = OpenOrDie(Small(&env, 4), &s);
    EXPECT_EQ(s.code(), StatusCode::kCorruption);
    EXPECT_TRUE(s.message().find(name) != std::string_view::npos);
    if (target == 3) continue;  // both checkpoints need segment 0
    HybridLogOptions o = Small(&env, 4);
    o.recover_latest_valid = true;
    db = OpenOrDie(o, &s);
    ASSERT_OK(s);
    EXPECT_EQ(db->LastCheckpointVersion(), uint64_t{1});
    ExpectState(db.get(), older, 400, "fell back to the older checkpoint");
  }
}

// A checkpoint whose in-memory region is larger than the budget it is
// reopened with: the pages that do not fit are written to segments during
// recovery, and everything reads back.
TEST(Checkpoint, ReopenWithASmallerMemoryBudget) {
  MemEnv env;
  Model model;
  {
    auto db = OpenOrDie(Small(&env, 64));  // 4 MiB: the whole log stays in memory
    ASSERT_TRUE(db != nullptr);
    std::mt19937_64 rng(testing::TestSeed() + 30);
    for (int i = 0; i < 15000; ++i) Mutate(db.get(), &model, rng, 2000);
    ASSERT_OK(Checkpoint(db.get()));
  }
  HybridLogOptions small = Small(&env, 4);  // 256 KiB
  auto db = OpenOrDie(small);
  ASSERT_TRUE(db != nullptr);
  ExpectState(db.get(), model, 2000, "reopened with a quarter of the pages");
  EngineStats stats;
  db->GetStats(&stats);
  uint64_t flushed = 0, log_memory = 0;
  for (auto& [name, value] : stats.extra) {
    if (name == "flushedUntilAddress") flushed = value;
    if (name == "logMemoryBytes") log_memory = value;
  }
  EXPECT_TRUE(flushed > 4 * uint64_t{kPage});  // the region did not fit: recovery wrote pages to segments
  EXPECT_TRUE(log_memory <= small.memory_budget_bytes);
  std::mt19937_64 rng(testing::TestSeed() + 31);
  for (int i = 0; i < 3000; ++i) Mutate(db.get(), &model, rng, 2000);
  ASSERT_OK(Checkpoint(db.get()));
  db.reset();
  db = OpenOrDie(Small(&env, 64));
  ExpectState(db.get(), model, 2000, "and back to the larger budget");
}

TEST(Checkpoint, RecoveryDoesNotGrowWithTheNumberOfCheckpoints) {
  MemEnv env;
  HybridLogOptions o = Small(&env, 256);
  o.retain_checkpoints = 100;
  auto db = OpenOrDie(o);
  ASSERT_TRUE(db != nullptr);
  for (int i = 0; i < 20000; ++i) ASSERT_OK(db->Put("k" + std::to_string(i), std::string(100, 'a')));
  ASSERT_OK(Checkpoint(db.get()));
  for (int round = 0; round < 60; ++round) {
    for (int i = round; i < 20000; i += 50) ASSERT_OK(db->Put("k" + std::to_string(i), std::string(100, 'b' + round % 20)));
    // New keys take index slots: the index chain grows by deltas too.
    for (int i = 0; i < 50; ++i) ASSERT_OK(db->Put("n" + std::to_string(round) + "_" + std::to_string(i), "new"));
    ASSERT_OK(Checkpoint(db.get()));
  }
  std::vector<CheckpointInfo> list;
  db->ListCheckpoints(&list);
  CheckpointManifest m;
  ASSERT_OK(ReadManifest(&env, "/db", list.back().version, &m));
  CheckpointState state;
  ASSERT_OK(DecodeCheckpointState(m.engine_state, "m", &state));
  uint64_t chain_bytes = 0;
  for (const SnapshotRef& r : state.chain) chain_bytes += r.bytes;
  const uint64_t region = state.tail - state.flushed;
  std::cout << "    after 61 checkpoints: chain of " << state.chain.size() << " snapshots, " << chain_bytes
            << " B for a region of " << region << " B\n";
  EXPECT_TRUE(chain_bytes <= 3 * region + (4u << 20));
  uint64_t index_chain_bytes = 0;
  for (const IndexRef& r : state.index_chain) index_chain_bytes += r.bytes;
  const uint64_t index_bytes = (uint64_t{64} << state.bucket_bits) + state.overflow_used * 64;
  std::cout << "    index chain of " << state.index_chain.size() << " files, " << index_chain_bytes
            << " B for an index of " << index_bytes << " B\n";
  EXPECT_TRUE(state.index_chain.size() > 1);  // deltas, not a full index each time
  EXPECT_TRUE(index_chain_bytes <= 4 * index_bytes + (64u << 10));
  db.reset();
  db = OpenOrDie(o);
  std::string v;
  ASSERT_OK(db->Get("k0", &v));
}

}  // namespace
}  // namespace tidekv::hlog
