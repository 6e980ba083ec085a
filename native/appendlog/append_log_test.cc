// The append-log engine against a std::map model: random puts, deletes,
// merges and batches over tiny segments (so segments seal and merge all the
// time, on the background thread and through Compact), with checkpoints,
// restores, reopen and simulated crashes (MemEnv) mixed in. Plus the
// properties the design rests on: deletes stay deleted across reopen and
// merges, opening reads hint files and no value, merges reclaim space.
#include <atomic>
#include <map>
#include <string>
#include <thread>

#include "appendlog/append_log.h"
#include "appendlog/append_log_testing.h"
#include "appendlog/hint_file.h"
#include "appendlog/segment.h"
#include "common/engine_testing.h"
#include "common/env_mem.h"
#include "common/testing.h"
#include "common/write_batch.h"

namespace tidekv::appendlog {
namespace {

using testing::Checkpoint;
using testing::StatValue;
const char* const kDir = "/db";

std::unique_ptr<Engine> OpenOrDie(const AppendLogOptions& o) {
  std::unique_ptr<Engine> e;
  Status s = AppendLog::Open(o, kDir, &e);
  if (!s.ok()) testing::ReportFailure(__FILE__, __LINE__, "open: " + s.ToString());
  return e;
}

bool SameAs(Engine* e, const Model& m, std::string* why) {
  *why = DifferenceFromModel(e, m);
  return why->empty();
}

#define EXPECT_SAME(e, m)                                                  \
  do {                                                                     \
    std::string why_;                                                      \
    if (!SameAs((e), (m), &why_)) FAIL_AT_LINE(why_);                      \
  } while (0)
#define FAIL_AT_LINE(msg) ::tidekv::testing::ReportFailure(__FILE__, __LINE__, (msg))

std::string Counter(int64_t v) {
  std::string s(8, '\0');
  StoreFixed64(s.data(), static_cast<uint64_t>(v));
  return s;
}

TEST(AppendLog, ModelWithCheckpointsRestoresReopensAndCrashes) {
  uint64_t rng = testing::TestSeed();
  for (int round = 0; round < 4; ++round) {
    MemEnv env;
    AppendLogOptions o = TinyAppendLogOptions(&env);
    o.background_merge = round % 2 == 0;
    std::unique_ptr<Engine> e = OpenOrDie(o);
    ASSERT_TRUE(e != nullptr);
    Model live;
    std::map<uint64_t, Model> checkpoints;  // retained versions -> state
    Model last;                             // the newest checkpoint's state
    uint64_t sealed = 0;                    // segments sealed, over every reopen
    for (int step = 0; step < 3000; ++step) {
      const uint64_t r = testing::SplitMix(&rng) % 1000;
      const std::string key = "k" + std::to_string(testing::SplitMix(&rng) % (round < 2 ? 300 : 3000));
      if (r < 450) {
        const std::string value(testing::SplitMix(&rng) % (r < 20 ? 9000 : 120), static_cast<char>('a' + step % 26));
        ASSERT_OK(e->Put(key, value));
        live[key] = value;
      } else if (r < 650) {
        bool existed = false;
        ASSERT_OK(e->Delete(key, &existed));
        EXPECT_EQ(existed, live.erase(key) == 1);
      } else if (r < 750) {
        const std::string ckey = "c" + key;
        int64_t result = 0;
        ASSERT_OK(e->Merge(ckey, MergeOp::kAddInt64, Counter(3), &result));
        const int64_t before = live.count(ckey) ? static_cast<int64_t>(LoadFixed64(live[ckey].data())) : 0;
        EXPECT_EQ(result, before + 3);
        live[ckey] = Counter(before + 3);
      } else if (r < 800) {
        ASSERT_OK(e->Merge(key, MergeOp::kAppend, "+x", nullptr));
        live[key] += "+x";
      } else if (r < 850) {
        WriteBatch b;
        for (int i = 0; i < 20; ++i) {
          const std::string bk = "b" + std::to_string(testing::SplitMix(&rng) % 200);
          if (i % 3 == 2) {
            b.Delete(bk);
            live.erase(bk);
          } else {
            b.Put(bk, "v" + std::to_string(step * 100 + i));
            live[bk] = "v" + std::to_string(step * 100 + i);
          }
        }
        ASSERT_OK(e->ApplyBatch(b, nullptr));
      } else if (r < 900) {
        CheckpointInfo info;
        ASSERT_OK(Checkpoint(e.get(), &info));
        checkpoints[info.version] = live;
        while (checkpoints.size() > o.retain_checkpoints) checkpoints.erase(checkpoints.begin());
        last = live;
      } else if (r < 925) {
        CompactionResult result;
        ASSERT_OK(e->Compact(&result));
        EXPECT_SAME(e.get(), live);
      } else if (r < 950 && !checkpoints.empty()) {
        auto it = checkpoints.begin();
        std::advance(it, testing::SplitMix(&rng) % checkpoints.size());
        ASSERT_OK(e->Restore(it->first));
        live = it->second;
        last = live;
        checkpoints.erase(std::next(it), checkpoints.end());
        EXPECT_SAME(e.get(), live);
      } else if (r < 975) {
        sealed += StatValue(e.get(), "segmentsSealed");
        ASSERT_OK(e->Close());
        e.reset();
        e = OpenOrDie(o);
        ASSERT_TRUE(e != nullptr);
        live = last;
        EXPECT_SAME(e.get(), live);
      } else {
        // A crash: unsynced bytes and directory changes may be lost, torn or kept.
        sealed += StatValue(e.get(), "segmentsSealed");
        env.SimulateCrash(testing::SplitMix(&rng));
        e.reset();  // the crashed "process" goes; its files are detached
        e = OpenOrDie(o);
        ASSERT_TRUE(e != nullptr);
        live = last;
        EXPECT_SAME(e.get(), live);
        std::vector<CheckpointInfo> list;
        e->ListCheckpoints(&list);
        EXPECT_EQ(list.size(), checkpoints.size());
      }
    }
    EXPECT_SAME(e.get(), live);
    sealed += StatValue(e.get(), "segmentsSealed");
    EXPECT_TRUE(sealed > 10);
  }
}

TEST(AppendLog, DeletesStayDeletedAcrossReopenAndMerge) {
  MemEnv env;
  AppendLogOptions o = TinyAppendLogOptions(&env);
  o.background_merge = false;
  std::unique_ptr<Engine> e = OpenOrDie(o);
  ASSERT_TRUE(e != nullptr);
  // Old values in early segments, then deletes of half of them in later ones.
  for (int i = 0; i < 400; ++i) ASSERT_OK(e->Put("key" + std::to_string(i), std::string(300, 'o')));
  ASSERT_OK(Checkpoint(e.get()));
  for (int i = 0; i < 400; i += 2) {
    bool existed = false;
    ASSERT_OK(e->Delete("key" + std::to_string(i), &existed));
    EXPECT_TRUE(existed);
  }
  ASSERT_OK(Checkpoint(e.get()));
  ASSERT_OK(e->Close());
  e = OpenOrDie(o);
  for (int i = 0; i < 400; ++i) {
    bool found = true;
    ASSERT_OK(e->Has("key" + std::to_string(i), &found));
    EXPECT_EQ(found, i % 2 == 1);
  }
  // Merging everything: the tombstones may go only together with the old
  // values; either way, nothing deleted comes back after a reopen.
  CompactionResult result;
  ASSERT_OK(e->Compact(&result));
  EXPECT_TRUE(result.records_moved > 0);
  ASSERT_OK(Checkpoint(e.get()));
  ASSERT_OK(e->Close());
  e = OpenOrDie(o);
  for (int i = 0; i < 400; ++i) {
    bool found = true;
    ASSERT_OK(e->Has("key" + std::to_string(i), &found));
    EXPECT_EQ(found, i % 2 == 1);
  }
  ASSERT_OK(e->Verify());
}

TEST(AppendLog, AMergeKeepsATombstoneWhileAnOlderValueSurvivesElsewhere) {
  MemEnv env;
  AppendLogOptions o = TinyAppendLogOptions(&env);
  o.merge_dead_ratio = 0.5;
  std::unique_ptr<Engine> e = OpenOrDie(o);
  ASSERT_TRUE(e != nullptr);
  // "victim" lives in the first segment among long-lived keys, so that
  // segment stays almost all live and the merge leaves it alone.
  ASSERT_OK(e->Put("victim", "old value"));
  for (int i = 0; i < 150; ++i) ASSERT_OK(e->Put("keep" + std::to_string(i), std::string(400, 'k')));
  // The delete sits among churn in the next segment, which dies and is merged.
  for (int i = 0; i < 20; ++i) ASSERT_OK(e->Put("churn" + std::to_string(i), std::string(400, 'c')));
  bool existed = false;
  ASSERT_OK(e->Delete("victim", &existed));
  ASSERT_TRUE(existed);
  for (int round = 0; round < 8 && StatValue(e.get(), "merges") == 0; ++round) {
    for (int i = 0; i < 40; ++i) ASSERT_OK(e->Put("churn" + std::to_string(i), std::string(400, 'c')));
  }
  // The merge thread was woken by the churn; wait for its first merge.
  for (int i = 0; i < 5000 && StatValue(e.get(), "merges") == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_TRUE(StatValue(e.get(), "merges") > 0);
  ASSERT_OK(Checkpoint(e.get()));
  ASSERT_OK(e->Close());
  // Recovery reads every hint: the old value's hint is still there (its
  // segment was not merged), so only a kept tombstone keeps "victim" deleted.
  e = OpenOrDie(o);
  bool found = true;
  ASSERT_OK(e->Has("victim", &found));
  EXPECT_FALSE(found);
  ASSERT_OK(e->Verify());
}

TEST(AppendLog, OpeningReadsHintsNotValues) {
  MemEnv env;
  AppendLogOptions o = TinyAppendLogOptions(&env);
  o.background_merge = false;
  std::unique_ptr<Engine> e = OpenOrDie(o);
  ASSERT_TRUE(e != nullptr);
  for (int i = 0; i < 200; ++i) ASSERT_OK(e->Put("key" + std::to_string(i), std::string(500, 'v')));
  ASSERT_OK(Checkpoint(e.get()));
  ASSERT_OK(e->Close());
  e.reset();
  // Damage the value of one record in the first segment: opening must not
  // notice (it reads no value), a read of that key must.
  std::string seg;
  ASSERT_OK(env.ReadAll(std::string(kDir) + "/" + SegmentFileName(1), &seg));
  const size_t at = seg.find("key7") + 4 + 100;  // inside key7's value
  ASSERT_TRUE(at < seg.size());
  ASSERT_OK(env.FlipBit(std::string(kDir) + "/" + SegmentFileName(1), at, 3));
  e = OpenOrDie(o);
  ASSERT_TRUE(e != nullptr);
  std::string value;
  EXPECT_STATUS(e->Get("key7", &value), kCorruption);
  ASSERT_OK(e->Get("key8", &value));
  EXPECT_EQ(value, std::string(500, 'v'));
  EXPECT_STATUS(e->Verify(), kCorruption);
  // A damaged hint file fails the open, naming it.
  ASSERT_OK(e->Close());
  e.reset();
  std::vector<std::string> names;
  ASSERT_OK(env.ListDir(kDir, &names));
  std::string hint;
  for (const std::string& n : names) {
    uint64_t number = 0;
    if (ParseHintFileName(n, &number)) hint = n;
  }
  ASSERT_FALSE(hint.empty());
  ASSERT_OK(env.FlipBit(std::string(kDir) + "/" + hint, 80, 0));
  std::unique_ptr<Engine> bad;
  Status s = AppendLog::Open(o, kDir, &bad);
  EXPECT_STATUS(s, kCorruption);
  EXPECT_TRUE(std::string(s.message()).find(hint) != std::string::npos);
}

TEST(AppendLog, BackgroundMergeReclaimsDeadSegmentsBesideWrites) {
  MemEnv env;
  AppendLogOptions o = TinyAppendLogOptions(&env);
  std::unique_ptr<Engine> e = OpenOrDie(o);
  ASSERT_TRUE(e != nullptr);
  Model m;
  for (int round = 0; round < 40; ++round) {
    for (int i = 0; i < 100; ++i) {
      const std::string k = "key" + std::to_string(i);
      const std::string v = std::string(200, static_cast<char>('a' + round % 26));
      ASSERT_OK(e->Put(k, v));
      m[k] = v;
    }
  }
  // Written 40x over: without merges the log would hold ~40x the live bytes.
  // Wait for the merge thread to catch up (it is woken by every seal).
  for (int i = 0; i < 2000 && StatValue(e.get(), "merges") == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_TRUE(StatValue(e.get(), "merges") > 0);
  EXPECT_SAME(e.get(), m);
  CompactionResult result;
  ASSERT_OK(e->Compact(&result));
  EngineStats stats;
  e->GetStats(&stats);
  const uint64_t live = 100 * RecordFrameBytes(5, 200);
  EXPECT_TRUE(stats.disk_bytes < 3 * live + (64 << 10));
  EXPECT_SAME(e.get(), m);
  ASSERT_OK(Checkpoint(e.get()));
  ASSERT_OK(e->Close());
  e = OpenOrDie(o);
  EXPECT_SAME(e.get(), m);
}

TEST(AppendLog, LargeValuesGetTheirOwnSegment) {
  MemEnv env;
  AppendLogOptions o = TinyAppendLogOptions(&env);
  std::unique_ptr<Engine> e = OpenOrDie(o);
  ASSERT_TRUE(e != nullptr);
  const std::string big(300 << 10, 'B');  // larger than a segment (64 KiB)
  ASSERT_OK(e->Put("small", "s"));
  ASSERT_OK(e->Put("big", big));
  ASSERT_OK(e->Put("after", "a"));
  std::string v;
  ASSERT_OK(e->Get("big", &v));
  EXPECT_TRUE(v == big);
  ASSERT_OK(Checkpoint(e.get()));
  ASSERT_OK(e->Close());
  e = OpenOrDie(o);
  ASSERT_OK(e->Get("big", &v));
  EXPECT_TRUE(v == big);
  ASSERT_OK(e->Get("after", &v));
  EXPECT_EQ(v, "a");
  EXPECT_EQ(e->MaxValueBytes(), kMaxValueBytes);
}

TEST(AppendLog, OptionsAreValidatedByName) {
  MemEnv env;
  std::unique_ptr<Engine> e;
  AppendLogOptions o = TinyAppendLogOptions(&env);
  o.segment_bytes = 1000;
  Status s = AppendLog::Open(o, kDir, &e);
  EXPECT_STATUS(s, kInvalidArgument);
  EXPECT_TRUE(std::string(s.message()).find("segmentBytes") != std::string::npos);
  o = TinyAppendLogOptions(&env);
  o.merge_dead_ratio = 0;
  s = AppendLog::Open(o, kDir, &e);
  EXPECT_TRUE(std::string(s.message()).find("mergeDeadRatio") != std::string::npos);
}

TEST(AppendLog, RecoveryOfManyHintsSplitAcrossTwoThreadsMatchesTheModel) {
  // Over 1 MiB of hint files: recovery decodes them on two threads.
  MemEnv env;
  AppendLogOptions o = TinyAppendLogOptions(&env);
  o.segment_bytes = 1 << 20;
  o.write_buffer_bytes = 1 << 16;
  o.background_merge = false;
  std::unique_ptr<Engine> e = OpenOrDie(o);
  ASSERT_TRUE(e != nullptr);
  Model m;
  uint64_t rng = testing::TestSeed() + 11;
  for (int round = 0; round < 4; ++round) {
    for (int i = 0; i < 30000; ++i) {
      const std::string k = "key" + std::to_string(testing::SplitMix(&rng) % 50000);
      if (testing::SplitMix(&rng) % 10 == 0) {
        bool existed = false;
        ASSERT_OK(e->Delete(k, &existed));
        m.erase(k);
      } else {
        const std::string v = "v" + std::to_string(round * 100000 + i);
        ASSERT_OK(e->Put(k, v));
        m[k] = v;
      }
    }
    ASSERT_OK(Checkpoint(e.get()));
  }
  EXPECT_TRUE(StatValue(e.get(), "hintBytes") > (1u << 20));
  ASSERT_OK(e->Close());
  e = OpenOrDie(o);
  ASSERT_TRUE(e != nullptr);
  EXPECT_SAME(e.get(), m);
}

TEST(AppendLog, SealedSegmentsGetOneHintFileInsteadOfManyDeltas) {
  MemEnv env;
  AppendLogOptions o = TinyAppendLogOptions(&env);
  o.merge_dead_ratio = 1;  // no merges: only the hint consolidation rewrites anything
  std::unique_ptr<Engine> e = OpenOrDie(o);
  ASSERT_TRUE(e != nullptr);
  Model m;
  // A checkpoint every 20 records of 300 B: each 64 KiB segment collects about
  // ten hint deltas before it is sealed.
  for (int i = 0; i < 2000; ++i) {
    const std::string k = "key" + std::to_string(i), v(300, static_cast<char>('a' + i % 26));
    ASSERT_OK(e->Put(k, v));
    m[k] = v;
    if (i % 20 == 19) ASSERT_OK(Checkpoint(e.get()));
  }
  for (int i = 0; i < 5000 && StatValue(e.get(), "hintConsolidations") < 5; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_TRUE(StatValue(e.get(), "hintConsolidations") >= 5);
  ASSERT_OK(Checkpoint(e.get()));  // hints for the segments sealed since the last one
  // Then every sealed segment gets one hint file; the active one keeps its
  // deltas (about ten). The merge thread is woken by the checkpoint.
  const uint64_t segments = StatValue(e.get(), "segments");
  for (int i = 0; i < 5000 && StatValue(e.get(), "hintFiles") >= segments + 12; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_TRUE(StatValue(e.get(), "hintFiles") < segments + 12);
  ASSERT_OK(e->Close());
  e = OpenOrDie(o);
  EXPECT_SAME(e.get(), m);
}

TEST(AppendLog, RestoresRacingMergesAndCompactions) {
  // Restores on this thread; Compact() on another keeps merge_mu_ busy, so the
  // background merge waits for it between picking its inputs and merging:
  // the interleaving in which a restore could hand it the active segment.
  MemEnv env;
  AppendLogOptions o = TinyAppendLogOptions(&env);
  o.merge_dead_ratio = 0.2;
  std::unique_ptr<Engine> e = OpenOrDie(o);
  ASSERT_TRUE(e != nullptr);
  std::atomic<bool> stop{false};
  std::thread compactor([&] {
    while (!stop.load()) {
      CompactionResult r;
      (void)e->Compact(&r);  // OK, or kBusy when a restore stopped it
    }
  });
  Model m;
  uint64_t rng = testing::TestSeed() + 5;
  for (int round = 0; round < 60; ++round) {
    for (int i = 0; i < 150; ++i) {
      const std::string k = "key" + std::to_string(testing::SplitMix(&rng) % 300), v(200, static_cast<char>('a' + i % 26));
      ASSERT_OK(e->Put(k, v));
      m[k] = v;
    }
    CheckpointInfo info;
    ASSERT_OK(Checkpoint(e.get(), &info));
    const Model at = m;
    for (int i = 0; i < 300; ++i) {
      const std::string k = "key" + std::to_string(testing::SplitMix(&rng) % 300);
      ASSERT_OK(e->Put(k, std::string(200, 'z')));
    }
    ASSERT_OK(e->Restore(info.version));
    m = at;
    std::string why;
    if (!SameAs(e.get(), m, &why)) {
      FAIL_AT_LINE("round " + std::to_string(round) + ": " + why);
      break;
    }
  }
  stop = true;
  compactor.join();
  ASSERT_OK(Checkpoint(e.get()));
  ASSERT_OK(e->Close());
  e = OpenOrDie(o);
  EXPECT_SAME(e.get(), m);
}

}  // namespace
}  // namespace tidekv::appendlog
