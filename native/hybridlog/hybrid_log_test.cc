#include "hybridlog/hybrid_log.h"

#include <atomic>
#include <chrono>
#include <map>
#include <optional>
#include <random>
#include <thread>

#include "common/env_fault.h"
#include "common/env_mem.h"
#include "common/testing.h"
#include "hybridlog/hybrid_log_impl.h"

namespace tidekv::hlog {
namespace {

constexpr uint32_t kSmallPage = 64 * 1024;

HybridLogOptions TinyOptions(Env* env) {
  HybridLogOptions o;
  o.env = env;
  o.page_bytes = kSmallPage;
  o.segment_bytes = 4 * kSmallPage;
  o.memory_budget_bytes = 4 * kSmallPage;  // the minimum: 2 mutable, 2 read-only
  o.index_buckets = 4;
  o.compaction_slice_micros = 200;
  return o;
}

std::unique_ptr<HybridLogEngine> OpenEngine(const HybridLogOptions& options, const std::string& dir) {
  auto engine = std::make_unique<HybridLogEngine>();
  Status s = engine->Open(options, dir);
  if (!s.ok()) {
    testing::ReportFailure(__FILE__, __LINE__, "open: " + s.ToString());
    return nullptr;
  }
  return engine;
}

std::string Counter(int64_t v) {
  std::string s(8, '\0');
  StoreFixed64(s.data(), static_cast<uint64_t>(v));
  return s;
}

uint64_t Extra(Engine* e, const std::string& name) {
  EngineStats stats;
  e->GetStats(&stats);
  for (auto& [k, v] : stats.extra) {
    if (k == name) return v;
  }
  return UINT64_MAX;
}

TEST(HybridLog, PointOperations) {
  MemEnv env;
  auto db = OpenEngine(TinyOptions(&env), "/db");
  ASSERT_TRUE(db != nullptr);
  std::string value;
  EXPECT_STATUS(db->Get("a", &value), kNotFound);
  ASSERT_OK(db->Put("a", "1"));
  ASSERT_OK(db->Get("a", &value));
  EXPECT_EQ(value, std::string("1"));
  ASSERT_OK(db->Put("a", "22"));  // grows past its frame's slack? 1 -> 2 bytes fits in 8-byte alignment
  ASSERT_OK(db->Get("a", &value));
  EXPECT_EQ(value, std::string("22"));
  ASSERT_OK(db->Put("a", std::string(100, 'x')));  // does not fit: new version
  ASSERT_OK(db->Get("a", &value));
  EXPECT_EQ(value, std::string(100, 'x'));
  ASSERT_OK(db->Put("empty", ""));
  ASSERT_OK(db->Get("empty", &value));
  EXPECT_EQ(value, std::string());
  bool found = false, existed = false;
  ASSERT_OK(db->Has("empty", &found));
  EXPECT_TRUE(found);
  ASSERT_OK(db->Delete("a", &existed));
  EXPECT_TRUE(existed);
  ASSERT_OK(db->Delete("a", &existed));
  EXPECT_FALSE(existed);
  EXPECT_STATUS(db->Get("a", &value), kNotFound);
  ASSERT_OK(db->Put("a", "back"));
  ASSERT_OK(db->Get("a", &value));
  EXPECT_EQ(value, std::string("back"));
  EngineStats stats;
  db->GetStats(&stats);
  EXPECT_EQ(stats.keys, uint64_t{2});
  ASSERT_OK(db->Verify());
}

TEST(HybridLog, InPlaceUpdatesInTheMutableRegion) {
  MemEnv env;
  auto db = OpenEngine(TinyOptions(&env), "/db");
  ASSERT_TRUE(db != nullptr);
  ASSERT_OK(db->Put("k", std::string(100, 'a')));
  const uint64_t tail = Extra(db.get(), "tailAddress");
  for (int i = 0; i < 1000; ++i) ASSERT_OK(db->Put("k", std::string(100, static_cast<char>('a' + i % 26))));
  int64_t n = 0;
  for (int i = 0; i < 1000; ++i) ASSERT_OK(db->Merge("c", MergeOp::kAddInt64, Counter(1), &n));
  EXPECT_EQ(n, int64_t{1000});
  // One record for "c", none for the 1000 updates of "k".
  EXPECT_EQ(Extra(db.get(), "tailAddress"), tail + RecordFrameBytes(1, 8));
  EXPECT_TRUE(Extra(db.get(), "inPlaceUpdates") >= 1999);
}

TEST(HybridLog, MergeOperators) {
  MemEnv env;
  auto db = OpenEngine(TinyOptions(&env), "/db");
  ASSERT_TRUE(db != nullptr);
  int64_t v = 0;
  ASSERT_OK(db->Merge("n", MergeOp::kAddInt64, Counter(5), &v));
  EXPECT_EQ(v, int64_t{5});
  ASSERT_OK(db->Merge("n", MergeOp::kAddInt64, Counter(-7), &v));
  EXPECT_EQ(v, int64_t{-2});
  ASSERT_OK(db->Put("max", Counter(INT64_MAX)));
  EXPECT_STATUS(db->Merge("max", MergeOp::kAddInt64, Counter(1), &v), kOverflow);
  std::string value;
  ASSERT_OK(db->Get("max", &value));
  EXPECT_EQ(value, Counter(INT64_MAX));  // unchanged
  ASSERT_OK(db->Put("s", "abc"));
  EXPECT_STATUS(db->Merge("s", MergeOp::kAddInt64, Counter(1), &v), kTypeMismatch);
  for (int i = 0; i < 3000; ++i) ASSERT_OK(db->Merge("log", MergeOp::kAppend, "0123456789", nullptr));
  ASSERT_OK(db->Get("log", &value));
  ASSERT_EQ(value.size(), size_t{30000});
  EXPECT_EQ(value.substr(29990), std::string("0123456789"));
  ASSERT_OK(db->Merge("s", MergeOp::kAppend, "def", nullptr));
  ASSERT_OK(db->Get("s", &value));
  EXPECT_EQ(value, std::string("abcdef"));
  EXPECT_STATUS(db->Merge("s", MergeOp::kAppend, std::string(db->MaxValueBytes(), 'x'), nullptr), kInvalidArgument);
  ASSERT_OK(db->Verify());
}

TEST(HybridLog, LimitsAreErrorsNotCrashes) {
  MemEnv env;
  auto db = OpenEngine(TinyOptions(&env), "/db");
  ASSERT_TRUE(db != nullptr);
  EXPECT_STATUS(db->Put("", "v"), kInvalidArgument);
  EXPECT_STATUS(db->Put(std::string(kMaxKeyBytes + 1, 'k'), "v"), kInvalidArgument);
  ASSERT_OK(db->Put(std::string(kMaxKeyBytes, 'k'), "v"));
  EXPECT_STATUS(db->Put("k", std::string(db->MaxValueBytes() + 1, 'v')), kInvalidArgument);
  ASSERT_OK(db->Put("k", std::string(db->MaxValueBytes(), 'v')));  // the largest value fits a page
  std::string value;
  ASSERT_OK(db->Get("k", &value));
  EXPECT_EQ(value.size(), db->MaxValueBytes());
}

// The first record of a store is placed at kFirstAddress in page 0; one that
// fills a page must go to page 1 instead of running off the end of page 0.
TEST(HybridLog, LargestRecordAsTheFirstWrite) {
  MemEnv env;
  auto db = OpenEngine(TinyOptions(&env), "/db");
  ASSERT_TRUE(db != nullptr);
  const std::string key(kMaxKeyBytes, 'k'), value(db->MaxValueBytes(), 'v');
  ASSERT_OK(db->Put(key, value));
  ASSERT_OK(db->Put("small", "after"));
  std::string v;
  ASSERT_OK(db->Get(key, &v));
  EXPECT_EQ(v, value);
  ASSERT_OK(db->Get("small", &v));
  EXPECT_EQ(v, std::string("after"));
  for (int i = 0; i < 20; ++i) ASSERT_OK(db->Put(key, value));  // one page per version: pages churn
  ASSERT_OK(db->Verify());
}

TEST(HybridLog, OptionsAreValidated) {
  MemEnv env;
  std::unique_ptr<Engine> db;
  HybridLogOptions o = TinyOptions(&env);
  o.page_bytes = 100000;
  EXPECT_STATUS(HybridLog::Open(o, "/db", &db), kInvalidArgument);
  o = TinyOptions(&env);
  o.memory_budget_bytes = 3 * kSmallPage;
  EXPECT_STATUS(HybridLog::Open(o, "/db", &db), kInvalidArgument);
  o = TinyOptions(&env);
  o.segment_bytes = kSmallPage + 1;
  EXPECT_STATUS(HybridLog::Open(o, "/db", &db), kInvalidArgument);
  o = TinyOptions(&env);
  o.mutable_fraction = 0;
  EXPECT_STATUS(HybridLog::Open(o, "/db", &db), kInvalidArgument);
  o = TinyOptions(&env);
  o.index_buckets = 3;
  EXPECT_STATUS(HybridLog::Open(o, "/db", &db), kInvalidArgument);
}

TEST(HybridLog, DirectoryIsLocked) {
  MemEnv env;
  auto first = OpenEngine(TinyOptions(&env), "/db");
  ASSERT_TRUE(first != nullptr);
  std::unique_ptr<Engine> second;
  EXPECT_STATUS(HybridLog::Open(TinyOptions(&env), "/db", &second), kLocked);
  ASSERT_OK(first->Close());
  ASSERT_OK(HybridLog::Open(TinyOptions(&env), "/db", &second));
}

TEST(HybridLog, ClosedEngineRefusesCalls) {
  MemEnv env;
  auto db = OpenEngine(TinyOptions(&env), "/db");
  ASSERT_TRUE(db != nullptr);
  ASSERT_OK(db->Close());
  ASSERT_OK(db->Close());
  std::string v;
  EXPECT_STATUS(db->Put("a", "b"), kClosed);
  EXPECT_STATUS(db->Get("a", &v), kClosed);
  CompactionResult r;
  EXPECT_STATUS(db->Compact(&r), kClosed);
}

// Ten times the memory budget: most records live in segment files and are
// read through the mapping; resident log memory never passes the budget.
TEST(HybridLog, LargerThanMemory) {
  MemEnv env;
  HybridLogOptions o = TinyOptions(&env);
  auto db = OpenEngine(o, "/db");
  ASSERT_TRUE(db != nullptr);
  const int kKeys = 20000;  // ~ 20000 * 160 B = 3.2 MB = 12x the 256 KiB budget
  auto value_of = [](int i, int round) { return std::string(120, static_cast<char>('a' + (i + round) % 26)) + std::to_string(i); };
  for (int i = 0; i < kKeys; ++i) ASSERT_OK(db->Put("key" + std::to_string(i), value_of(i, 0)));
  for (int i = 0; i < kKeys; i += 3) ASSERT_OK(db->Put("key" + std::to_string(i), value_of(i, 1)));
  EngineStats stats;
  db->GetStats(&stats);
  EXPECT_TRUE(Extra(db.get(), "logMemoryBytes") <= o.memory_budget_bytes);
  EXPECT_TRUE(stats.disk_bytes > 10 * o.memory_budget_bytes);
  EXPECT_TRUE(Extra(db.get(), "headAddress") > 10 * o.memory_budget_bytes);
  std::string v;
  for (int i = 0; i < kKeys; ++i) {
    ASSERT_OK(db->Get("key" + std::to_string(i), &v));
    ASSERT_EQ(v, value_of(i, i % 3 == 0 ? 1 : 0));
  }
  EXPECT_EQ(stats.keys, uint64_t{kKeys});
  ASSERT_OK(db->Verify());
}

TEST(HybridLog, CompactionReclaimsDeadRecords) {
  MemEnv env;
  auto db = OpenEngine(TinyOptions(&env), "/db");
  ASSERT_TRUE(db != nullptr);
  // 10 rounds over 2000 keys: 9 of every 10 records end up dead.
  for (int round = 0; round < 10; ++round) {
    for (int i = 0; i < 2000; ++i) ASSERT_OK(db->Put("k" + std::to_string(i), std::string(100 + round, 'r')));
  }
  bool existed = false;
  for (int i = 0; i < 2000; i += 2) ASSERT_OK(db->Delete("k" + std::to_string(i), &existed));
  EngineStats before;
  db->GetStats(&before);
  CompactionResult result;
  ASSERT_OK(db->Compact(&result));
  EngineStats after;
  db->GetStats(&after);
  EXPECT_TRUE(result.records_moved <= 1000);
  EXPECT_TRUE(result.files_deleted > 0);
  EXPECT_TRUE(after.disk_bytes < before.disk_bytes / 2);
  EXPECT_EQ(after.keys, uint64_t{1000});
  std::string v;
  for (int i = 0; i < 2000; ++i) {
    Status s = db->Get("k" + std::to_string(i), &v);
    if (i % 2 == 0) {
      EXPECT_STATUS(std::move(s), kNotFound);
    } else {
      ASSERT_OK(s);
      EXPECT_EQ(v, std::string(109, 'r'));
    }
  }
  ASSERT_OK(db->Verify());
}

// Compaction runs on its own thread while this one keeps writing; the data
// must stay right and no foreground call may wait for a whole compaction.
TEST(HybridLog, CompactionBesideForegroundWrites) {
  MemEnv env;
  HybridLogOptions o = TinyOptions(&env);
  o.memory_budget_bytes = 16 * kSmallPage;
  auto db = OpenEngine(o, "/db");
  ASSERT_TRUE(db != nullptr);
  std::map<std::string, std::string> model;
  std::mt19937_64 rng(testing::TestSeed());
  for (int i = 0; i < 30000; ++i) {
    std::string k = "k" + std::to_string(rng() % 3000), v = std::string(rng() % 200, 'v') + std::to_string(i);
    ASSERT_OK(db->Put(k, v));
    model[k] = v;
  }
  std::atomic<bool> done{false};
  Status compaction_status;
  CompactionResult result;
  std::thread compactor([&] {
    compaction_status = db->Compact(&result);
    done = true;
  });
  uint64_t ops = 0;
  int64_t longest_us = 0;
  while (!done || ops < 2000) {
    std::string k = "k" + std::to_string(rng() % 3000), v = std::to_string(ops);
    const auto t0 = std::chrono::steady_clock::now();
    ASSERT_OK(db->Put(k, v));
    longest_us = std::max<int64_t>(longest_us, std::chrono::duration_cast<std::chrono::microseconds>(
                                                   std::chrono::steady_clock::now() - t0).count());
    model[k] = v;
    ++ops;
  }
  compactor.join();
  ASSERT_OK(compaction_status);
  EXPECT_TRUE(result.records_scanned > 0);
  std::string v;
  for (auto& [k, expected] : model) {
    ASSERT_OK(db->Get(k, &v));
    ASSERT_EQ(v, expected);
  }
  ASSERT_OK(db->Verify());
  std::cout << "    compaction: " << result.records_scanned << " scanned, " << result.records_moved
            << " moved, longest slice " << result.longest_pause_micros << " us; " << ops
            << " foreground puts meanwhile, slowest " << longest_us << " us\n";
}

TEST(HybridLog, BatchIsAllOrNothingForMergeFailures) {
  MemEnv env;
  auto db = OpenEngine(TinyOptions(&env), "/db");
  ASSERT_TRUE(db != nullptr);
  ASSERT_OK(db->Put("text", "not a counter"));
  WriteBatch bad;
  bad.Put("a", "1");
  bad.Merge("n", MergeOp::kAddInt64, Counter(1));
  bad.Merge("text", MergeOp::kAddInt64, Counter(1));
  EXPECT_STATUS(db->ApplyBatch(bad), kTypeMismatch);
  std::string v;
  EXPECT_STATUS(db->Get("a", &v), kNotFound);
  EXPECT_STATUS(db->Get("n", &v), kNotFound);

  // Later operations see earlier ones in the same batch.
  WriteBatch good;
  good.Put("x", "v");
  good.Delete("text");
  good.Merge("text", MergeOp::kAddInt64, Counter(2));  // the delete made it a fresh counter
  good.Merge("x", MergeOp::kAppend, "w");
  good.Delete("gone");
  int64_t results[5] = {-1, -1, -1, -1, -1};
  ASSERT_OK(db->ApplyBatch(good, results));
  EXPECT_EQ(results[2], int64_t{2});   // the increment's new value
  EXPECT_EQ(results[0], int64_t{-1});  // other operations leave their entry alone
  ASSERT_OK(db->Get("text", &v));
  EXPECT_EQ(v, Counter(2));
  ASSERT_OK(db->Get("x", &v));
  EXPECT_EQ(v, std::string("vw"));
  ASSERT_OK(db->Verify());
}

// A failing merge late in a batch undoes everything before it: overwrites,
// deletes of existing keys, creations, increments, several ops on one key.
TEST(HybridLog, FailedBatchUndoesEveryEarlierOperation) {
  MemEnv env;
  auto db = OpenEngine(TinyOptions(&env), "/db");
  ASSERT_TRUE(db != nullptr);
  std::map<std::string, std::string> before;
  for (int i = 0; i < 300; ++i) {
    const std::string k = "k" + std::to_string(i), v = std::string(i % 50, 'a' + i % 26);
    ASSERT_OK(db->Put(k, v));
    before[k] = v;
  }
  ASSERT_OK(db->Put("n", Counter(41)));
  before["n"] = Counter(41);
  WriteBatch batch;
  for (int i = 0; i < 300; i += 3) batch.Put("k" + std::to_string(i), std::string(200, 'z'));  // moves records
  for (int i = 1; i < 300; i += 3) batch.Delete("k" + std::to_string(i));
  for (int i = 0; i < 50; ++i) batch.Put("new" + std::to_string(i), "fresh");
  batch.Merge("n", MergeOp::kAddInt64, Counter(1));
  batch.Merge("n", MergeOp::kAddInt64, Counter(1));
  batch.Merge("k2", MergeOp::kAppend, "tail");
  batch.Put("k5", "x");
  batch.Merge("k5", MergeOp::kAddInt64, Counter(1));  // "x" is not a counter: the batch fails here
  EXPECT_STATUS(db->ApplyBatch(batch), kTypeMismatch);
  std::string v;
  for (auto& [k, expected] : before) {
    ASSERT_OK(db->Get(k, &v));
    ASSERT_EQ(v, expected);
  }
  for (int i = 0; i < 50; ++i) EXPECT_STATUS(db->Get("new" + std::to_string(i), &v), kNotFound);
  EngineStats stats;
  db->GetStats(&stats);
  EXPECT_EQ(stats.keys, before.size());
  ASSERT_OK(db->Verify());
}

TEST(HybridLog, IndexGrowsAndKeepsEveryKey) {
  MemEnv env;
  HybridLogOptions o = TinyOptions(&env);
  o.index_buckets = 2;
  o.memory_budget_bytes = 64 * kSmallPage;
  auto db = OpenEngine(o, "/db");
  ASSERT_TRUE(db != nullptr);
  for (int i = 0; i < 50000; ++i) ASSERT_OK(db->Put("user" + std::to_string(i), std::to_string(i)));
  EXPECT_TRUE(Extra(db.get(), "indexGrows") >= 10);
  std::string v;
  for (int i = 0; i < 50000; ++i) {
    ASSERT_OK(db->Get("user" + std::to_string(i), &v));
    ASSERT_EQ(v, std::to_string(i));
  }
  ASSERT_OK(db->Verify());
}

// The model test: random operations against std::map, with tiny pages and a
// tiny budget so pages flush and evict constantly, and compactions between.
TEST(HybridLog, RandomOperationsMatchAModel) {
  for (int settings = 0; settings < 3; ++settings) {
    MemEnv env;
    HybridLogOptions o = TinyOptions(&env);
    if (settings == 1) o.memory_budget_bytes = 32 * kSmallPage;
    if (settings == 2) o.mutable_fraction = 0.01;
    auto db = OpenEngine(o, "/db");
    ASSERT_TRUE(db != nullptr);
    std::map<std::string, std::string> model;
    std::mt19937_64 rng(testing::TestSeed() * 31 + settings);
    for (int i = 0; i < 40000; ++i) {
      const std::string key = "k" + std::to_string(rng() % 500);
      const int op = static_cast<int>(rng() % 100);
      if (op < 40) {
        std::string v(rng() % 300, static_cast<char>('a' + rng() % 26));
        ASSERT_OK(db->Put(key, v));
        model[key] = v;
      } else if (op < 55) {
        bool existed = false;
        ASSERT_OK(db->Delete(key, &existed));
        ASSERT_EQ(existed, model.erase(key) == 1);
      } else if (op < 70) {
        int64_t result = 0;
        const int64_t delta = static_cast<int64_t>(rng() % 1000) - 500;
        auto it = model.find(key);
        Status s = db->Merge(key, MergeOp::kAddInt64, Counter(delta), &result);
        if (it != model.end() && it->second.size() != 8) {
          ASSERT_EQ(s.code(), StatusCode::kTypeMismatch);
        } else {
          ASSERT_OK(s);
          const int64_t base = it == model.end() ? 0 : static_cast<int64_t>(LoadFixed64(it->second.data()));
          ASSERT_EQ(result, base + delta);
          model[key] = Counter(result);
        }
      } else if (op < 80) {
        std::string piece(rng() % 40, 'p');
        ASSERT_OK(db->Merge(key, MergeOp::kAppend, piece, nullptr));
        model[key] += piece;
      } else if (op < 99) {
        std::string v;
        Status s = db->Get(key, &v);
        auto it = model.find(key);
        if (it == model.end()) {
          ASSERT_EQ(s.code(), StatusCode::kNotFound);
        } else {
          ASSERT_OK(s);
          ASSERT_EQ(v, it->second);
        }
      } else {
        CompactionResult r;
        ASSERT_OK(db->Compact(&r));
      }
    }
    std::string v;
    for (auto& [k, expected] : model) {
      ASSERT_OK(db->Get(k, &v));
      ASSERT_EQ(v, expected);
    }
    EngineStats stats;
    db->GetStats(&stats);
    EXPECT_EQ(stats.keys, model.size());
    ASSERT_OK(db->Verify());
  }
}

TEST(HybridLog, CorruptRecordOnDiskIsReported) {
  MemEnv env;
  auto db = OpenEngine(TinyOptions(&env), "/db");
  ASSERT_TRUE(db != nullptr);
  for (int i = 0; i < 5000; ++i) ASSERT_OK(db->Put("k" + std::to_string(i), std::string(100, 'v')));
  ASSERT_TRUE(Extra(db.get(), "headAddress") > 2 * kSmallPage);
  // Flip a bit in the value of the first record of segment 0 (key "k0").
  ASSERT_OK(env.FlipBit("/db/" + SegmentFileName(0), kSegmentDataOffset + kFirstAddress + kRecordHeaderBytes + 5, 3));
  std::string v;
  Status s = db->Get("k0", &v);
  EXPECT_EQ(s.code(), StatusCode::kCorruption);
  EXPECT_TRUE(s.message().find("log-0000000000.seg") != std::string_view::npos);
  ASSERT_OK(db->Get("k4999", &v));
}

TEST(HybridLog, FullDiskFailsWritesCleanlyAndRecovers) {
  MemEnv mem;
  FaultEnv env(&mem);
  auto db = OpenEngine(TinyOptions(&env), "/db");
  ASSERT_TRUE(db != nullptr);
  FaultPlan plan;
  plan.path_filter = ".seg";
  plan.fail_writes_after_bytes = 3 * kSmallPage;
  env.Arm(plan);
  Status s;
  int written = 0;
  for (; written < 100000; ++written) {
    s = db->Put("k" + std::to_string(written), std::string(100, 'v'));
    if (!s.ok()) break;
  }
  EXPECT_EQ(s.code(), StatusCode::kIoError);
  EXPECT_TRUE(env.faults_fired() > 0);
  std::string v;
  for (int i = 0; i < written; i += 97) {  // everything acknowledged is still readable
    ASSERT_OK(db->Get("k" + std::to_string(i), &v));
  }
  env.Disarm();  // the disk has room again
  for (int i = written; i < written + 5000; ++i) ASSERT_OK(db->Put("k" + std::to_string(i), std::string(100, 'v')));
  for (int i = 0; i < written + 5000; i += 7) ASSERT_OK(db->Get("k" + std::to_string(i), &v));
  ASSERT_OK(db->Verify());
}

TEST(HybridLog, ReopenStartsEmptyUntilCheckpointsExist) {
  MemEnv env;
  {
    auto db = OpenEngine(TinyOptions(&env), "/db");
    ASSERT_TRUE(db != nullptr);
    for (int i = 0; i < 5000; ++i) ASSERT_OK(db->Put("k" + std::to_string(i), std::string(100, 'v')));
  }
  auto db = OpenEngine(TinyOptions(&env), "/db");
  ASSERT_TRUE(db != nullptr);
  std::string v;
  EXPECT_STATUS(db->Get("k1", &v), kNotFound);
  std::vector<std::string> names;
  ASSERT_OK(env.ListDir("/db", &names));
  for (auto& n : names) {
    uint64_t seg = 0;
    EXPECT_FALSE(ParseSegmentFileName(n, &seg) && seg > 0);  // stale segments were removed
  }
}

}  // namespace
}  // namespace tidekv::hlog
