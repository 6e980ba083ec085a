// The LSM engine under crashes, disk faults, corruption and races: tests that
// try to break its durability and error handling (suite LsmFaults).
//
//   - a crash at the N-th mutating file-system call (MemEnv's crash model);
//   - ENOSPC / EIO / failed renames during flushes, compactions and manifest
//     writes (FaultEnv, and HookEnv below for faults FaultEnv cannot aim:
//     one thread's files, a directory fsync);
//   - bit flips and truncation of tables and manifests;
//   - tombstones meeting older values at every depth;
//   - files no checkpoint names (orphans);
//   - range cursors across writes, checkpoints, compaction, restore, close;
//   - write stalls behind slow or failing background work;
//   - Restore / Close / FinishCheckpoint racing background work.
//
// Every state is compared with a std::map model. Randomness comes from
// testing::TestSeed(); failures print the seed and the crash point.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/checkpoint_format.h"
#include "common/env_fault.h"
#include "common/engine_testing.h"
#include "common/env_mem.h"
#include "common/testing.h"
#include "common/write_batch.h"
#include "lsm/compaction_picker.h"
#include "lsm/lsm_engine.h"
#include "lsm/lsm_testing.h"
#include "lsm/merging_iterator.h"
#include "lsm/sstable.h"
#include "lsm/version.h"

namespace tidekv::lsm {
namespace {

using testing::Checkpoint;
using testing::StatValue;
using Model = std::map<std::string, std::string>;
using KVs = std::vector<std::pair<std::string, std::string>>;
using Clock = std::chrono::steady_clock;
const char* const kDir = "/db";

#define FAIL_AT(msg) ::tidekv::testing::ReportFailure(__FILE__, __LINE__, (msg))

uint64_t Rand(uint64_t* s) { return testing::SplitMix(s); }

std::string Key(uint64_t i) {
  char b[24];
  std::snprintf(b, sizeof b, "k%05llu", static_cast<unsigned long long>(i));
  return b;
}
std::string CounterKey(uint64_t i) {
  char b[24];
  std::snprintf(b, sizeof b, "c%05llu", static_cast<unsigned long long>(i));
  return b;
}
std::string RandomValue(uint64_t* rng) {
  const uint64_t x = Rand(rng);
  std::string v = std::to_string(x % 100000) + ":";
  v.append(x % 300, static_cast<char>('a' + x % 26));
  return v;
}
std::string Basename(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}
bool IsTableFile(const std::string& path) {
  uint64_t n = 0;
  return ParseTableFileName(Basename(path), &n);
}
const char* StyleName(LsmCompactionStyle s) { return s == LsmCompactionStyle::kLeveled ? "leveled" : "tiered"; }

std::unique_ptr<Engine> OpenOrFail(const LsmOptions& o, const std::string& where, Status* status = nullptr) {
  std::unique_ptr<Engine> e;
  Status s = Lsm::Open(o, kDir, &e);
  if (status != nullptr) *status = s;
  if (!s.ok() && status == nullptr) FAIL_AT(where + ": open: " + s.ToString());
  return e;
}

std::string StatsLine(Engine* e) {
  EngineStats stats;
  e->GetStats(&stats);
  std::string out = "keys=" + std::to_string(stats.keys);
  for (const auto& [n, v] : stats.extra) out += " " + n + "=" + std::to_string(v);
  return out;
}

// One random write to the engine and, when it succeeds, to the model: puts,
// deletes (checking `existed`), appends, counters (checking the result) and
// batches.
Status Mutate(Engine* e, Model* m, uint64_t* rng, int key_space, bool strict = true) {
  const uint64_t r = Rand(rng) % 100;
  const std::string k = Key(Rand(rng) % key_space);
  if (r < 55) {
    const std::string v = RandomValue(rng);
    TIDEKV_RETURN_IF_ERROR(e->Put(k, v));
    (*m)[k] = v;
  } else if (r < 75) {
    bool existed = false;
    TIDEKV_RETURN_IF_ERROR(e->Delete(k, &existed));
    const bool had = m->erase(k) == 1;
    if (strict && existed != had) FAIL_AT("Delete(" + k + ") said existed=" + std::to_string(existed) + ", model " + std::to_string(had));
  } else if (r < 85) {
    TIDEKV_RETURN_IF_ERROR(e->Merge(k, MergeOp::kAppend, "ab", nullptr));
    (*m)[k] += "ab";
  } else if (r < 93) {
    const std::string c = CounterKey(Rand(rng) % (key_space / 8 + 1));
    const int64_t delta = static_cast<int64_t>(Rand(rng) % 100) - 50;
    char d[8];
    StoreFixed64(d, static_cast<uint64_t>(delta));
    int64_t result = 0;
    TIDEKV_RETURN_IF_ERROR(e->Merge(c, MergeOp::kAddInt64, Slice(d, 8), &result));
    std::string& v = (*m)[c];
    const int64_t before = v.empty() ? 0 : static_cast<int64_t>(LoadFixed64(v.data()));
    if (strict && result != before + delta) FAIL_AT("counter " + c + " returned " + std::to_string(result));
    v.resize(8);
    StoreFixed64(v.data(), static_cast<uint64_t>(before + delta));
  } else {
    WriteBatch b;
    std::map<std::string, std::optional<std::string>> overlay;
    auto current = [&](const std::string& key) -> std::optional<std::string> {
      auto it = overlay.find(key);
      if (it != overlay.end()) return it->second;
      auto jt = m->find(key);
      if (jt != m->end()) return jt->second;
      return std::nullopt;
    };
    for (int i = 0, n = 1 + static_cast<int>(Rand(rng) % 5); i < n; ++i) {
      const std::string kk = Key(Rand(rng) % key_space);
      const uint64_t op = Rand(rng) % 3;
      if (op == 0) {
        const std::string v = RandomValue(rng);
        b.Put(kk, v);
        overlay[kk] = v;
      } else if (op == 1) {
        b.Delete(kk);
        overlay[kk] = std::nullopt;
      } else {
        b.Merge(kk, MergeOp::kAppend, "xy");
        overlay[kk] = current(kk).value_or("") + "xy";
      }
    }
    TIDEKV_RETURN_IF_ERROR(e->ApplyBatch(b, nullptr));
    for (auto& [kk, v] : overlay) {
      if (v.has_value()) {
        (*m)[kk] = *v;
      } else {
        m->erase(kk);
      }
    }
  }
  return Status::OK();
}

// Reads a whole cursor, `chunk` entries per Next call.
Status Drain(RangeCursor* c, KVs* out, size_t chunk = 7) {
  bool done = false;
  while (!done) {
    size_t n = 0;
    TIDEKV_RETURN_IF_ERROR(c->Next(
        [&](Slice k, Slice v) {
          out->emplace_back(std::string(k), std::string(v));
          return ++n % chunk != 0;
        },
        &done));
  }
  return Status::OK();
}

Status Scan(Engine* e, const RangeOptions& r, KVs* out) {
  std::unique_ptr<RangeCursor> c;
  TIDEKV_RETURN_IF_ERROR(e->NewRangeCursor(r, &c));
  return Drain(c.get(), out);
}

KVs ModelScan(const Model& m, const RangeOptions& r) {
  KVs out;
  for (const auto& [k, v] : m) {
    if (r.has_lower && (r.lower_inclusive ? k < r.lower : k <= r.lower)) continue;
    if (r.has_upper && (r.upper_inclusive ? k > r.upper : k >= r.upper)) continue;
    out.emplace_back(k, v);
  }
  if (r.reverse) std::reverse(out.begin(), out.end());
  if (out.size() > r.limit) out.resize(r.limit);
  return out;
}

std::string FirstDifference(const KVs& got, const KVs& want) {
  for (size_t i = 0; i < std::max(got.size(), want.size()); ++i) {
    if (i >= got.size()) return "missing " + want[i].first + " at " + std::to_string(i);
    if (i >= want.size()) return "extra " + got[i].first + " at " + std::to_string(i);
    if (got[i] != want[i]) {
      return "at " + std::to_string(i) + " got " + got[i].first + "=" + testing::Show(got[i].second).substr(0, 40) +
             ", want " + want[i].first + "=" + testing::Show(want[i].second).substr(0, 40);
    }
  }
  return "equal";
}

// The engine holds exactly `model`: every key of the key space reads right,
// full scans both ways match, the key count matches and Verify passes.
bool ExpectExactly(Engine* e, const Model& model, int key_space, const std::string& where) {
  bool ok = true;
  auto fail = [&](const std::string& what) {
    FAIL_AT(where + ": " + what);
    ok = false;
  };
  std::string v;
  int wrong = 0;
  for (int i = 0; i < key_space && wrong < 3; ++i) {
    for (const std::string& k : {Key(i), CounterKey(i)}) {
      Status s = e->Get(k, &v);
      auto it = model.find(k);
      if (it == model.end()) {
        if (!s.IsNotFound()) {
          fail(k + " should be absent, got " + (s.ok() ? "a value of " + std::to_string(v.size()) + " bytes" : s.ToString()));
          ++wrong;
        }
      } else if (!s.ok() || v != it->second) {
        fail(k + " wrong: " + (s.ok() ? testing::Show(v).substr(0, 60) : s.ToString()) + " want " +
             testing::Show(it->second).substr(0, 60));
        ++wrong;
      }
    }
  }
  for (bool reverse : {false, true}) {
    RangeOptions r;
    r.reverse = reverse;
    KVs got;
    Status s = Scan(e, r, &got);
    if (!s.ok()) {
      fail(std::string("scan: ") + s.ToString());
    } else {
      const KVs want = ModelScan(model, r);
      if (got != want) fail(std::string(reverse ? "reverse" : "forward") + " scan: " + FirstDifference(got, want));
    }
  }
  EngineStats stats;
  e->GetStats(&stats);
  if (stats.keys != model.size()) {
    fail("stats.keys " + std::to_string(stats.keys) + ", model holds " + std::to_string(model.size()));
  }
  Status vs = e->Verify();
  if (!vs.ok()) fail("Verify: " + vs.ToString());
  return ok;
}

// ---------------------------------------------------------------------------
// HookEnv: wraps an Env and asks a hook before every call that changes the
// file system. A non-OK answer fails the call without doing it. Lets a test
// crash at the N-th call, fail one thread's files, or slow them down.

enum class IoOp { kCreate, kWrite, kSync, kTruncate, kDelete, kRename, kSyncDir };
using Hook = std::function<Status(IoOp op, const std::string& path)>;

struct HookShared {
  std::mutex mu;
  std::shared_ptr<Hook> hook;
  Status Call(IoOp op, const std::string& path) {
    std::shared_ptr<Hook> h;
    {
      std::lock_guard<std::mutex> l(mu);
      h = hook;
    }
    return h ? (*h)(op, path) : Status::OK();
  }
};

class HookFile final : public File {
 public:
  HookFile(std::unique_ptr<File> base, std::shared_ptr<HookShared> shared)
      : base_(std::move(base)), shared_(std::move(shared)) {}
  Status ReadAt(uint64_t offset, size_t n, char* dst, size_t* bytes_read) override {
    return base_->ReadAt(offset, n, dst, bytes_read);
  }
  Status WriteAt(uint64_t offset, Slice data) override {
    TIDEKV_RETURN_IF_ERROR(shared_->Call(IoOp::kWrite, path()));
    return base_->WriteAt(offset, data);
  }
  Status Sync() override {
    TIDEKV_RETURN_IF_ERROR(shared_->Call(IoOp::kSync, path()));
    return base_->Sync();
  }
  Status Truncate(uint64_t size) override {
    TIDEKV_RETURN_IF_ERROR(shared_->Call(IoOp::kTruncate, path()));
    return base_->Truncate(size);
  }
  Status Size(uint64_t* size) override { return base_->Size(size); }
  Status Map(uint64_t offset, size_t length, std::unique_ptr<MappedRegion>* region) override {
    return base_->Map(offset, length, region);
  }
  const std::string& path() const override { return base_->path(); }

 private:
  std::unique_ptr<File> base_;
  std::shared_ptr<HookShared> shared_;
};

class HookEnv final : public Env {
 public:
  explicit HookEnv(Env* base) : base_(base), shared_(std::make_shared<HookShared>()) {}
  void SetHook(Hook hook) {
    std::lock_guard<std::mutex> l(shared_->mu);
    shared_->hook = hook ? std::make_shared<Hook>(std::move(hook)) : nullptr;
  }

  Status OpenFile(const std::string& path, OpenMode mode, std::unique_ptr<File>* file) override {
    if (mode != OpenMode::kReadOnly && mode != OpenMode::kReadWrite) {
      TIDEKV_RETURN_IF_ERROR(shared_->Call(IoOp::kCreate, path));
    }
    std::unique_ptr<File> f;
    TIDEKV_RETURN_IF_ERROR(base_->OpenFile(path, mode, &f));
    *file = std::make_unique<HookFile>(std::move(f), shared_);
    return Status::OK();
  }
  Status DeleteFile(const std::string& path) override {
    TIDEKV_RETURN_IF_ERROR(shared_->Call(IoOp::kDelete, path));
    return base_->DeleteFile(path);
  }
  Status RenameFile(const std::string& from, const std::string& to) override {
    TIDEKV_RETURN_IF_ERROR(shared_->Call(IoOp::kRename, to));
    return base_->RenameFile(from, to);
  }
  bool FileExists(const std::string& path) override { return base_->FileExists(path); }
  Status FileSize(const std::string& path, uint64_t* size) override { return base_->FileSize(path, size); }
  Status ListDir(const std::string& dir, std::vector<std::string>* names) override { return base_->ListDir(dir, names); }
  Status CreateDir(const std::string& dir) override { return base_->CreateDir(dir); }
  Status SyncDir(const std::string& dir) override {
    TIDEKV_RETURN_IF_ERROR(shared_->Call(IoOp::kSyncDir, dir));
    return base_->SyncDir(dir);
  }
  Status LockFile(const std::string& path, std::unique_ptr<FileLock>* lock) override {
    return base_->LockFile(path, lock);
  }

 private:
  Env* base_;
  std::shared_ptr<HookShared> shared_;
};

// The machine dies at the `at`-th mutating call: that call and every later
// one fail (nothing after the crash reaches the disk).
class CrashPoint {
 public:
  explicit CrashPoint(uint64_t at) : at_(at) {}
  Status Call(IoOp op, const std::string& path) {
    if (crashed_.load()) return Status::IoError("simulated crash: the machine is down (" + path + ")");
    if (++count_ >= at_) {
      crashed_ = true;
      return Status::IoError("simulated crash at this call (" + path + ")");
    }
    return Status::OK();
  }
  bool crashed() const { return crashed_.load(); }
  uint64_t count() const { return count_.load(); }

 private:
  const uint64_t at_;
  std::atomic<uint64_t> count_{0};
  std::atomic<bool> crashed_{false};
};

// Names of the files created through a HookEnv since it was installed.
struct Recorder {
  std::mutex mu;
  std::set<std::string> created;
  void Note(IoOp op, const std::string& path) {
    if (op != IoOp::kCreate) return;
    std::lock_guard<std::mutex> l(mu);
    created.insert(Basename(path));
  }
  std::set<std::string> Snapshot() {
    std::lock_guard<std::mutex> l(mu);
    return created;
  }
};

// A HookEnv over `base` that records the files created through it. Clear()
// marks a point (a reopen, a restore): files created later may be the live
// version's and are not orphans.
struct RecordingEnv {
  explicit RecordingEnv(Env* base) : env(base), rec(std::make_shared<Recorder>()) {
    auto r = rec;
    env.SetHook([r](IoOp op, const std::string& p) {
      r->Note(op, p);
      return Status::OK();
    });
  }
  void Clear() {
    std::lock_guard<std::mutex> l(rec->mu);
    rec->created.clear();
  }
  HookEnv env;
  std::shared_ptr<Recorder> rec;
};

// The flush thread creates the first table of a fresh store; any other
// thread writing a table is the compaction thread.
struct ThreadRoles {
  std::mutex mu;
  bool known = false;
  std::thread::id flush_thread;
  void Note(IoOp op, const std::string& path) {
    if (op != IoOp::kCreate || !IsTableFile(path)) return;
    std::lock_guard<std::mutex> l(mu);
    if (!known) {
      known = true;
      flush_thread = std::this_thread::get_id();
    }
  }
  bool IsCompaction(const std::string& path) {
    if (!IsTableFile(path)) return false;
    std::lock_guard<std::mutex> l(mu);
    return known && std::this_thread::get_id() != flush_thread;
  }
};

// Aborts the process, naming what hung, when not destroyed in time: a hang
// must fail loudly rather than stall the suite.
class Watchdog {
 public:
  Watchdog(std::string what, int seconds) : what_(std::move(what)) {
    thread_ = std::thread([this, seconds] {
      std::unique_lock<std::mutex> l(mu_);
      if (!cv_.wait_for(l, std::chrono::seconds(seconds), [&] { return done_; })) {
        std::fprintf(stderr, "\n  HANG: %s did not finish within %d s (seed %llu); aborting\n", what_.c_str(), seconds,
                     static_cast<unsigned long long>(testing::TestSeed()));
        std::fflush(stderr);
        std::abort();
      }
    });
  }
  ~Watchdog() {
    {
      std::lock_guard<std::mutex> l(mu_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  std::string what_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

// Runs each function on its own thread and waits up to `ms` for all of them.
// On timeout the threads are detached (they may still be inside the engine):
// the caller must leak whatever they use and report the hang.
bool RunAll(int ms, std::vector<std::function<void()>> fns) {
  struct Done {
    std::mutex mu;
    std::condition_variable cv;
    size_t remaining = 0;
  };
  auto done = std::make_shared<Done>();
  done->remaining = fns.size();
  std::vector<std::thread> threads;
  for (auto& fn : fns) {
    threads.emplace_back([done, fn = std::move(fn)] {
      fn();
      std::lock_guard<std::mutex> l(done->mu);
      --done->remaining;
      done->cv.notify_all();
    });
  }
  bool finished = false;
  {
    std::unique_lock<std::mutex> l(done->mu);
    finished = done->cv.wait_for(l, std::chrono::milliseconds(ms), [&] { return done->remaining == 0; });
  }
  for (auto& t : threads) {
    if (finished) {
      t.join();
    } else {
      t.detach();
    }
  }
  return finished;
}

// Table files in the directory that no retained checkpoint names and that
// were not created since `exempt` was recorded (those may be the live
// version's), plus any leftover temp file.
std::vector<std::string> Orphans(Env* env, Engine* db, const std::set<std::string>& exempt) {
  std::set<std::string> needed;
  std::vector<CheckpointInfo> list;
  db->ListCheckpoints(&list);
  for (const CheckpointInfo& i : list) {
    CheckpointManifest m;
    Status s = ReadManifest(env, kDir, i.version, &m);
    if (!s.ok()) FAIL_AT("retained checkpoint " + std::to_string(i.version) + " unreadable: " + s.ToString());
    needed.insert(m.files.begin(), m.files.end());
  }
  std::vector<std::string> names, orphans;
  (void)env->ListDir(kDir, &names);
  for (const std::string& n : names) {
    const bool temp = n.size() > 4 && n.compare(n.size() - 4, 4, ".tmp") == 0;
    if ((IsTableFile(n) && !needed.count(n) && !exempt.count(n)) || temp) orphans.push_back(n);
  }
  return orphans;
}

// Orphans must be gone (deletion runs on background threads: allow 2 s).
void ExpectNoOrphans(Env* env, Engine* db, Recorder* rec, const std::string& where) {
  std::vector<std::string> orphans;
  for (int i = 0; i < 200; ++i) {
    orphans = Orphans(env, db, rec != nullptr ? rec->Snapshot() : std::set<std::string>{});
    if (orphans.empty()) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::string list;
  for (const auto& n : orphans) list += " " + n;
  FAIL_AT(where + ": files no retained checkpoint names:" + list);
}

// Opens the store again on renv (its record of file operations restarted)
// after the caller closed it, and expects exactly `model`, no orphan files
// and, when `version` is not 0, that version as the newest checkpoint.
void ExpectReopens(RecordingEnv* renv, const LsmOptions& o, const Model& model, uint64_t version, const std::string& what) {
  renv->Clear();
  auto db = OpenOrFail(o, what);
  if (db == nullptr) return;
  if (version != 0) EXPECT_EQ(db->LastCheckpointVersion(), version);
  ExpectExactly(db.get(), model, 400, what);
  ExpectNoOrphans(&renv->env, db.get(), renv->rec.get(), what);
}

std::set<std::string> ManifestTables(Env* env, uint64_t version) {
  CheckpointManifest m;
  Status s = ReadManifest(env, kDir, version, &m);
  if (!s.ok()) FAIL_AT("read manifest " + std::to_string(version) + ": " + s.ToString());
  return std::set<std::string>(m.files.begin(), m.files.end());
}

// ===========================================================================
// 1. A crash at any mutating call: the store reopens at exactly one completed
// checkpoint — the last one, or the one being written at the crash.

struct CrashRun {
  std::map<uint64_t, Model> versions;  // completed checkpoints (latest use of each version number)
  uint64_t last_ok = 0;
  bool checkpoint_in_flight = false;
  uint64_t in_flight_version = 0;
  Model in_flight_model;
  bool restore_in_flight = false;
  std::vector<uint64_t> restore_allowed;  // versions a crash mid-restore may leave newest
  bool crashed = false;
  uint64_t calls = 0;
  std::string last_action;
};

constexpr int kCrashKeySpace = 300;

// durable_names: every table's directory entry is made durable when the
// table is synced (an extra directory fsync the engine does not do), which
// takes the known "manifest without its tables" failure out of the picture
// so that the crash runs can find anything else.
void CrashWorkload(LsmCompactionStyle style, uint64_t seed, uint64_t crash_at, MemEnv* mem, CrashRun* run,
                   const std::string& tag, bool durable_names) {
  HookEnv env(mem);
  auto crash = std::make_shared<CrashPoint>(crash_at);
  env.SetHook([crash, mem, durable_names](IoOp op, const std::string& p) {
    Status s = crash->Call(op, p);
    if (s.ok() && durable_names && op == IoOp::kSync && IsTableFile(p)) s = mem->SyncDir(kDir);
    return s;
  });
  LsmOptions o = TinyLsmOptions(&env, style);
  std::unique_ptr<Engine> db;
  Status s = Lsm::Open(o, kDir, &db);
  if (!s.ok()) {
    if (!crash->crashed()) FAIL_AT(tag + ": open: " + s.ToString());
    run->crashed = crash->crashed();
    return;
  }
  uint64_t rng = seed;
  Model model;
  for (int step = 0; step < 2500 && !crash->crashed(); ++step) {
    const uint64_t r = Rand(&rng) % 1000;
    if (r < 975) {
      run->last_action = "write";
      s = Mutate(db.get(), &model, &rng, kCrashKeySpace);
      if (!s.ok()) {
        if (!crash->crashed()) FAIL_AT(tag + ": write failed before the crash: " + s.ToString());
        break;
      }
    } else if (r < 990) {
      run->last_action = "checkpoint";
      std::shared_ptr<CheckpointTicket> ticket;
      s = db->BeginCheckpoint(CheckpointRequest{}, &ticket);
      if (!s.ok()) {
        if (!crash->crashed()) FAIL_AT(tag + ": BeginCheckpoint: " + s.ToString());
        break;
      }
      CheckpointInfo info;
      s = db->FinishCheckpoint(ticket, &info);
      if (s.ok()) {
        if (info.version != ticket->version) FAIL_AT(tag + ": info.version differs from the ticket's");
        run->versions[info.version] = model;
        run->last_ok = info.version;
      } else {
        if (!crash->crashed()) FAIL_AT(tag + ": checkpoint failed before the crash: " + s.ToString());
        run->checkpoint_in_flight = true;
        run->in_flight_version = ticket->version;
        run->in_flight_model = model;
        break;
      }
    } else if (r < 993) {
      run->last_action = "compact";
      CompactionResult result;
      s = db->Compact(&result);
      if (!s.ok()) {
        if (!crash->crashed()) FAIL_AT(tag + ": Compact failed before the crash: " + s.ToString());
        break;
      }
    } else {
      std::vector<CheckpointInfo> list;
      db->ListCheckpoints(&list);
      if (list.empty()) continue;
      run->last_action = "restore";
      const uint64_t v = list[Rand(&rng) % list.size()].version;
      std::vector<uint64_t> allowed;
      for (const CheckpointInfo& i : list) {
        if (i.version >= v) allowed.push_back(i.version);
      }
      s = db->Restore(v);
      if (s.ok()) {
        model = run->versions.at(v);
        run->last_ok = v;
        run->versions.erase(run->versions.upper_bound(v), run->versions.end());
      } else {
        if (!crash->crashed()) FAIL_AT(tag + ": Restore failed before the crash: " + s.ToString());
        run->restore_in_flight = true;
        run->restore_allowed = allowed;
        break;
      }
    }
  }
  db.reset();  // Close: whatever it still writes fails once crashed
  run->crashed = crash->crashed();
  run->calls = crash->count();
}

void CheckAfterCrash(LsmCompactionStyle style, MemEnv* mem, const CrashRun& run, uint64_t crash_seed,
                     bool deep, const std::string& tag) {
  mem->SimulateCrash(crash_seed);
  HookEnv env(mem);
  auto rec = std::make_shared<Recorder>();
  env.SetHook([rec](IoOp op, const std::string& p) {
    rec->Note(op, p);
    return Status::OK();
  });
  LsmOptions o = TinyLsmOptions(&env, style);
  Status s;
  auto db = OpenOrFail(o, tag, &s);
  if (!s.ok()) {
    FAIL_AT(tag + ": reopen after the crash failed: " + s.ToString() + " (last action " + run.last_action + ")");
    return;
  }
  static const Model kEmpty;
  std::map<uint64_t, const Model*> allowed;
  allowed[run.last_ok] = run.last_ok == 0 ? &kEmpty : &run.versions.at(run.last_ok);
  if (run.checkpoint_in_flight) allowed[run.in_flight_version] = &run.in_flight_model;
  if (run.restore_in_flight) {
    for (uint64_t v : run.restore_allowed) allowed[v] = &run.versions.at(v);
  }
  const uint64_t got = db->LastCheckpointVersion();
  if (!allowed.count(got)) {
    std::string list;
    for (const auto& [v, m] : allowed) list += " " + std::to_string(v);
    FAIL_AT(tag + ": recovered checkpoint " + std::to_string(got) + ", allowed:" + list + " (last action " +
            run.last_action + ")");
    return;
  }
  if (!ExpectExactly(db.get(), *allowed[got], kCrashKeySpace, tag + " recovered v" + std::to_string(got))) return;
  ExpectNoOrphans(&env, db.get(), rec.get(), tag + " after reopen");
  if (!deep) return;
  // The older retained checkpoints survived too, each exactly.
  std::vector<CheckpointInfo> list;
  db->ListCheckpoints(&list);
  for (auto it = list.rbegin(); it != list.rend(); ++it) {
    const uint64_t v = it->version;
    const Model* want = v == run.in_flight_version && run.checkpoint_in_flight ? &run.in_flight_model
                        : run.versions.count(v)                                ? &run.versions.at(v)
                                                                               : nullptr;
    if (want == nullptr) {
      FAIL_AT(tag + ": retained checkpoint " + std::to_string(v) + " was never completed");
      continue;
    }
    if (v == got) continue;
    Status rs = db->Restore(v);
    if (!rs.ok()) {
      FAIL_AT(tag + ": restore " + std::to_string(v) + ": " + rs.ToString());
      break;
    }
    if (!ExpectExactly(db.get(), *want, kCrashKeySpace, tag + " older checkpoint v" + std::to_string(v))) return;
  }
  // And the store goes on.
  Model model = list.empty() ? *allowed[got] : *(list.front().version == got ? allowed[got] : &run.versions.at(list.front().version));
  uint64_t rng = crash_seed;
  for (int i = 0; i < 300; ++i) {
    Status ms = Mutate(db.get(), &model, &rng, kCrashKeySpace);
    if (!ms.ok()) {
      FAIL_AT(tag + ": write after recovery: " + ms.ToString());
      return;
    }
  }
  Status cs = Checkpoint(db.get());
  if (!cs.ok()) FAIL_AT(tag + ": checkpoint after recovery: " + cs.ToString());
  db.reset();
  db = OpenOrFail(TinyLsmOptions(mem, style), tag + " second reopen");
  if (db != nullptr) ExpectExactly(db.get(), model, kCrashKeySpace, tag + " after recovery + checkpoint + reopen");
}

void CrashAtAnyCall(LsmCompactionStyle style, uint64_t seed_base, int runs, bool durable_names) {
  // A run without a crash tells how many mutating calls the workload makes
  // (it varies a little with thread timing).
  uint64_t total = 0;
  {
    MemEnv mem;
    CrashRun run;
    CrashWorkload(style, seed_base, UINT64_MAX, &mem, &run, "dry run", durable_names);
    total = run.calls;
  }
  std::printf("    %s: about %llu mutating calls per run\n", StyleName(style), static_cast<unsigned long long>(total));
  uint64_t rng = seed_base ^ 0xC4A5;
  int crashed_in_checkpoint = 0, crashed_in_restore = 0, other = 0;
  for (int i = 0; i < runs; ++i) {
    const uint64_t at = i < 10 ? static_cast<uint64_t>(i + 1) : 1 + Rand(&rng) % std::max<uint64_t>(total, 1);
    const uint64_t seed = seed_base + static_cast<uint64_t>(i) * 7919;
    const std::string tag = std::string(StyleName(style)) + (durable_names ? " (durable table names)" : "") +
                            " workload seed " + std::to_string(seed) + " crash at call " + std::to_string(at);
    Watchdog dog(tag, 60);
    MemEnv mem;
    CrashRun run;
    CrashWorkload(style, seed, at, &mem, &run, tag, durable_names);
    if (!run.crashed) continue;  // the workload ended first
    if (run.checkpoint_in_flight) {
      ++crashed_in_checkpoint;
    } else if (run.restore_in_flight) {
      ++crashed_in_restore;
    } else {
      ++other;
    }
    CheckAfterCrash(style, &mem, run, Rand(&rng), i % 4 == 0, tag);
  }
  std::printf("    %s: %d runs; crashes in a checkpoint %d, in a restore %d, elsewhere %d\n", StyleName(style), runs,
              crashed_in_checkpoint, crashed_in_restore, other);
}

TEST(LsmFaults, CrashAtAnyCallLeveled) {
  CrashAtAnyCall(LsmCompactionStyle::kLeveled, testing::TestSeed() * 31, 150, false);
}
TEST(LsmFaults, CrashAtAnyCallSizeTiered) {
  CrashAtAnyCall(LsmCompactionStyle::kSizeTiered, testing::TestSeed() * 37 + 5, 150, false);
}
TEST(LsmFaults, CrashAtAnyCallWithDurableTableNamesLeveled) {
  CrashAtAnyCall(LsmCompactionStyle::kLeveled, testing::TestSeed() * 41 + 1, 150, true);
}
TEST(LsmFaults, CrashAtAnyCallWithDurableTableNamesSizeTiered) {
  CrashAtAnyCall(LsmCompactionStyle::kSizeTiered, testing::TestSeed() * 43 + 2, 150, true);
}

// The focused form of the crash above: the machine dies at the first or the
// second directory fsync of the first checkpoint (one of them makes its
// manifest rename durable).
// Every namespace change since the last directory fsync — the rename, and
// the creation of the tables the manifest names — may or may not survive
// (MemEnv keeps each with probability 1/2). A manifest must never survive
// without its tables: the store must reopen (empty, or at checkpoint 1).
TEST(LsmFaults, CrashAtTheManifestDirectorySyncNeverLosesItsTables) {
  int broken = 0, at_checkpoint = 0, empty = 0;
  std::string first_error;
  for (uint64_t seed = 0; seed < 32; ++seed) {
    MemEnv mem;
    Model model;
    {
      HookEnv env(&mem);
      auto crash = std::make_shared<CrashPoint>(1);
      auto syncdirs = std::make_shared<std::atomic<int>>(0);
      const int crash_at = 1 + static_cast<int>(seed % 2);
      env.SetHook([crash, syncdirs, crash_at](IoOp op, const std::string& path) {
        if (crash->crashed() || (op == IoOp::kSyncDir && ++*syncdirs == crash_at)) return crash->Call(op, path);
        return Status::OK();
      });
      auto db = OpenOrFail(TinyLsmOptions(&env, LsmCompactionStyle::kLeveled), "dirsync crash");
      ASSERT_TRUE(db != nullptr);
      for (int i = 0; i < 1000; ++i) {
        model[Key(i)] = std::string(150, 'a' + i % 26);
        ASSERT_OK(db->Put(Key(i), model[Key(i)]));
      }
      Status s = Checkpoint(db.get());
      if (!crash->crashed()) continue;  // a single directory fsync: nothing to crash at
      ASSERT_TRUE(!s.ok());
    }
    mem.SimulateCrash(testing::TestSeed() + seed);
    Status s;
    auto db = OpenOrFail(TinyLsmOptions(&mem, LsmCompactionStyle::kLeveled), "reopen", &s);
    if (!s.ok()) {
      if (broken++ == 0) first_error = "crash seed " + std::to_string(testing::TestSeed() + seed) + ": " + s.ToString();
      continue;
    }
    if (db->LastCheckpointVersion() == 1) {
      ++at_checkpoint;
      ExpectExactly(db.get(), model, 1000, "crash at the manifest's dir sync: checkpoint 1");
    } else {
      ++empty;
      ExpectExactly(db.get(), Model{}, 1000, "crash at the manifest's dir sync: empty");
    }
  }
  std::printf("    32 crashes: %d reopened at checkpoint 1, %d empty, %d failed to open\n", at_checkpoint, empty, broken);
  if (broken > 0) {
    FAIL_AT("BUG: " + std::to_string(broken) +
            " of 32 crashes at the directory fsync after the manifest rename left a manifest whose tables are gone "
            "(the tables' directory entries were never fsynced before the rename). First: " +
            first_error);
  }
}

// A writer waits at stop_runs (compaction cannot run: its disk calls fail)
// when Restore swaps in the checkpoint's smaller tree and a new, empty
// memtable. The writer wakes up and must not freeze that empty memtable
// (a flush of it fails forever: "an empty table").
TEST(LsmFaults, RestoreUnderAStalledWriterLeavesTheStoreUsable) {
  Watchdog dog("restore under a stalled writer", 60);
  MemEnv mem;
  HookEnv env(&mem);
  auto roles = std::make_shared<ThreadRoles>();
  auto failing = std::make_shared<std::atomic<bool>>(false);
  env.SetHook([roles, failing](IoOp op, const std::string& path) {
    roles->Note(op, path);
    if (failing->load() && roles->IsCompaction(path)) {
      return Status::IoError("write " + path + ": No space left on device (injected)");
    }
    return Status::OK();
  });
  LsmOptions o = TinyLsmOptions(&env, LsmCompactionStyle::kLeveled);
  o.runs_per_level = 2;
  o.slowdown_runs = 2;
  o.stop_runs = 3;
  auto owned = OpenOrFail(o, "restore under stall");
  ASSERT_TRUE(owned != nullptr);
  std::shared_ptr<Engine> db(std::move(owned));
  Model m1;
  for (int i = 0; i < 100; ++i) {
    m1[Key(i)] = "base";
    ASSERT_OK(db->Put(Key(i), "base"));
  }
  CheckpointInfo c1;
  ASSERT_OK(Checkpoint(db.get(), &c1));  // one level-0 run
  *failing = true;
  struct Writer {
    std::atomic<bool> done{false};
    std::atomic<int> accepted{0};
    Status status;
  };
  auto wr = std::make_shared<Writer>();
  std::thread writer([db, wr] {
    for (int i = 0; i < 2000; ++i) {
      Status s = db->Put("w" + std::to_string(i), std::string(200, 'w'));
      if (!s.ok()) {
        wr->status = s;
        break;
      }
      ++wr->accepted;
    }
    wr->done = true;
  });
  // Wait for the writer to stall at stop_runs.
  int last = -1;
  for (int i = 0; i < 300; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (wr->done.load()) break;
    const int now = wr->accepted.load();
    if (now == last && StatValue(db.get(), "level0Runs") >= 3) break;
    last = now;
  }
  if (wr->done.load() && wr->status.code() != StatusCode::kIoError) {
    FAIL_AT("the writer did not stall (" + wr->status.ToString() + ")");
    writer.join();
    return;
  }
  // A writer behind a compaction that keeps failing gets the error instead of
  // waiting on (WritersStalledBehindAFailingCompactionGetAnError); either way
  // the restore below must leave the store usable.
  ASSERT_OK(db->Restore(c1.version));
  *failing = false;
  for (int i = 0; i < 500 && !wr->done.load(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  const bool finished = wr->done.load();
  writer.join();  // the watchdog reports a hang
  if (!finished) FAIL_AT("the writer stayed blocked for 5 s after Restore");
  // The writer may have got the compaction's I/O error while the disk was failing.
  if (!wr->status.ok() && wr->status.code() != StatusCode::kIoError) {
    FAIL_AT("BUG: after a Restore under a writer stalled at stop_runs, writes fail: " + wr->status.ToString() +
            " (the woken writer froze the fresh empty memtable; its flush can never succeed)");
  }
  Status ps = db->Put("after-restore", "ok");
  if (!ps.ok()) FAIL_AT("a write after the Restore failed: " + ps.ToString());
  Status cs = Checkpoint(db.get());
  if (!cs.ok()) FAIL_AT("checkpoint after a Restore under a stalled writer: " + cs.ToString());
  EXPECT_OK(db->Verify());
}

// ===========================================================================
// 2. Disk faults: the call fails with an I/O error, the previous checkpoint
// stays intact, and the store is usable once the disk recovers.

struct FaultCase {
  const char* name;
  FaultPlan plan;
};

std::vector<FaultCase> TableFaults() {
  std::vector<FaultCase> cases;
  FaultPlan p;
  p.path_filter = "table-";
  p.fail_writes_after_bytes = 0;
  cases.push_back({"ENOSPC at the first byte of a table", p});
  p.fail_writes_after_bytes = 3000;
  cases.push_back({"ENOSPC after 3000 bytes (torn table)", p});
  p = FaultPlan();
  p.path_filter = "table-";
  p.fail_sync = true;
  cases.push_back({"EIO on a table's fsync", p});
  p = FaultPlan();
  p.path_filter = "table-";
  p.fail_open = true;
  cases.push_back({"EIO creating a table", p});
  return cases;
}

std::vector<FaultCase> ManifestFaults() {
  std::vector<FaultCase> cases;
  FaultPlan p;
  p.path_filter = "checkpoint-";
  p.fail_writes_after_bytes = 0;
  cases.push_back({"ENOSPC at the manifest's first byte", p});
  p.fail_writes_after_bytes = 40;
  cases.push_back({"ENOSPC after 40 manifest bytes", p});
  p = FaultPlan();
  p.path_filter = "checkpoint-";
  p.fail_sync = true;
  cases.push_back({"EIO on the manifest's fsync", p});
  p = FaultPlan();
  p.path_filter = "checkpoint-";
  p.fail_rename = true;
  cases.push_back({"EIO renaming the manifest", p});
  p = FaultPlan();
  p.path_filter = "checkpoint-";
  p.fail_open = true;
  cases.push_back({"EIO creating the manifest", p});
  return cases;
}


// Writes w<i> (outside the model's key space) until a write fails. The keys
// the engine took go into the model; a write that reports a stall error may
// already be applied, so it is read back.
Status WriteUntilError(Engine* db, Model* model, int max, int* accepted) {
  Status w;
  for (int i = 0; i < max; ++i) {
    const std::string k = "w" + std::to_string(i);
    const std::string v(200, 'w');
    w = db->Put(k, v);
    if (w.ok()) {
      (*model)[k] = v;
      ++*accepted;
      continue;
    }
    std::string got;
    if (db->Get(k, &got).ok() && got == v) (*model)[k] = v;
    return w;
  }
  return w;
}

// A memtable flush fails (inside a checkpoint, which waits for it).
// reopen_while_broken: close and reopen before the disk recovers; else clear
// the fault and go on.
void FlushFault(const FaultCase& fc, bool reopen_while_broken, int which) {
  const std::string tag = std::string(fc.name) + (reopen_while_broken ? " (reopen while failing)" : " (recover)");
  Watchdog dog("flush fault: " + tag, 30);
  MemEnv mem;
  FaultEnv env(&mem);
  RecordingEnv renv(&env);
  LsmOptions o = TinyLsmOptions(&renv.env, which % 2 ? LsmCompactionStyle::kSizeTiered : LsmCompactionStyle::kLeveled);
  o.max_immutable_memtables = 1;
  auto db = OpenOrFail(o, tag);
  if (db == nullptr) return;
  uint64_t rng = testing::TestSeed() + 100 + which;
  Model model;
  for (int i = 0; i < 1500; ++i) ASSERT_OK(Mutate(db.get(), &model, &rng, 400));
  CheckpointInfo first;
  ASSERT_OK(Checkpoint(db.get(), &first));
  const Model at_first = model;
  for (int i = 0; i < 200; ++i) ASSERT_OK(Mutate(db.get(), &model, &rng, 400));
  env.Arm(fc.plan);
  Status s = Checkpoint(db.get());
  if (s.code() != StatusCode::kIoError) FAIL_AT(tag + ": checkpoint with a failing flush -> " + s.ToString());
  EXPECT_TRUE(env.faults_fired() > 0);
  EXPECT_EQ(db->LastCheckpointVersion(), first.version);
  // Writers filling the memtables while every flush fails get the error: none hangs.
  int accepted = 0;
  Status w = WriteUntilError(db.get(), &model, 20000, &accepted);
  if (w.code() != StatusCode::kIoError) {
    FAIL_AT(tag + ": 4 MB of writes while every flush fails -> " + w.ToString() + " after " + std::to_string(accepted));
  }
  // The live state still reads right.
  ExpectExactly(db.get(), model, 400, tag + ": live, flushes failing");
  if (reopen_while_broken) {
    db.reset();  // Close with the disk still failing
    env.Disarm();
    ExpectReopens(&renv, o, at_first, 0, tag + ": reopened at the first checkpoint");
    return;
  }
  env.Disarm();
  // The disk works again: the next write that needs a memtable switch should
  // get through (the flush can now succeed), not replay the old error.
  {
    const std::string k = "after-recovery";
    Status first = db->Put(k, "x");
    model[k] = "x";  // applied either way (the error comes from the switch)
    if (!first.ok()) {
      FAIL_AT(tag + ": BUG (minor): the first write after the disk recovered failed with the stale flush error: " +
              first.ToString());
      std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the flush thread's retry
    }
  }
  for (int i = 0; i < 300; ++i) ASSERT_OK(Mutate(db.get(), &model, &rng, 400));
  CheckpointInfo info;
  s = Checkpoint(db.get(), &info);
  if (!s.ok()) {
    FAIL_AT(tag + ": checkpoint after the disk recovered: " + s.ToString());
    return;
  }
  EXPECT_TRUE(info.version > first.version);
  ExpectExactly(db.get(), model, 400, tag + ": live after recovery");
  db.reset();
  ExpectReopens(&renv, o, model, info.version, tag + ": reopened after recovery");
}

TEST(LsmFaults, FailedFlushFailsTheCheckpointKeepsThePreviousAndRecovers) {
  const auto cases = TableFaults();
  for (size_t i = 0; i < cases.size(); ++i) {
    FlushFault(cases[i], false, static_cast<int>(i));
    FlushFault(cases[i], true, static_cast<int>(i));
  }
}

// A compaction (Compact()) fails: the error reaches the caller, reads stay
// right, and compaction works again once the disk recovers.
void CompactionFault(const FaultCase& fc, bool reopen_while_broken, int which) {
  const std::string tag =
      std::string("compaction: ") + fc.name + (reopen_while_broken ? " (reopen while failing)" : " (recover)");
  Watchdog dog(tag, 30);
  MemEnv mem;
  FaultEnv env(&mem);
  RecordingEnv renv(&env);
  const LsmCompactionStyle style = which % 2 ? LsmCompactionStyle::kLeveled : LsmCompactionStyle::kSizeTiered;
  LsmOptions o = TinyLsmOptions(&renv.env, style);
  auto db = OpenOrFail(o, tag);
  if (db == nullptr) return;
  uint64_t rng = testing::TestSeed() + 200 + which;
  Model model;
  for (int i = 0; i < 2500; ++i) ASSERT_OK(Mutate(db.get(), &model, &rng, 400));
  CheckpointInfo first;
  ASSERT_OK(Checkpoint(db.get(), &first));  // flushes everything: Compact() writes only compaction output
  env.Arm(fc.plan);
  CompactionResult result;
  Status s = db->Compact(&result);
  if (s.code() != StatusCode::kIoError) FAIL_AT(tag + ": Compact -> " + s.ToString());
  EXPECT_TRUE(env.faults_fired() > 0);
  ExpectExactly(db.get(), model, 400, tag + ": live after the failed compaction");
  EXPECT_EQ(db->LastCheckpointVersion(), first.version);
  if (reopen_while_broken) {
    db.reset();
    env.Disarm();
    ExpectReopens(&renv, o, model, 0, tag + ": reopened");
    return;
  }
  env.Disarm();
  s = db->Compact(&result);
  if (!s.ok()) FAIL_AT(tag + ": Compact after the disk recovered: " + s.ToString());
  for (int i = 0; i < 300; ++i) ASSERT_OK(Mutate(db.get(), &model, &rng, 400));
  ASSERT_OK(Checkpoint(db.get()));
  ExpectExactly(db.get(), model, 400, tag + ": live after recovery");
  db.reset();
  ExpectReopens(&renv, o, model, 0, tag + ": reopened after recovery");
}

TEST(LsmFaults, FailedCompactionReportsAndRecovers) {
  const auto cases = TableFaults();
  for (size_t i = 0; i < cases.size(); ++i) {
    CompactionFault(cases[i], false, static_cast<int>(i));
    CompactionFault(cases[i], true, static_cast<int>(i));
  }
}

// The manifest write fails: the checkpoint fails, nothing of it is left
// behind, the previous checkpoint is what a reopen gives.
void ManifestFault(const FaultCase& fc, bool reopen_while_broken, int which) {
  const std::string tag =
      std::string("manifest: ") + fc.name + (reopen_while_broken ? " (reopen while failing)" : " (recover)");
  Watchdog dog(tag, 30);
  MemEnv mem;
  FaultEnv env(&mem);
  RecordingEnv renv(&env);
  LsmOptions o = TinyLsmOptions(&renv.env, which % 2 ? LsmCompactionStyle::kLeveled : LsmCompactionStyle::kSizeTiered);
  auto db = OpenOrFail(o, tag);
  if (db == nullptr) return;
  uint64_t rng = testing::TestSeed() + 300 + which;
  Model model;
  for (int i = 0; i < 1500; ++i) ASSERT_OK(Mutate(db.get(), &model, &rng, 400));
  CheckpointInfo first;
  ASSERT_OK(Checkpoint(db.get(), &first));
  const Model at_first = model;
  for (int i = 0; i < 300; ++i) ASSERT_OK(Mutate(db.get(), &model, &rng, 400));
  env.Arm(fc.plan);
  Status s = Checkpoint(db.get());
  if (s.code() != StatusCode::kIoError) FAIL_AT(tag + ": checkpoint -> " + s.ToString());
  EXPECT_TRUE(env.faults_fired() > 0);
  EXPECT_EQ(db->LastCheckpointVersion(), first.version);
  std::vector<CheckpointInfo> list;
  db->ListCheckpoints(&list);
  EXPECT_EQ(list.size(), size_t{1});
  if (mem.FileExists(std::string(kDir) + "/" + ManifestFileName(first.version + 1))) {
    FAIL_AT(tag + ": the failed checkpoint's manifest is in the directory");
  }
  if (mem.FileExists(std::string(kDir) + "/" + ManifestFileName(first.version + 1) + ".tmp")) {
    FAIL_AT(tag + ": the failed checkpoint's temp manifest is left behind");
  }
  if (reopen_while_broken) {
    db.reset();
    env.Disarm();
    ExpectReopens(&renv, o, at_first, first.version, tag + ": reopened at the first checkpoint");
    return;
  }
  env.Disarm();
  for (int i = 0; i < 300; ++i) ASSERT_OK(Mutate(db.get(), &model, &rng, 400));
  CheckpointInfo info;
  ASSERT_OK(Checkpoint(db.get(), &info));
  ExpectExactly(db.get(), model, 400, tag + ": live after recovery");
  ASSERT_OK(db->Restore(first.version));
  ExpectExactly(db.get(), at_first, 400, tag + ": restored to the first checkpoint");
  ASSERT_OK(db->Restore(first.version));
  db.reset();
  ExpectReopens(&renv, o, at_first, 0, tag + ": reopened after restore");
}

TEST(LsmFaults, FailedManifestWriteKeepsThePreviousCheckpoint) {
  const auto cases = ManifestFaults();
  for (size_t i = 0; i < cases.size(); ++i) {
    ManifestFault(cases[i], false, static_cast<int>(i));
    ManifestFault(cases[i], true, static_cast<int>(i));
  }
}

// The directory fsync that makes a manifest's rename durable fails (EIO).
// FinishCheckpoint reports the error, so the caller considers the checkpoint
// failed. The rename has happened though: the manifest is in the directory
// while the engine does not retain it, so nothing keeps its tables alive.
// After more writes and a compaction (no further checkpoint), a reopen must
// still work and give the previous checkpoint (or, at worst, the one whose
// fsync failed, complete).
TEST(LsmFaults, FailedDirectorySyncAfterTheManifestRename) {
  for (int style = 0; style < 2; ++style) {
    const std::string tag = std::string("dir fsync ") + (style ? "tiered" : "leveled");
    Watchdog dog(tag, 30);
    MemEnv mem;
    HookEnv env(&mem);
    auto fail_syncdir = std::make_shared<std::atomic<int>>(0);
    env.SetHook([fail_syncdir](IoOp op, const std::string& path) {
      if (op == IoOp::kSyncDir && fail_syncdir->load() > 0) {
        --*fail_syncdir;
        return Status::IoError("fsync directory " + path + ": Input/output error (injected)");
      }
      return Status::OK();
    });
    LsmOptions o = TinyLsmOptions(&env, style ? LsmCompactionStyle::kSizeTiered : LsmCompactionStyle::kLeveled);
    auto db = OpenOrFail(o, tag);
    ASSERT_TRUE(db != nullptr);
    uint64_t rng = testing::TestSeed() + 400 + style;
    Model model;
    for (int i = 0; i < 1500; ++i) ASSERT_OK(Mutate(db.get(), &model, &rng, 400));
    CheckpointInfo first;
    ASSERT_OK(Checkpoint(db.get(), &first));
    const Model m1 = model;
    for (int i = 0; i < 600; ++i) ASSERT_OK(Mutate(db.get(), &model, &rng, 400));
    const Model m2 = model;
    *fail_syncdir = 1;
    Status s = Checkpoint(db.get());
    EXPECT_EQ(s.code(), StatusCode::kIoError);
    EXPECT_EQ(db->LastCheckpointVersion(), first.version);
    const bool visible = mem.FileExists(std::string(kDir) + "/" + ManifestFileName(first.version + 1));
    std::printf("    %s: failed checkpoint %llu -> %s; its manifest %s in the directory\n", tag.c_str(),
                static_cast<unsigned long long>(first.version + 1), s.ToString().c_str(), visible ? "IS" : "is not");
    for (int i = 0; i < 1500; ++i) ASSERT_OK(Mutate(db.get(), &model, &rng, 400));
    CompactionResult r;
    ASSERT_OK(db->Compact(&r));
    db.reset();
    Status os;
    db = OpenOrFail(TinyLsmOptions(&mem, style ? LsmCompactionStyle::kSizeTiered : LsmCompactionStyle::kLeveled), tag, &os);
    if (!os.ok()) {
      FAIL_AT(tag + ": BUG: after a failed directory fsync (checkpoint reported failed) plus writes and a compaction, "
                    "the store no longer opens: " +
              os.ToString());
      continue;
    }
    const uint64_t got = db->LastCheckpointVersion();
    if (got == first.version) {
      ExpectExactly(db.get(), m1, 400, tag + ": reopened at the previous checkpoint");
    } else if (got == first.version + 1) {
      ExpectExactly(db.get(), m2, 400, tag + ": reopened at the checkpoint reported failed");
    } else {
      FAIL_AT(tag + ": reopened at checkpoint " + std::to_string(got));
    }
  }
}

// Compaction fails (ENOSPC on its output) while flushes still succeed: level
// 0 fills up to stop_runs and writers wait for a compaction that cannot
// happen. They must get an error rather than block until the disk recovers.
TEST(LsmFaults, WritersStalledBehindAFailingCompactionGetAnError) {
  Watchdog dog("writers behind a failing compaction", 60);
  MemEnv mem;
  HookEnv env(&mem);
  auto roles = std::make_shared<ThreadRoles>();
  auto failing = std::make_shared<std::atomic<bool>>(false);
  auto fired = std::make_shared<std::atomic<uint64_t>>(0);
  env.SetHook([roles, failing, fired](IoOp op, const std::string& path) {
    roles->Note(op, path);
    if (failing->load() && roles->IsCompaction(path)) {
      ++*fired;
      return Status::IoError("write " + path + ": No space left on device (injected)");
    }
    return Status::OK();
  });
  LsmOptions o = TinyLsmOptions(&env, LsmCompactionStyle::kLeveled);
  o.runs_per_level = 2;
  o.slowdown_runs = 2;
  o.stop_runs = 3;
  o.max_immutable_memtables = 2;
  auto db = OpenOrFail(o, "stall");
  ASSERT_TRUE(db != nullptr);
  for (int i = 0; i < 500; ++i) ASSERT_OK(db->Put("a" + std::to_string(i), std::string(200, 'a')));
  for (int i = 0; i < 500 && StatValue(db.get(), "flushes") == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_TRUE(StatValue(db.get(), "flushes") > 0);
  *failing = true;
  struct Writer {
    std::atomic<bool> done{false}, stop{false};
    Status status;
    int accepted = 0;
  };
  auto wr = std::make_shared<Writer>();
  Engine* raw = db.get();
  std::thread writer([wr, raw] {
    for (int i = 0; i < 40000 && !wr->stop.load(); ++i) {
      Status s = raw->Put("w" + std::to_string(i), std::string(200, 'w'));
      if (!s.ok()) {
        wr->status = s;
        break;
      }
      ++wr->accepted;
    }
    wr->done = true;
  });
  const auto start = Clock::now();
  while (!wr->done.load() && Clock::now() - start < std::chrono::seconds(2)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const bool returned = wr->done.load();
  const std::string stats = StatsLine(db.get());
  *failing = false;  // let it through either way
  wr->stop = true;
  writer.join();
  std::printf("    compaction failures injected: %llu; writer %s after %d writes (%s)\n",
              static_cast<unsigned long long>(fired->load()), returned ? "returned" : "was still blocked after 2 s",
              wr->accepted, wr->status.ToString().c_str());
  if (!returned) {
    FAIL_AT("BUG: a writer blocked for 2 s at stop_runs while every compaction failed (ENOSPC), and got no error; "
            "it resumed only once the fault was cleared. stats: " +
            stats);
  } else if (wr->status.code() != StatusCode::kIoError) {
    FAIL_AT("writer behind a failing compaction ended with " + wr->status.ToString());
  }
  // Once the disk recovers the store catches up.
  ASSERT_OK(Checkpoint(db.get()));
  CompactionResult r;
  ASSERT_OK(db->Compact(&r));
  ASSERT_OK(db->Verify());
}

// ===========================================================================
// 3. Bit flips and truncation.

struct TwoCheckpoints {
  Model m1, m2;
  std::set<std::string> t1, t2;
  std::string new_table, shared_table, old_only_table;
};

// Checkpoint 1, then (compact_between: Compact() so that the tables of
// checkpoint 1 are all replaced) `writes` more writes and checkpoint 2.
void MakeTwoCheckpoints(MemEnv* mem, bool compact_between, int writes, uint64_t seed, TwoCheckpoints* out) {
  LsmOptions o = TinyLsmOptions(mem, LsmCompactionStyle::kLeveled);
  o.runs_per_level = 8;  // no compaction on its own: checkpoint 2 shares checkpoint 1's tables
  auto db = OpenOrFail(o, "two checkpoints");
  if (db == nullptr) return;
  uint64_t rng = seed;
  Model model;
  for (int i = 0; i < 2000; ++i) ASSERT_OK(Mutate(db.get(), &model, &rng, 400));
  ASSERT_OK(Checkpoint(db.get()));
  out->m1 = model;
  if (compact_between) {
    CompactionResult r;
    ASSERT_OK(db->Compact(&r));
  }
  for (int i = 0; i < writes; ++i) ASSERT_OK(Mutate(db.get(), &model, &rng, 400));
  ASSERT_OK(Checkpoint(db.get()));
  out->m2 = model;
  db.reset();
  out->t1 = ManifestTables(mem, 1);
  out->t2 = ManifestTables(mem, 2);
  for (const auto& t : out->t2) {
    if (!out->t1.count(t) && out->new_table.empty()) out->new_table = t;
    if (out->t1.count(t) && out->shared_table.empty()) out->shared_table = t;
  }
  for (const auto& t : out->t1) {
    if (!out->t2.count(t) && out->old_only_table.empty()) out->old_only_table = t;
  }
}

enum class Damage { kFlipDataBlock, kFlipFooter, kFlipHeader, kTruncateHalf, kTruncateEmpty, kDelete, kFlipMiddle };
const char* DamageName(Damage d) {
  switch (d) {
    case Damage::kFlipDataBlock: return "bit flip in the first data block";
    case Damage::kFlipFooter: return "bit flip in the footer";
    case Damage::kFlipHeader: return "bit flip in the file header";
    case Damage::kTruncateHalf: return "truncated to half";
    case Damage::kTruncateEmpty: return "truncated to 0 bytes";
    case Damage::kDelete: return "deleted";
    case Damage::kFlipMiddle: return "bit flip in the middle";
  }
  return "?";
}

Status Apply(MemEnv* mem, const std::string& name, Damage d) {
  const std::string path = std::string(kDir) + "/" + name;
  std::string bytes;
  TIDEKV_RETURN_IF_ERROR(mem->ReadAll(path, &bytes));
  switch (d) {
    case Damage::kFlipDataBlock: return mem->FlipBit(path, 64 + 3, 2);
    case Damage::kFlipFooter: return mem->FlipBit(path, bytes.size() - 20, 0);
    case Damage::kFlipHeader: return mem->FlipBit(path, 9, 4);
    case Damage::kTruncateHalf: return mem->Overwrite(path, bytes.substr(0, bytes.size() / 2));
    case Damage::kTruncateEmpty: return mem->Overwrite(path, "");
    case Damage::kDelete: return mem->DeleteFile(path);
    case Damage::kFlipMiddle: return mem->FlipBit(path, bytes.size() / 2, 5);
  }
  return Status::OK();
}

std::vector<uint64_t> Versions(Engine* db) {
  std::vector<CheckpointInfo> list;
  db->ListCheckpoints(&list);
  std::vector<uint64_t> out;
  for (const auto& i : list) out.push_back(i.version);
  return out;
}

TEST(LsmFaults, DamagedNewestCheckpointFailsOpenOrFallsBack) {
  struct Target {
    bool manifest;
    Damage damage;
  };
  const Target targets[] = {
      {false, Damage::kFlipDataBlock}, {false, Damage::kFlipFooter},   {false, Damage::kFlipHeader},
      {false, Damage::kTruncateHalf},  {false, Damage::kDelete},       {false, Damage::kFlipMiddle},
      {true, Damage::kFlipMiddle},     {true, Damage::kTruncateHalf},  {true, Damage::kTruncateEmpty},
      {true, Damage::kFlipHeader},
  };
  int n = 0;
  for (const Target& t : targets) {
    MemEnv mem;
    TwoCheckpoints tc;
    MakeTwoCheckpoints(&mem, false, 40, testing::TestSeed() + 500 + n++, &tc);
    ASSERT_TRUE(!tc.new_table.empty());
    const std::string name = t.manifest ? ManifestFileName(2) : tc.new_table;
    const std::string tag = name + " " + DamageName(t.damage);
    ASSERT_OK(Apply(&mem, name, t.damage));
    LsmOptions o = TinyLsmOptions(&mem, LsmCompactionStyle::kLeveled);
    Status s;
    auto db = OpenOrFail(o, tag, &s);
    if (s.code() != StatusCode::kCorruption || s.message().find(name) == std::string_view::npos) {
      FAIL_AT(tag + ": open -> " + s.ToString() + " (want Corruption naming " + name + ")");
    }
    db.reset();
    RecordingEnv renv(&mem);
    o.env = &renv.env;
    o.recover_latest_valid = true;
    db = OpenOrFail(o, tag + " latest-valid", &s);
    if (!s.ok()) {
      FAIL_AT(tag + ": open with recover_latest_valid -> " + s.ToString());
      continue;
    }
    EXPECT_EQ(db->LastCheckpointVersion(), uint64_t{1});
    EXPECT_TRUE(Versions(db.get()) == std::vector<uint64_t>{1});
    ExpectExactly(db.get(), tc.m1, 400, tag + ": fell back to checkpoint 1");
    ExpectNoOrphans(&renv.env, db.get(), renv.rec.get(), tag + " fell back");
    // The store goes on from checkpoint 1; the damaged version number is reused.
    Model model = tc.m1;
    uint64_t rng = 77 + n;
    for (int i = 0; i < 500; ++i) ASSERT_OK(Mutate(db.get(), &model, &rng, 400));
    CheckpointInfo info;
    ASSERT_OK(Checkpoint(db.get(), &info));
    EXPECT_EQ(info.version, uint64_t{2});
    db.reset();
    o.recover_latest_valid = false;
    db = OpenOrFail(o, tag + " after the fallback");
    if (db != nullptr) ExpectExactly(db.get(), model, 400, tag + ": reopened after the fallback");
  }
}

// The newest checkpoint fails to load part-way: tables it shares with the
// previous one were already opened (and are dropped again) before the
// damaged one was reached. Falling back must not delete those files: the
// checkpoint recovery falls back to, and every later one, still needs them.
TEST(LsmFaults, FallbackDoesNotDeleteTablesTheOlderCheckpointNeeds) {
  Watchdog dog("fallback keeps shared tables", 60);
  MemEnv mem;
  LsmOptions o = TinyLsmOptions(&mem, LsmCompactionStyle::kLeveled);
  o.runs_per_level = 2;
  o.level1_bytes = 128u << 10;
  o.level_size_ratio = 2;
  auto db = OpenOrFail(o, "fallback");
  ASSERT_TRUE(db != nullptr);
  uint64_t rng = testing::TestSeed() + 650;
  Model model;
  std::map<uint64_t, Model> versions;
  uint64_t prev = 0;
  std::string victim;
  // Checkpoints until the newest names, in load order, a table of its own
  // after one it shares with the previous checkpoint.
  for (int attempt = 0; attempt < 60 && victim.empty(); ++attempt) {
    for (int i = 0; i < 300; ++i) ASSERT_OK(Mutate(db.get(), &model, &rng, 3000));
    CheckpointInfo info;
    ASSERT_OK(Checkpoint(db.get(), &info));
    versions[info.version] = model;
    if (prev != 0) {
      CheckpointManifest older, newer;
      ASSERT_OK(ReadManifest(&mem, kDir, prev, &older));
      ASSERT_OK(ReadManifest(&mem, kDir, info.version, &newer));
      const std::set<std::string> shared(older.files.begin(), older.files.end());
      bool seen_shared = false;
      for (const std::string& f : newer.files) {
        if (shared.count(f)) {
          seen_shared = true;
        } else if (seen_shared) {
          victim = f;
          break;
        }
      }
    }
    if (victim.empty()) prev = info.version;
  }
  ASSERT_TRUE(!victim.empty());
  db.reset();
  ASSERT_OK(Apply(&mem, victim, Damage::kFlipDataBlock));
  o.recover_latest_valid = true;
  Status s;
  db = OpenOrFail(o, "fallback open", &s);
  ASSERT_OK(s);
  ASSERT_EQ(db->LastCheckpointVersion(), prev);
  ExpectExactly(db.get(), versions[prev], 3000, "fell back");
  // Checkpoints and Close delete whatever the engine dropped.
  model = versions[prev];
  for (int i = 0; i < 300; ++i) ASSERT_OK(Mutate(db.get(), &model, &rng, 3000));
  CheckpointInfo next;
  ASSERT_OK(Checkpoint(db.get(), &next));
  db.reset();
  o.recover_latest_valid = false;
  db = OpenOrFail(o, "reopen after the fallback", &s);
  if (!s.ok()) {
    FAIL_AT("BUG: falling back deleted tables the older checkpoint shares with the damaged one: " + s.ToString());
    return;
  }
  ExpectExactly(db.get(), model, 3000, "reopened after the fallback");
  const std::vector<uint64_t> retained = Versions(db.get());
  if (std::find(retained.begin(), retained.end(), prev) == retained.end()) {
    FAIL_AT("BUG: checkpoint " + std::to_string(prev) + " (the fallback) is no longer retained after a reopen");
    return;
  }
  ASSERT_OK(db->Restore(prev));
  ExpectExactly(db.get(), versions[prev], 3000, "restored to the fallback checkpoint");
}

TEST(LsmFaults, DamagedTableSharedByEveryCheckpointFailsOpen) {
  MemEnv mem;
  TwoCheckpoints tc;
  MakeTwoCheckpoints(&mem, false, 40, testing::TestSeed() + 600, &tc);
  ASSERT_TRUE(!tc.shared_table.empty());
  ASSERT_OK(Apply(&mem, tc.shared_table, Damage::kFlipDataBlock));
  LsmOptions o = TinyLsmOptions(&mem, LsmCompactionStyle::kLeveled);
  for (bool latest_valid : {false, true}) {
    o.recover_latest_valid = latest_valid;
    Status s;
    auto db = OpenOrFail(o, "shared", &s);
    EXPECT_STATUS(s, kCorruption);
    EXPECT_TRUE(s.message().find(tc.shared_table) != std::string_view::npos);
  }
}

TEST(LsmFaults, DamagedTableOfAnOlderCheckpointOnlyDropsThatCheckpoint) {
  MemEnv mem;
  TwoCheckpoints tc;
  MakeTwoCheckpoints(&mem, true, 1500, testing::TestSeed() + 700, &tc);
  ASSERT_TRUE(!tc.old_only_table.empty());
  ASSERT_OK(Apply(&mem, tc.old_only_table, Damage::kFlipDataBlock));
  auto db = OpenOrFail(TinyLsmOptions(&mem, LsmCompactionStyle::kLeveled), "older");
  ASSERT_TRUE(db != nullptr);
  EXPECT_EQ(db->LastCheckpointVersion(), uint64_t{2});
  ExpectExactly(db.get(), tc.m2, 400, "newest intact");
  EXPECT_TRUE(Versions(db.get()) == std::vector<uint64_t>{2});
  EXPECT_STATUS(db->Restore(1), kVersionNotFound);
}

// The disk returns a flipped bit when the table is read (FaultEnv): open
// verifies every block and refuses it.
TEST(LsmFaults, BitFlipOnReadIsCaughtAtOpen) {
  MemEnv mem;
  TwoCheckpoints tc;
  MakeTwoCheckpoints(&mem, false, 40, testing::TestSeed() + 800, &tc);
  ASSERT_TRUE(!tc.new_table.empty());
  FaultEnv env(&mem);
  FaultPlan plan;
  plan.path_filter = tc.new_table;
  plan.flip_bit_at_offset = 64 + 10;
  env.Arm(plan);
  LsmOptions o = TinyLsmOptions(&env, LsmCompactionStyle::kLeveled);
  Status s;
  auto db = OpenOrFail(o, "read flip", &s);
  EXPECT_STATUS(s, kCorruption);
  EXPECT_TRUE(s.message().find(tc.new_table) != std::string_view::npos);
  EXPECT_TRUE(env.faults_fired() > 0);
  o.recover_latest_valid = true;
  db = OpenOrFail(o, "read flip latest-valid", &s);
  ASSERT_OK(s);
  ExpectExactly(db.get(), tc.m1, 400, "read flip: fell back");
}

// A bit flips in a live table after open (MemEnv's mapping shows the flip):
// Get, Has, scans and Verify report Corruption naming the file, never a wrong
// value; reopening refuses the damaged checkpoint.
TEST(LsmFaults, BitFlipAfterOpenIsReportedByReadsAndVerify) {
  MemEnv mem;
  LsmOptions o = TinyLsmOptions(&mem, LsmCompactionStyle::kLeveled);
  auto db = OpenOrFail(o, "flip after open");
  ASSERT_TRUE(db != nullptr);
  uint64_t rng = testing::TestSeed() + 900;
  Model model;
  for (int i = 0; i < 2500; ++i) ASSERT_OK(Mutate(db.get(), &model, &rng, 400));
  CompactionResult r;
  ASSERT_OK(db->Compact(&r));
  CheckpointInfo info;
  ASSERT_OK(Checkpoint(db.get(), &info));
  const std::set<std::string> tables = ManifestTables(&mem, info.version);
  ASSERT_TRUE(!tables.empty());
  const std::string name = *tables.begin();
  ASSERT_OK(db->Verify());
  ASSERT_OK(mem.FlipBit(std::string(kDir) + "/" + name, 64 + 5, 3));
  Status vs = db->Verify();
  EXPECT_STATUS(vs, kCorruption);
  EXPECT_TRUE(vs.message().find(name) != std::string_view::npos);
  int corrupt = 0, wrong = 0;
  for (const auto& [k, v] : model) {
    std::string got;
    Status s = db->Get(k, &got);
    if (s.code() == StatusCode::kCorruption) {
      ++corrupt;
      if (s.message().find(name) == std::string_view::npos) FAIL_AT("Get corruption does not name the file: " + s.ToString());
      bool found = false;
      EXPECT_STATUS(db->Has(k, &found), kCorruption);
    } else if (!s.ok() || got != v) {
      ++wrong;
      if (wrong < 3) FAIL_AT("Get(" + k + ") after the flip -> " + s.ToString() + " with a wrong value");
    }
  }
  std::printf("    %d of %zu keys report corruption, %d read wrong\n", corrupt, model.size(), wrong);
  EXPECT_TRUE(corrupt > 0);
  EXPECT_EQ(wrong, 0);
  KVs all;
  Status ss = Scan(db.get(), RangeOptions{}, &all);
  EXPECT_STATUS(ss, kCorruption);
  EXPECT_TRUE(ss.message().find(name) != std::string_view::npos);
  db.reset();
  Status os;
  db = OpenOrFail(o, "reopen", &os);
  EXPECT_STATUS(os, kCorruption);
  EXPECT_TRUE(os.message().find(name) != std::string_view::npos);
}

// ===========================================================================
// 4. Tombstones are never resurrected.

void ExpectVictimsAbsent(Engine* db, const std::vector<std::string>& victims, const std::string& where) {
  int bad = 0;
  for (const std::string& k : victims) {
    std::string v;
    Status s = db->Get(k, &v);
    bool found = true;
    Status hs = db->Has(k, &found);
    if (!s.IsNotFound() || !hs.ok() || found) {
      if (++bad <= 3) FAIL_AT(where + ": deleted key " + k + " is back: " + s.ToString() + " / has " + std::to_string(found));
    }
  }
  RangeOptions r;
  r.has_lower = true;
  r.lower = "v";
  r.has_upper = true;
  r.upper = "w";
  KVs got;
  Status s = Scan(db, r, &got);
  if (!s.ok() || !got.empty()) {
    FAIL_AT(where + ": scan of the deleted range -> " + s.ToString() + ", " + std::to_string(got.size()) + " entries");
  }
}

void TombstonesSurvive(LsmCompactionStyle style, bool compact_values_down) {
  const std::string tag = std::string(StyleName(style)) + (compact_values_down ? " values compacted down" : " values in L0");
  Watchdog dog("tombstones " + tag, 60);
  MemEnv mem;
  LsmOptions o = TinyLsmOptions(&mem, style);
  auto db = OpenOrFail(o, tag);
  ASSERT_TRUE(db != nullptr);
  std::vector<std::string> victims;
  for (int i = 0; i < 100; ++i) {
    char b[16];
    std::snprintf(b, sizeof b, "v%03d", i);
    victims.push_back(b);
    ASSERT_OK(db->Put(victims.back(), std::string(150, 'v')));
  }
  // Enough other keys to push the victims' values into tables.
  for (int i = 0; i < 1200; ++i) ASSERT_OK(db->Put("f" + std::to_string(i), std::string(200, 'f')));
  if (compact_values_down) {
    CompactionResult r;
    ASSERT_OK(db->Compact(&r));
  }
  for (const std::string& k : victims) {
    bool existed = false;
    ASSERT_OK(db->Delete(k, &existed));
    EXPECT_TRUE(existed);
  }
  ExpectVictimsAbsent(db.get(), victims, tag + " just deleted");
  uint64_t rng = testing::TestSeed() + 1000;
  for (int round = 0; round < 24; ++round) {
    for (int i = 0; i < 400; ++i) {
      ASSERT_OK(db->Put("f" + std::to_string(Rand(&rng) % 3000), std::string(100 + Rand(&rng) % 200, 'g')));
    }
    if (round % 6 == 5) {
      CompactionResult r;
      ASSERT_OK(db->Compact(&r));
    }
    if (round % 8 == 7) {
      ASSERT_OK(Checkpoint(db.get()));
      db.reset();
      db = OpenOrFail(o, tag + " reopen");
      ASSERT_TRUE(db != nullptr);
    }
    ExpectVictimsAbsent(db.get(), victims, tag + " round " + std::to_string(round));
  }
  ASSERT_OK(Checkpoint(db.get()));
  db.reset();
  db = OpenOrFail(o, tag + " final reopen");
  ASSERT_TRUE(db != nullptr);
  ExpectVictimsAbsent(db.get(), victims, tag + " final reopen");
  CompactionResult r;
  ASSERT_OK(db->Compact(&r));
  ExpectVictimsAbsent(db.get(), victims, tag + " final compaction");
  ASSERT_OK(db->Verify());
}

TEST(LsmFaults, TombstonesAreNotResurrected) {
  for (auto style : {LsmCompactionStyle::kLeveled, LsmCompactionStyle::kSizeTiered}) {
    TombstonesSurvive(style, false);
    TombstonesSurvive(style, true);
  }
}

// Leveled: the values sit in the deepest level, the tombstones travel down
// from level 0 through levels that overlap them, and are only dropped once
// they reach the values.
TEST(LsmFaults, LeveledTombstoneAboveADeeperValue) {
  Watchdog dog("leveled deep tombstones", 60);
  MemEnv mem;
  LsmOptions o = TinyLsmOptions(&mem, LsmCompactionStyle::kLeveled);
  o.level_size_ratio = 2;
  o.level1_bytes = 128u << 10;
  auto db = OpenOrFail(o, "deep");
  ASSERT_TRUE(db != nullptr);
  Model model;
  for (int i = 0; i < 8000; ++i) {
    char b[16];
    std::snprintf(b, sizeof b, "f%06d", i);
    model[b] = std::string(180, static_cast<char>('a' + i % 26));
    ASSERT_OK(db->Put(b, model[b]));
  }
  CompactionResult r;
  ASSERT_OK(db->Compact(&r));
  const uint64_t levels = StatValue(db.get(), "levels");
  std::printf("    values compacted into level %llu (%s)\n", static_cast<unsigned long long>(levels ? levels - 1 : 0),
              StatsLine(db.get()).c_str());
  EXPECT_TRUE(levels >= 3);
  std::vector<std::string> victims;
  for (int i = 0; i < 8000; i += 7) {
    char b[16];
    std::snprintf(b, sizeof b, "f%06d", i);
    victims.push_back(b);
    bool existed = false;
    ASSERT_OK(db->Delete(b, &existed));
    EXPECT_TRUE(existed);
    model.erase(b);
  }
  uint64_t rng = testing::TestSeed() + 1100;
  uint64_t max_levels = 0;
  for (int round = 0; round < 20; ++round) {
    // New keys inside the same range: the tombstones' tables overlap them and
    // move down level by level.
    for (int i = 0; i < 300; ++i) {
      char b[24];
      std::snprintf(b, sizeof b, "f%06d.%llu", static_cast<int>(Rand(&rng) % 8000),
                    static_cast<unsigned long long>(Rand(&rng) % 100));
      model[b] = std::string(150, 'n');
      ASSERT_OK(db->Put(b, model[b]));
    }
    max_levels = std::max(max_levels, StatValue(db.get(), "levels"));
    int bad = 0;
    for (const std::string& k : victims) {
      std::string v;
      Status s = db->Get(k, &v);
      if (!s.IsNotFound() && ++bad <= 3) FAIL_AT("round " + std::to_string(round) + ": deleted " + k + " -> " + s.ToString());
    }
    if (round == 10) {
      ASSERT_OK(Checkpoint(db.get()));
      db.reset();
      db = OpenOrFail(o, "deep reopen");
      ASSERT_TRUE(db != nullptr);
    }
  }
  ExpectExactly(db.get(), model, 0, "deep: before the final compaction");
  ASSERT_OK(db->Compact(&r));
  ExpectExactly(db.get(), model, 0, "deep: after the final compaction");
  ASSERT_OK(Checkpoint(db.get()));
  db.reset();
  db = OpenOrFail(o, "deep final reopen");
  ASSERT_TRUE(db != nullptr);
  ExpectExactly(db.get(), model, 0, "deep: reopened");
}

// Which leveled compactions may drop tombstones, on hand-built trees. A
// compaction's input is the picked table(s) plus the overlapping tables of
// the output level, and those can reach far beyond the picked range. A
// tombstone in that wider part still shadows a value deeper down, so
// "bottommost" must consider the whole input range, not just the picked one.
TableRef BuildTable(MemEnv* env, uint64_t number, const std::vector<std::pair<std::string, EntryKind>>& entries) {
  const std::string path = "/tables/" + TableFileName(number);
  SSTableBuilder b;
  Status s = b.Open(env, path, number, SSTableOptions{});
  for (const auto& [k, kind] : entries) {
    if (s.ok()) s = b.Add(k, kind, kind == EntryKind::kValue ? Slice("old value") : Slice());
  }
  SSTableProperties props;
  if (s.ok()) s = b.Finish(&props);
  std::unique_ptr<SSTableReader> r;
  if (s.ok()) s = SSTableReader::Open(env, path, &r);
  if (!s.ok()) FAIL_AT("build table: " + s.ToString());
  return std::make_shared<Table>(std::move(r), nullptr);
}

// What the compaction `job` writes: keys and kinds.
std::vector<std::pair<std::string, EntryKind>> RunJob(const CompactionJob& job) {
  std::vector<std::unique_ptr<RunIterator>> runs;
  for (const Run& r : job.inputs) runs.push_back(NewRunIterator(r));
  MergingIterator it(std::move(runs));
  it.SeekToFirst();
  CompactionRules rules;
  rules.bottommost = job.bottommost;
  std::vector<std::pair<std::string, EntryKind>> out;
  Status s = CompactRuns(&it, rules, [&](Slice k, EntryKind kind, Slice) {
    out.emplace_back(std::string(k), kind);
    return Status::OK();
  });
  if (!s.ok()) FAIL_AT("compaction walk: " + s.ToString());
  return out;
}

TEST(LsmFaults, LeveledCompactionKeepsTombstonesOfTheWiderOutputLevelTables) {
  MemEnv env;
  ASSERT_OK(env.CreateDir("/tables"));
  const auto V = EntryKind::kValue, T = EntryKind::kTombstone;
  for (int from = 0; from < 2; ++from) {
    // Picked: keys m..n at level `from`. Output level from+1 holds a table
    // a..z with a tombstone for b; the level below holds the old value of b
    // (and nothing in m..n).
    Version v;
    v.levels.resize(from + 3);
    v.levels[from].push_back(Run{{BuildTable(&env, 10 * from + 1, {{"m", V}, {"n", V}})}});
    v.levels[from + 1].push_back(Run{{BuildTable(&env, 10 * from + 2, {{"a", V}, {"b", T}, {"z", V}})}});
    v.levels[from + 2].push_back(Run{{BuildTable(&env, 10 * from + 3, {{"b", V}})}});
    PickerOptions o;
    o.leveled = true;
    o.runs_per_level = 1;
    o.level_size_ratio = 1000;
    o.level1_bytes = from == 0 ? (uint64_t{1} << 40) : 1;  // level 0 (1 run) or level 1 (over its size) goes
    std::vector<size_t> cursors;
    CompactionJob job;
    ASSERT_TRUE(PickCompaction(v, o, &cursors, &job));
    ASSERT_EQ(job.output_level, static_cast<size_t>(from + 1));
    ASSERT_EQ(job.inputs.size(), size_t{2});  // the picked table and the overlapping a..z
    bool tombstone_kept = false;
    for (const auto& [k, kind] : RunJob(job)) tombstone_kept |= k == "b" && kind == T;
    if (!tombstone_kept) {
      FAIL_AT("BUG: a level " + std::to_string(from) + " -> " + std::to_string(from + 1) +
              " compaction of m..n with an overlapping output-level table a..z was marked bottommost (" +
              std::to_string(job.bottommost) + ") because nothing deeper overlaps m..n, and dropped the tombstone "
              "of b: the old value of b one level down is live again");
    }
  }
}

// The same through the engine, step by step (each step waits for the
// background threads to settle). level1_bytes = 50 and a ratio of 100 make
// level 1 hand every table on, level 2 keep small tables and level 3 big ones:
//   1. b = 6 KB value            -> sinks to level 3
//   2. a, z, delete b; y         -> level 2 holds [a, b(tombstone), y, z]
//   3. m; n                      -> level 1 [m, n] merges into level 2 with
//      [a..z]; nothing below overlaps m..n, so the job is "bottommost" and
//      the tombstone of b goes, while b's value still sits in level 3.
void Settle(Engine* db) {
  uint64_t last = UINT64_MAX;
  for (int stable = 0, i = 0; stable < 10 && i < 500; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    const uint64_t now = StatValue(db, "compactions") * 1000003 + StatValue(db, "flushes");
    stable = now == last ? stable + 1 : 0;
    last = now;
  }
}

TEST(LsmFaults, LeveledDeleteSurvivesACompactionBesideTheDeeperValue) {
  MemEnv mem;
  LsmOptions o = TinyLsmOptions(&mem, LsmCompactionStyle::kLeveled);
  o.runs_per_level = 2;
  o.level1_bytes = 50;
  o.level_size_ratio = 100;
  auto db = OpenOrFail(o, "wide tombstone");
  ASSERT_TRUE(db != nullptr);
  auto flush = [&] { ASSERT_OK(Checkpoint(db.get())); };
  ASSERT_OK(db->Put("b", std::string(6000, 'B')));
  CompactionResult r;
  ASSERT_OK(db->Compact(&r));
  Settle(db.get());
  ASSERT_OK(db->Put("a", "A"));
  ASSERT_OK(db->Put("z", "Z"));
  bool existed = false;
  ASSERT_OK(db->Delete("b", &existed));
  EXPECT_TRUE(existed);
  flush();
  ASSERT_OK(db->Put("y", "Y"));
  flush();
  Settle(db.get());
  std::string v;
  EXPECT_TRUE(db->Get("b", &v).IsNotFound());
  ASSERT_OK(db->Put("m", "M"));
  flush();
  ASSERT_OK(db->Put("n", "N"));
  flush();
  Settle(db.get());
  const std::string shape = StatsLine(db.get());
  Status s = db->Get("b", &v);
  if (!s.IsNotFound()) {
    FAIL_AT("BUG: deleted key b is back after a level 1 -> 2 compaction of m..n (" + s.ToString() + ", " +
            std::to_string(v.size()) + " bytes): " + shape);
  }
  const Model want = {{"a", "A"}, {"m", "M"}, {"n", "N"}, {"y", "Y"}, {"z", "Z"}};
  ExpectExactly(db.get(), want, 0, "after the compactions");
  ASSERT_OK(Checkpoint(db.get()));
  db.reset();
  db = OpenOrFail(o, "wide tombstone reopen");
  ASSERT_TRUE(db != nullptr);
  ExpectExactly(db.get(), want, 0, "reopened");
}

// ===========================================================================
// 5. No orphan files after restore, reopen, and a crash mid-flush or
// mid-compaction.

void PlantFile(MemEnv* mem, const std::string& name) {
  std::unique_ptr<File> f;
  if (!mem->OpenFile(std::string(kDir) + "/" + name, OpenMode::kCreateTruncate, &f).ok() ||
      !f->WriteAt(0, Slice("junk", 4)).ok()) {
    FAIL_AT("plant " + name);
  }
}

TEST(LsmFaults, NoOrphansAfterRestoreReopenAndCrashes) {
  for (int style = 0; style < 2; ++style) {
    const LsmCompactionStyle st = style ? LsmCompactionStyle::kSizeTiered : LsmCompactionStyle::kLeveled;
    const std::string tag = StyleName(st);
    Watchdog dog("orphans " + tag, 60);
    MemEnv mem;
    HookEnv env(&mem);
    auto rec = std::make_shared<Recorder>();
    auto crash = std::make_shared<std::shared_ptr<CrashPoint>>();  // installed later
    auto crash_when = std::make_shared<std::function<bool(IoOp, const std::string&)>>();
    auto crash_mu = std::make_shared<std::mutex>();
    env.SetHook([rec, crash, crash_when, crash_mu](IoOp op, const std::string& path) {
      rec->Note(op, path);
      std::lock_guard<std::mutex> l(*crash_mu);
      if (*crash != nullptr) {
        if ((*crash)->crashed() || (*crash_when && (*crash_when)(op, path))) return (*crash)->Call(op, path);
      }
      return Status::OK();
    });
    LsmOptions o = TinyLsmOptions(&env, st);
    o.retain_checkpoints = 2;
    auto db = OpenOrFail(o, tag);
    ASSERT_TRUE(db != nullptr);
    uint64_t rng = testing::TestSeed() + 1200 + style;
    Model model;
    std::map<uint64_t, Model> versions;
    for (int round = 0; round < 6; ++round) {
      for (int i = 0; i < 800; ++i) ASSERT_OK(Mutate(db.get(), &model, &rng, 500));
      CheckpointInfo info;
      ASSERT_OK(Checkpoint(db.get(), &info));
      versions[info.version] = model;
      if (round % 2) {
        CompactionResult r;
        ASSERT_OK(db->Compact(&r));
      }
    }
    for (int i = 0; i < 800; ++i) ASSERT_OK(Mutate(db.get(), &model, &rng, 500));
    // Restore: the newer checkpoints' tables and the live version's go.
    std::vector<uint64_t> vs = Versions(db.get());
    ASSERT_EQ(vs.size(), size_t{2});
    {
      std::lock_guard<std::mutex> l(rec->mu);
      rec->created.clear();
    }
    ASSERT_OK(db->Restore(vs.front()));
    model = versions[vs.front()];
    ExpectExactly(db.get(), model, 500, tag + " restored");
    ExpectNoOrphans(&env, db.get(), rec.get(), tag + " after restore");
    // Reopen, with junk a crash could have left.
    db.reset();
    PlantFile(&mem, TableFileName(99999));
    PlantFile(&mem, ManifestFileName(50) + ".tmp");
    {
      std::lock_guard<std::mutex> l(rec->mu);
      rec->created.clear();
    }
    db = OpenOrFail(o, tag + " reopen");
    ASSERT_TRUE(db != nullptr);
    ExpectNoOrphans(&env, db.get(), rec.get(), tag + " after reopen");
    EXPECT_FALSE(mem.FileExists(std::string(kDir) + "/" + TableFileName(99999)));
    // Crash in the middle of a flush (its table written, not yet synced) and
    // in the middle of a compaction.
    for (int which = 0; which < 2; ++which) {
      auto roles = std::make_shared<ThreadRoles>();
      {
        std::lock_guard<std::mutex> l(*crash_mu);
        *crash = std::make_shared<CrashPoint>(1);
        if (which == 0) {
          *crash_when = [](IoOp op, const std::string& path) { return op == IoOp::kSync && IsTableFile(path); };
        } else {
          // The first table another thread writes after the flush thread's first one.
          *crash_when = [roles](IoOp op, const std::string& path) {
            roles->Note(op, path);
            return op == IoOp::kWrite && roles->IsCompaction(path);
          };
        }
      }
      const uint64_t last = db->LastCheckpointVersion();
      Model scratch = model;
      for (int i = 0; i < 20000; ++i) {
        Status s = Mutate(db.get(), &scratch, &rng, 500);
        if (!s.ok()) break;
        if ((*crash)->crashed()) break;
      }
      for (int i = 0; i < 300 && !(*crash)->crashed(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
      const bool crashed = (*crash)->crashed();
      if (!crashed) FAIL_AT(tag + ": the crash point was never reached (" + (which ? "compaction" : "flush") + ")");
      db.reset();
      mem.SimulateCrash(rng);
      {
        std::lock_guard<std::mutex> l(*crash_mu);
        *crash = nullptr;
        *crash_when = nullptr;
      }
      {
        std::lock_guard<std::mutex> l(rec->mu);
        rec->created.clear();
      }
      db = OpenOrFail(o, tag + " reopen after crash");
      ASSERT_TRUE(db != nullptr);
      EXPECT_EQ(db->LastCheckpointVersion(), last);
      ExpectExactly(db.get(), model, 500, tag + (which ? " crash mid-compaction" : " crash mid-flush"));
      ExpectNoOrphans(&env, db.get(), rec.get(), tag + (which ? " after a crash mid-compaction" : " after a crash mid-flush"));
    }
  }
}

// ===========================================================================
// 6. Range cursors keep their view.

struct OpenCursor {
  RangeOptions range;
  std::unique_ptr<RangeCursor> cursor;
  KVs prefix;  // read before the changes
};

std::vector<OpenCursor> OpenCursors(Engine* db) {
  std::vector<OpenCursor> out;
  auto add = [&](RangeOptions r, size_t read_first) {
    OpenCursor c;
    c.range = r;
    Status s = db->NewRangeCursor(r, &c.cursor);
    if (!s.ok()) {
      FAIL_AT("NewRangeCursor: " + s.ToString());
      return;
    }
    if (read_first > 0) {
      bool done = false;
      size_t n = 0;
      s = c.cursor->Next(
          [&](Slice k, Slice v) {
            c.prefix.emplace_back(std::string(k), std::string(v));
            return ++n < read_first;
          },
          &done);
      if (!s.ok()) FAIL_AT("cursor prefix: " + s.ToString());
    }
    out.push_back(std::move(c));
  };
  RangeOptions r;
  add(r, 0);
  r.reverse = true;
  add(r, 0);
  add(r, 25);
  r = RangeOptions();
  add(r, 25);
  r.has_lower = true;
  r.lower = Key(100);
  r.has_upper = true;
  r.upper = Key(300);
  add(r, 0);
  r.reverse = true;
  r.lower_inclusive = false;
  r.upper_inclusive = true;
  r.limit = 77;
  add(r, 3);
  return out;
}

// Reads each cursor to its end; returns false (and reports) on a difference.
// An error status is allowed when allow_error (reported to the caller).
int CheckCursors(std::vector<OpenCursor>* cursors, const Model& view, const std::string& where, bool allow_error) {
  int errors = 0;
  for (size_t i = 0; i < cursors->size(); ++i) {
    OpenCursor& c = (*cursors)[i];
    KVs got = c.prefix;
    Status s = Drain(c.cursor.get(), &got, 5);
    if (!s.ok()) {
      ++errors;
      if (!allow_error) FAIL_AT(where + ": cursor " + std::to_string(i) + ": " + s.ToString());
      continue;
    }
    const KVs want = ModelScan(view, c.range);
    if (got != want) FAIL_AT(where + ": cursor " + std::to_string(i) + " " + FirstDifference(got, want));
  }
  return errors;
}

TEST(LsmFaults, CursorsKeepTheirViewThroughWritesCheckpointsCompactionsAndRestore) {
  for (auto style : {LsmCompactionStyle::kLeveled, LsmCompactionStyle::kSizeTiered}) {
    const std::string tag = StyleName(style);
    Watchdog dog("cursor views " + tag, 60);
    MemEnv mem;
    LsmOptions o = TinyLsmOptions(&mem, style);
    auto db = OpenOrFail(o, tag);
    ASSERT_TRUE(db != nullptr);
    uint64_t rng = testing::TestSeed() + 1300;
    Model model;
    for (int i = 0; i < 2500; ++i) ASSERT_OK(Mutate(db.get(), &model, &rng, 500));
    CheckpointInfo c1;
    ASSERT_OK(Checkpoint(db.get(), &c1));
    const Model at_c1 = model;
    for (int i = 0; i < 600; ++i) ASSERT_OK(Mutate(db.get(), &model, &rng, 500));
    const Model view = model;
    auto cursors = OpenCursors(db.get());
    // Everything that can change the tree under them.
    for (const auto& [k, v] : view) {
      bool existed = false;
      ASSERT_OK(db->Delete(k, &existed));
    }
    model.clear();
    for (int i = 0; i < 1500; ++i) ASSERT_OK(Mutate(db.get(), &model, &rng, 500));
    ASSERT_OK(Checkpoint(db.get()));
    CompactionResult r;
    ASSERT_OK(db->Compact(&r));
    ASSERT_OK(db->Restore(c1.version));
    model = at_c1;
    for (int i = 0; i < 500; ++i) ASSERT_OK(Mutate(db.get(), &model, &rng, 500));
    ASSERT_OK(db->Compact(&r));
    ASSERT_OK(Checkpoint(db.get()));
    CheckCursors(&cursors, view, tag + " after writes/checkpoint/compact/restore", false);
    ExpectExactly(db.get(), model, 500, tag + " live");
  }
}

// A cursor outliving Close, the engine object, and a new engine opened on the
// directory (which deletes the files only the old live version used).
TEST(LsmFaults, CursorOutlivingCloseAndTheEngine) {
  MemEnv mem;
  LsmOptions o = TinyLsmOptions(&mem, LsmCompactionStyle::kLeveled);
  auto db = OpenOrFail(o, "outlive");
  ASSERT_TRUE(db != nullptr);
  uint64_t rng = testing::TestSeed() + 1400;
  Model model;
  for (int i = 0; i < 2000; ++i) ASSERT_OK(Mutate(db.get(), &model, &rng, 500));
  ASSERT_OK(Checkpoint(db.get()));
  for (int i = 0; i < 1500; ++i) ASSERT_OK(Mutate(db.get(), &model, &rng, 500));  // live tables no checkpoint names
  const Model view = model;
  auto after_close = OpenCursors(db.get());
  auto after_destroy = OpenCursors(db.get());
  auto after_reopen = OpenCursors(db.get());
  ASSERT_OK(db->Close());
  const int e1 = CheckCursors(&after_close, view, "after Close", true);
  db.reset();
  const int e2 = CheckCursors(&after_destroy, view, "after the engine was destroyed", true);
  db = OpenOrFail(o, "reopen");
  ASSERT_TRUE(db != nullptr);
  const int e3 = CheckCursors(&after_reopen, view, "after a new engine opened the directory", true);
  std::printf("    cursors read after Close: %d errors; after destruction: %d; after a reopen: %d (of %zu each)\n", e1,
              e2, e3, after_close.size());
  after_reopen.clear();
  ASSERT_OK(db->Verify());
}

// ===========================================================================
// 7. Write stalls behind slow compaction (measured, not asserted).

TEST(LsmFaults, WriteStallsBehindSlowCompaction) {
  Watchdog dog("slow compaction burst", 60);
  MemEnv mem;
  HookEnv env(&mem);
  auto roles = std::make_shared<ThreadRoles>();
  env.SetHook([roles](IoOp op, const std::string& path) {
    roles->Note(op, path);
    if (roles->IsCompaction(path)) std::this_thread::sleep_for(std::chrono::milliseconds(4));
    return Status::OK();
  });
  LsmOptions o = TinyLsmOptions(&env, LsmCompactionStyle::kLeveled);
  o.max_immutable_memtables = 1;
  o.runs_per_level = 2;
  o.slowdown_runs = 3;
  o.stop_runs = 5;
  auto db = OpenOrFail(o, "stalls");
  ASSERT_TRUE(db != nullptr);
  Model model;
  uint64_t rng = testing::TestSeed() + 1500;
  uint64_t worst = 0;
  const auto start = Clock::now();
  for (int i = 0; i < 8000; ++i) {
    const std::string k = Key(Rand(&rng) % 4000);
    const std::string v(250, static_cast<char>('a' + i % 26));
    const auto t0 = Clock::now();
    ASSERT_OK(db->Put(k, v));
    worst = std::max<uint64_t>(worst, std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count());
    model[k] = v;
  }
  const auto total = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
  std::printf("    2 MB burst in %lld ms: longest Put %llu us; longestStallMicros %llu, stalls %llu, writeDelayMicros %llu, "
              "writeStopMicros %llu, flushes %llu, compactions %llu\n",
              static_cast<long long>(total), static_cast<unsigned long long>(worst),
              static_cast<unsigned long long>(StatValue(db.get(), "longestStallMicros")),
              static_cast<unsigned long long>(StatValue(db.get(), "stalls")),
              static_cast<unsigned long long>(StatValue(db.get(), "writeDelayMicros")),
              static_cast<unsigned long long>(StatValue(db.get(), "writeStopMicros")),
              static_cast<unsigned long long>(StatValue(db.get(), "flushes")),
              static_cast<unsigned long long>(StatValue(db.get(), "compactions")));
  ExpectExactly(db.get(), model, 4000, "after the burst");
}

// ===========================================================================
// 8. Restore, Close and FinishCheckpoint racing background work and each
// other. A hang is reported and its engine leaked (its threads are stuck).

struct Rig {
  MemEnv mem;
  RecordingEnv renv{&mem};
  LsmOptions o;
  std::unique_ptr<Engine> db;
};

std::shared_ptr<Rig> NewRig(LsmCompactionStyle style) {
  auto rig = std::make_shared<Rig>();
  rig->o = TinyLsmOptions(&rig->renv.env, style);
  rig->db = OpenOrFail(rig->o, "rig");
  return rig;
}

// Keeps a hung rig alive for good (reachable, so leak checkers stay quiet).
void Leak(const std::shared_ptr<Rig>& rig) {
  static auto* leaked = new std::vector<std::shared_ptr<Rig>>();
  leaked->push_back(rig);
}

struct Result {
  Status status;
  std::atomic<bool> done{false};
  std::string Describe() const { return done.load() ? status.ToString() : std::string("STILL BLOCKED"); }
};

TEST(LsmFaults, RestoreRacingCompaction) {
  for (int it = 0; it < 16; ++it) {
    const LsmCompactionStyle style = it % 2 ? LsmCompactionStyle::kSizeTiered : LsmCompactionStyle::kLeveled;
    auto rig = NewRig(style);
    ASSERT_TRUE(rig->db != nullptr);
    uint64_t rng = testing::TestSeed() + 1600 + it;
    Model model;
    for (int i = 0; i < 1200; ++i) ASSERT_OK(Mutate(rig->db.get(), &model, &rng, 400));
    CheckpointInfo c1;
    ASSERT_OK(Checkpoint(rig->db.get(), &c1));
    const Model m1 = model;
    for (int i = 0; i < 2500; ++i) ASSERT_OK(Mutate(rig->db.get(), &model, &rng, 400));  // background work under way
    auto cs = std::make_shared<Result>(), rs = std::make_shared<Result>();
    const int delay = static_cast<int>(Rand(&rng) % 3000);
    const uint64_t v = c1.version;
    const bool finished = RunAll(10000, {
        [rig, cs] {
          CompactionResult r;
          cs->status = rig->db->Compact(&r);
        },
        [rig, rs, delay, v] {
          std::this_thread::sleep_for(std::chrono::microseconds(delay));
          rs->status = rig->db->Restore(v);
        },
    });
    if (!finished) {
      FAIL_AT("HANG: Compact() racing Restore() did not finish in 10 s (iteration " + std::to_string(it) + ")");
      Leak(rig);
      return;
    }
    EXPECT_OK(rs->status);
    if (!cs->status.ok() && cs->status.code() != StatusCode::kBusy) FAIL_AT("Compact racing Restore -> " + cs->status.ToString());
    ExpectExactly(rig->db.get(), m1, 400, "restored while compacting, iteration " + std::to_string(it));
  }
}

TEST(LsmFaults, CloseDuringBackgroundWorkAndCheckpoints) {
  for (int it = 0; it < 16; ++it) {
    const LsmCompactionStyle style = it % 2 ? LsmCompactionStyle::kSizeTiered : LsmCompactionStyle::kLeveled;
    auto rig = NewRig(style);
    ASSERT_TRUE(rig->db != nullptr);
    uint64_t rng = testing::TestSeed() + 1700 + it;
    Model model;
    for (int i = 0; i < 1200; ++i) ASSERT_OK(Mutate(rig->db.get(), &model, &rng, 400));
    CheckpointInfo c1;
    ASSERT_OK(Checkpoint(rig->db.get(), &c1));
    const Model m1 = model;
    for (int i = 0; i < 1500; ++i) ASSERT_OK(Mutate(rig->db.get(), &model, &rng, 400));
    // A cut being written on another thread while Close runs (it = odd), or
    // Close with only flushes and compactions under way (it = even).
    std::shared_ptr<CheckpointTicket> ticket;
    Model at_cut;
    if (it % 2) {
      ASSERT_OK(rig->db->BeginCheckpoint(CheckpointRequest{}, &ticket));
      at_cut = model;
      for (int i = 0; i < 300; ++i) ASSERT_OK(Mutate(rig->db.get(), &model, &rng, 400));
    }
    auto fs = std::make_shared<Result>(), cls = std::make_shared<Result>();
    auto info = std::make_shared<CheckpointInfo>();
    const int delay = static_cast<int>(Rand(&rng) % 2000);
    std::vector<std::function<void()>> fns;
    if (ticket) {
      fns.push_back([rig, ticket, fs, info] { fs->status = rig->db->FinishCheckpoint(ticket, info.get()); });
    }
    fns.push_back([rig, cls, delay] {
      std::this_thread::sleep_for(std::chrono::microseconds(delay));
      cls->status = rig->db->Close();
    });
    if (!RunAll(10000, std::move(fns))) {
      FAIL_AT("HANG: Close() " + std::string(ticket ? "racing FinishCheckpoint() " : "during background work ") +
              "did not finish in 10 s (iteration " + std::to_string(it) + ")");
      Leak(rig);
      return;
    }
    EXPECT_OK(cls->status);
    if (ticket && !fs->status.ok()) FAIL_AT("a checkpoint cut before Close failed: " + fs->status.ToString());
    rig->db.reset();
    rig->renv.Clear();
    rig->db = OpenOrFail(rig->o, "reopen after close");
    ASSERT_TRUE(rig->db != nullptr);
    if (ticket && fs->status.ok()) {
      EXPECT_EQ(rig->db->LastCheckpointVersion(), ticket->version);
      ExpectExactly(rig->db.get(), at_cut, 400, "reopened at the checkpoint finished during Close");
    } else {
      EXPECT_EQ(rig->db->LastCheckpointVersion(), c1.version);
      ExpectExactly(rig->db.get(), m1, 400, "reopened after Close during background work");
    }
    ExpectNoOrphans(&rig->renv.env, rig->db.get(), rig->renv.rec.get(), "reopened after close");
  }
}

// Restore and Close both waiting for a checkpoint still being written: when
// it completes, Restore resets the checkpoint counter Close is waiting on.
TEST(LsmFaults, RestoreAndCloseWaitingForTheSameCheckpoint) {
  int hangs = 0;
  for (int it = 0; it < 24 && hangs == 0; ++it) {
    auto rig = NewRig(LsmCompactionStyle::kLeveled);
    ASSERT_TRUE(rig->db != nullptr);
    uint64_t rng = testing::TestSeed() + 1800 + it;
    Model model;
    for (int i = 0; i < 800; ++i) ASSERT_OK(Mutate(rig->db.get(), &model, &rng, 300));
    CheckpointInfo c1, c2;
    ASSERT_OK(Checkpoint(rig->db.get(), &c1));
    const Model m1 = model;
    for (int i = 0; i < 300; ++i) ASSERT_OK(Mutate(rig->db.get(), &model, &rng, 300));
    ASSERT_OK(Checkpoint(rig->db.get(), &c2));
    for (int i = 0; i < 300; ++i) ASSERT_OK(Mutate(rig->db.get(), &model, &rng, 300));
    std::shared_ptr<CheckpointTicket> ticket;
    ASSERT_OK(rig->db->BeginCheckpoint(CheckpointRequest{}, &ticket));
    const Model m3 = model;
    auto rs = std::make_shared<Result>(), cls = std::make_shared<Result>(), fs = std::make_shared<Result>();
    auto info = std::make_shared<CheckpointInfo>();
    const uint64_t v1 = c1.version;
    const int jitter = static_cast<int>(Rand(&rng) % 500);
    const bool finished = RunAll(3000, {
        [rig, rs, v1] {
          rs->status = rig->db->Restore(v1);
          rs->done = true;
        },
        [rig, cls] {
          std::this_thread::sleep_for(std::chrono::milliseconds(3));
          cls->status = rig->db->Close();
          cls->done = true;
        },
        [rig, ticket, fs, info, jitter] {
          std::this_thread::sleep_for(std::chrono::milliseconds(8) + std::chrono::microseconds(jitter));
          fs->status = rig->db->FinishCheckpoint(ticket, info.get());
          fs->done = true;
        },
    });
    if (!finished) {
      ++hangs;
      FAIL_AT("HANG (iteration " + std::to_string(it) +
              "): Restore(v1) and Close() both waited for checkpoint " + std::to_string(ticket->version) +
              " being finished on a third thread; after it finished, the calls did not return within 3 s "
              "(Restore: " + rs->Describe() + "; Close: " + cls->Describe() + "; FinishCheckpoint: " + fs->Describe() +
              ")");
      Leak(rig);
      break;
    }
    EXPECT_OK(fs->status);
    EXPECT_OK(cls->status);
    rig->db.reset();
    rig->db = OpenOrFail(rig->o, "reopen");
    ASSERT_TRUE(rig->db != nullptr);
    if (rs->status.ok()) {
      EXPECT_EQ(rig->db->LastCheckpointVersion(), v1);
      ExpectExactly(rig->db.get(), m1, 300, "restored during close");
    } else {
      EXPECT_EQ(rs->status.code(), StatusCode::kClosed);
      ExpectExactly(rig->db.get(), fs->status.ok() ? m3 : model, 300, "restore refused during close");
    }
  }
}

// A writer stalled behind a flush that cannot proceed (its disk calls
// blocked) gets kClosed when the store closes, and Close completes once the
// flush can finish.
TEST(LsmFaults, CloseReleasesAStalledWriter) {
  auto mem = std::make_shared<MemEnv>();
  auto env = std::make_shared<HookEnv>(mem.get());
  auto gate = std::make_shared<std::atomic<bool>>(false);
  env->SetHook([gate](IoOp op, const std::string& path) {
    while (gate->load() && IsTableFile(path)) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return Status::OK();
  });
  LsmOptions o = TinyLsmOptions(env.get(), LsmCompactionStyle::kLeveled);
  o.max_immutable_memtables = 1;
  std::unique_ptr<Engine> owned;
  ASSERT_OK(Lsm::Open(o, kDir, &owned));
  std::shared_ptr<Engine> db(std::move(owned));
  *gate = true;
  auto ws = std::make_shared<Result>();
  auto writer_done = std::make_shared<std::atomic<bool>>(false);
  std::thread writer([db, ws, writer_done] {
    for (int i = 0; i < 20000; ++i) {
      Status s = db->Put("w" + std::to_string(i), std::string(200, 'w'));
      if (!s.ok()) {
        ws->status = s;
        break;
      }
    }
    *writer_done = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const bool stalled = !writer_done->load();
  auto cls = std::make_shared<Result>();
  auto close_done = std::make_shared<std::atomic<bool>>(false);
  std::thread closer([db, cls, close_done] {
    cls->status = db->Close();
    *close_done = true;
  });
  for (int i = 0; i < 200 && !writer_done->load(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  const bool writer_released = writer_done->load();
  *gate = false;
  writer.join();
  closer.join();
  EXPECT_TRUE(stalled);
  if (!writer_released) FAIL_AT("a writer stalled on a full flush queue was not released by Close within 2 s");
  EXPECT_STATUS(ws->status, kClosed);
  EXPECT_OK(cls->status);
}

// Everything at once on separate threads, then Close at a random moment:
// every call ends (OK, kClosed, kBusy or kVersionNotFound), nothing hangs,
// and the directory reopens at a consistent checkpoint.
TEST(LsmFaults, ChaosThenClose) {
  for (int it = 0; it < 10; ++it) {
    const LsmCompactionStyle style = it % 2 ? LsmCompactionStyle::kSizeTiered : LsmCompactionStyle::kLeveled;
    auto rig = NewRig(style);
    ASSERT_TRUE(rig->db != nullptr);
    struct Shared {
      std::atomic<bool> stop{false};
      std::mutex mu;
      std::vector<std::string> unexpected;  // the first few
      std::atomic<uint64_t> unexpected_count{0};
      std::atomic<bool> done[6] = {};
      void Check(const Status& s, const char* what) {
        if (s.ok() || s.code() == StatusCode::kClosed || s.code() == StatusCode::kBusy ||
            s.code() == StatusCode::kVersionNotFound) {
          return;
        }
        ++unexpected_count;
        {
          std::lock_guard<std::mutex> l(mu);
          if (unexpected.size() < 4) unexpected.push_back(std::string(what) + ": " + s.ToString());
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));  // no tight error loop
      }
    };
    auto sh = std::make_shared<Shared>();
    const uint64_t seed = testing::TestSeed() + 1900 + it;
    std::vector<std::function<void()>> fns;
    fns.push_back([rig, sh, seed] {
      uint64_t rng = seed;
      Model scratch;
      while (!sh->stop.load()) {
        Status s = Mutate(rig->db.get(), &scratch, &rng, 500, /*strict=*/false);  // restores run concurrently
        sh->Check(s, "write");
        if (s.code() == StatusCode::kClosed) break;
      }
    });
    fns.push_back([rig, sh] {
      while (!sh->stop.load()) {
        Status s = Checkpoint(rig->db.get());
        sh->Check(s, "checkpoint");
        if (s.code() == StatusCode::kClosed) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(3));
      }
    });
    fns.push_back([rig, sh] {
      while (!sh->stop.load()) {
        CompactionResult r;
        Status s = rig->db->Compact(&r);
        sh->Check(s, "compact");
        if (s.code() == StatusCode::kClosed) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    });
    fns.push_back([rig, sh, seed] {
      uint64_t rng = seed * 3;
      while (!sh->stop.load()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        std::vector<CheckpointInfo> list;
        rig->db->ListCheckpoints(&list);
        if (list.empty()) continue;
        Status s = rig->db->Restore(list[Rand(&rng) % list.size()].version);
        sh->Check(s, "restore");
        if (s.code() == StatusCode::kClosed) break;
      }
    });
    fns.push_back([rig, sh] {
      while (!sh->stop.load()) {
        RangeOptions r;
        KVs got;
        Status s = Scan(rig->db.get(), r, &got);
        sh->Check(s, "scan");
        if (s.code() == StatusCode::kClosed) break;
      }
    });
    uint64_t close_rng = seed;
    const int close_after = 30 + static_cast<int>(Rand(&close_rng) % 120);
    fns.push_back([rig, sh, close_after] {
      std::this_thread::sleep_for(std::chrono::milliseconds(close_after));
      sh->Check(rig->db->Close(), "close");
      sh->stop = true;
    });
    static const char* const kNames[] = {"writer", "checkpointer", "compactor", "restorer", "scanner", "Close"};
    for (size_t i = 0; i < fns.size(); ++i) {
      fns[i] = [sh, i, f = fns[i]] {
        f();
        sh->done[i] = true;
      };
    }
    if (!RunAll(8000, std::move(fns))) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      std::string blocked;
      for (size_t i = 0; i < 6; ++i) {
        if (!sh->done[i].load()) blocked += std::string(" ") + kNames[i];
      }
      sh->stop = true;
      FAIL_AT("HANG: concurrent writes/checkpoints/compactions/restores/scans + Close did not finish in 8 s (iteration " +
              std::to_string(it) + ", seed " + std::to_string(testing::TestSeed()) + "); still blocked:" + blocked);
      Leak(rig);
      return;
    }
    for (const auto& u : sh->unexpected) FAIL_AT("chaos iteration " + std::to_string(it) + ": " + u);
    if (sh->unexpected_count.load() > sh->unexpected.size()) {
      FAIL_AT("chaos iteration " + std::to_string(it) + ": " +
              std::to_string(sh->unexpected_count.load() - sh->unexpected.size()) + " more unexpected errors");
    }
    rig->db.reset();
    rig->db = OpenOrFail(rig->o, "reopen after chaos");
    ASSERT_TRUE(rig->db != nullptr);
    ASSERT_OK(rig->db->Verify());
    KVs all;
    ASSERT_OK(Scan(rig->db.get(), RangeOptions{}, &all));
    EngineStats stats;
    rig->db->GetStats(&stats);
    EXPECT_EQ(stats.keys, all.size());
  }
}

}  // namespace
}  // namespace tidekv::lsm
