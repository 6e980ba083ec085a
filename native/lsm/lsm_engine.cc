// The LSM engine's foreground calls, background threads and range cursors.
// Design: lsm_engine_impl.h. Checkpoints and recovery: lsm_checkpoint.cc.
#include <algorithm>
#include <chrono>
#include <cstring>
#include <set>

#include "common/hash.h"
#include "common/limits.h"
#include "lsm/lsm_engine_impl.h"

namespace tidekv {

namespace {

Status ValidateOptions(const LsmOptions& o) {
  auto bad = [](const char* name, const std::string& rule) {
    return Status::InvalidArgument(std::string("option ") + name + " " + rule);
  };
  if (o.memory_budget_bytes < (4u << 20)) return bad("memoryBudgetBytes", "must be at least 4 MiB for the 'lsm' engine");
  if (o.max_immutable_memtables < 1 || o.max_immutable_memtables > 16) {
    return bad("maxImmutableMemtables", "must be between 1 and 16");
  }
  if (o.memtable_bytes != 0) {
    if (o.memtable_bytes < (64u << 10)) return bad("memtableBytes", "must be at least 64 KiB");
    if (o.memtable_bytes * (o.max_immutable_memtables + 1) > o.memory_budget_bytes) {
      return bad("memtableBytes", "times (maxImmutableMemtables + 1) must fit in memoryBudgetBytes");
    }
  }
  if (o.compaction_style != LsmCompactionStyle::kLeveled && o.compaction_style != LsmCompactionStyle::kSizeTiered) {
    return bad("compactionStyle", "must be 'leveled' or 'size-tiered'");
  }
  if (o.runs_per_level < 2 || o.runs_per_level > 64) return bad("runsPerLevel", "must be between 2 and 64");
  if (o.level_size_ratio < 2 || o.level_size_ratio > 100) return bad("levelSizeRatio", "must be between 2 and 100");
  if (o.slowdown_runs < o.runs_per_level) return bad("slowdownRuns", "must be at least runsPerLevel");
  if (o.stop_runs <= o.slowdown_runs || o.stop_runs > 1000) {
    return bad("stopRuns", "must be above slowdownRuns and at most 1000");
  }
  if (o.bloom_bits_per_key > 32) return bad("bloomBitsPerKey", "must be between 0 and 32");
  if (o.block_bytes < 256 || o.block_bytes > (1u << 20)) return bad("blockBytes", "must be between 256 and 1 MiB");
  if (o.retain_checkpoints < 1 || o.retain_checkpoints > kMaxRetainedCheckpoints) {
    return bad("retainCheckpoints", "must be between 1 and " + std::to_string(kMaxRetainedCheckpoints));
  }
  return Status::OK();
}

using Clock = std::chrono::steady_clock;

uint64_t MicrosSince(Clock::time_point t) {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t).count());
}

}  // namespace

Status Lsm::Open(const LsmOptions& options, const std::string& dir, std::unique_ptr<Engine>* engine) {
  TIDEKV_RETURN_IF_ERROR(ValidateOptions(options));
  auto impl = std::make_unique<lsm::LsmEngine>();
  TIDEKV_RETURN_IF_ERROR(impl->Open(options, dir));
  *engine = std::move(impl);
  return Status::OK();
}

namespace lsm {

namespace {

// A write over slowdown_runs is charged this many nanoseconds per byte for
// each run of backlog: about 100 MB/s at the first run, 10 MB/s at ten.
constexpr double kDelayNsPerBytePerRun = 10.0;
constexpr double kMaxDelaySliceNs = 1e6;  // paid in sleeps of at most 1 ms

EntryKind ToEntryKind(MemEntryKind k) { return k == MemEntryKind::kValue ? EntryKind::kValue : EntryKind::kTombstone; }

// A memtable as a run (for flushes and range cursors).
class MemRunIterator final : public RunIterator {
 public:
  MemRunIterator(std::shared_ptr<MemTable> mem, uint64_t snapshot)
      : mem_(std::move(mem)), it_(mem_.get(), snapshot) {}
  void SeekToFirst() override { it_.SeekToFirst(); }
  void Seek(Slice target) override { it_.Seek(target); }
  void SeekToLast() override { it_.SeekToLast(); }
  void SeekBefore(Slice target) override { it_.SeekBefore(target); }
  bool Valid() const override { return it_.Valid(); }
  void Next() override { it_.Next(); }
  Slice key() const override { return it_.key(); }
  EntryKind kind() const override { return ToEntryKind(it_.kind()); }
  Slice value() const override { return it_.value(); }
  Status status() const override { return Status::OK(); }

 private:
  std::shared_ptr<MemTable> mem_;
  MemTable::Iterator it_;
};

}  // namespace

LsmEngine::~LsmEngine() { (void)Close(); }

Status LsmEngine::Open(const LsmOptions& options, const std::string& dir) {
  options_ = options;
  env_ = options_.env != nullptr ? options_.env : Env::Posix();
  options_.env = env_;
  dir_ = dir;
  leveled_ = options_.compaction_style == LsmCompactionStyle::kLeveled;
  memtable_bytes_ = options_.memtable_bytes != 0
                        ? options_.memtable_bytes
                        : std::min<uint64_t>(64u << 20, options_.memory_budget_bytes / 8);
  // What the memtables cannot take of the budget caches table blocks.
  const uint64_t memtables = memtable_bytes_ * (options_.max_immutable_memtables + 1);
  block_cache_ = std::make_unique<BlockCache>(
      options_.memory_budget_bytes > memtables ? options_.memory_budget_bytes - memtables : 0);
  level1_bytes_ = options_.level1_bytes != 0 ? options_.level1_bytes : 4 * memtable_bytes_;
  target_table_bytes_ = options_.target_table_bytes != 0 ? options_.target_table_bytes : memtable_bytes_;
  TIDEKV_RETURN_IF_ERROR(env_->CreateDir(dir));
  TIDEKV_RETURN_IF_ERROR(env_->LockFile(JoinPath(dir, "LOCK"), &dir_lock_));
  janitor_ = std::make_shared<FileJanitor>(env_, dir_);
  mem_.reset(NewMemTable());
  version_ = std::make_shared<Version>();
  TIDEKV_RETURN_IF_ERROR(Recover());
  janitor_->Start();
  flush_thread_ = std::thread([this] { FlushLoop(); });
  compaction_thread_ = std::thread([this] { CompactionLoop(); });
  return Status::OK();
}

MemTable* LsmEngine::NewMemTable() { return new MemTable(kMaxValueBytes); }

Status LsmEngine::CheckOpen() const {
  if (closing_) return Status::Closed("store is closed");
  return Status::OK();
}

// ---------------------------------------------------------------------------
// Reads

Status LsmEngine::LookupOlderLocked(Slice key, uint64_t hash, KeyState* state, Slice* value) {
  for (auto it = frozen_.rbegin(); it != frozen_.rend(); ++it) {
    MemEntry e;
    if ((*it)->mem != nullptr && (*it)->mem->Get(key, hash, &e)) {
      *value = e.bytes;
      *state = e.kind == MemEntryKind::kValue ? KeyState::kValue : KeyState::kTombstone;
      return Status::OK();
    }
  }
  for (const auto& level : version_->levels) {
    for (const Run& run : level) {
      const Table* t = run.Find(key);
      if (t == nullptr) continue;
      bool found = false;
      EntryKind kind = EntryKind::kValue;
      // A damaged block names its file. *value may view the cache: callers
      // use it before the next lookup.
      TIDEKV_RETURN_IF_ERROR(t->reader->Find(key, hash, &found, &kind, value, block_cache_.get()));
      if (!found) continue;
      *state = kind == EntryKind::kValue ? KeyState::kValue : KeyState::kTombstone;
      return Status::OK();
    }
  }
  *state = KeyState::kAbsent;
  return Status::OK();
}

Status LsmEngine::LookupLocked(Slice key, uint64_t hash, KeyState* state, Slice* value) {
  MemEntry e;
  if (mem_->Get(key, hash, &e)) {
    *value = e.bytes;
    *state = e.kind == MemEntryKind::kValue ? KeyState::kValue : KeyState::kTombstone;
    return Status::OK();
  }
  return LookupOlderLocked(key, hash, state, value);
}

Status LsmEngine::IsLiveLocked(Slice key, uint64_t hash, bool* live, Slice* value) {
  KeyState state = KeyState::kAbsent;
  TIDEKV_RETURN_IF_ERROR(LookupLocked(key, hash, &state, value));
  *live = state == KeyState::kValue;
  return Status::OK();
}

Status LsmEngine::Get(Slice key, char* dst, size_t dst_capacity, size_t* value_bytes) {
  Lock lock(mu_);
  TIDEKV_RETURN_IF_ERROR(CheckOpen());
  Slice value;
  bool live = false;
  TIDEKV_RETURN_IF_ERROR(IsLiveLocked(key, HashKey(key), &live, &value));
  if (!live) return Status::NotFound("");
  *value_bytes = value.size();
  if (value.size() <= dst_capacity && !value.empty()) std::memcpy(dst, value.data(), value.size());
  return Status::OK();
}

void LsmEngine::PrefetchLocked(Slice key, uint64_t hash) const {
  mem_->Prefetch(hash);
  for (const auto& f : frozen_) {
    if (f->mem != nullptr) f->mem->Prefetch(hash);
  }
  for (const auto& level : version_->levels) {
    for (const Run& run : level) {
      if (const Table* t = run.Find(key)) t->reader->Prefetch(hash);
    }
  }
}

void LsmEngine::PrefetchBlockLocked(Slice key, uint64_t hash) const {
  // The lookup up to its block, without reading the block: what the filter
  // blocks prefetched earlier say decides which table's block to load.
  MemEntry e;
  if (mem_->Get(key, hash, &e)) return;
  for (const auto& f : frozen_) {
    if (f->mem != nullptr && f->mem->Get(key, hash, &e)) return;
  }
  for (const auto& level : version_->levels) {
    for (const Run& run : level) {
      const Table* t = run.Find(key);
      if (t == nullptr || !t->reader->MayContainHash(hash)) continue;
      t->reader->PrefetchBlock(key, block_cache_.get());
      return;
    }
  }
}

Status LsmEngine::GetMany(const Slice* keys, size_t n, GetManySink* sink) {
  Lock lock(mu_);
  TIDEKV_RETURN_IF_ERROR(CheckOpen());
  // Two stages ahead of the lookup: the first cache lines of key i + 2d, the
  // data block of key i + d (found through lines loaded d keys ago). Each
  // key's hash is computed once, by the first stage, and kept for the rest.
  constexpr size_t d = kPrefetchDistance;
  constexpr size_t kRing = 32;  // a power of two above 2d: the keys in flight
  static_assert(kRing > 2 * d && (kRing & (kRing - 1)) == 0);
  uint64_t hashes[kRing];
  auto first_stage = [&](size_t k) {
    hashes[k % kRing] = HashKey(keys[k]);
    PrefetchLocked(keys[k], hashes[k % kRing]);
  };
  for (size_t i = 0; i < std::min(n, 2 * d); ++i) first_stage(i);
  for (size_t i = 0; i < std::min(n, d); ++i) PrefetchBlockLocked(keys[i], hashes[i % kRing]);
  for (size_t i = 0; i < n; ++i) {
    if (i + 2 * d < n) first_stage(i + 2 * d);
    if (i + d < n) PrefetchBlockLocked(keys[i + d], hashes[(i + d) % kRing]);
    Slice value;
    bool live = false;
    TIDEKV_RETURN_IF_ERROR(IsLiveLocked(keys[i], hashes[i % kRing], &live, &value));
    if (!sink->OnResult(i, live ? &value : nullptr)) break;
  }
  return Status::OK();
}

Status LsmEngine::Has(Slice key, bool* found) {
  Lock lock(mu_);
  TIDEKV_RETURN_IF_ERROR(CheckOpen());
  Slice value;
  return IsLiveLocked(key, HashKey(key), found, &value);
}

// ---------------------------------------------------------------------------
// Writes

Status LsmEngine::WasLive(std::optional<MemEntryKind> previous, Slice key, bool* live) {
  if (previous.has_value()) {
    *live = *previous == MemEntryKind::kValue;
    return Status::OK();
  }
  Slice ignored;
  KeyState state = KeyState::kAbsent;
  TIDEKV_RETURN_IF_ERROR(LookupOlderLocked(key, HashKey(key), &state, &ignored));
  *live = state == KeyState::kValue;
  return Status::OK();
}

Status LsmEngine::Put(Slice key, Slice value) {
  Lock lock(mu_);
  TIDEKV_RETURN_IF_ERROR(CheckOpen());
  std::optional<MemEntryKind> previous;
  // The older runs are read after the write (it cannot change them): one
  // memtable search serves both.
  TIDEKV_RETURN_IF_ERROR(mem_->Put(key, value, &previous));
  bool was_live = false;
  Status s = WasLive(previous, key, &was_live);
  if (!s.ok()) {
    live_keys_stale_ = true;  // the write is done; the count cannot be known
    return s;
  }
  if (!was_live) ++live_keys_;
  return AfterWriteLocked(lock, key.size() + value.size());
}

Status LsmEngine::Delete(Slice key, bool* existed) {
  Lock lock(mu_);
  TIDEKV_RETURN_IF_ERROR(CheckOpen());
  Slice value;
  TIDEKV_RETURN_IF_ERROR(IsLiveLocked(key, HashKey(key), existed, &value));
  // Nothing to shadow: an absent key needs no tombstone.
  if (!*existed) return Status::OK();
  TIDEKV_RETURN_IF_ERROR(mem_->Delete(key));
  --live_keys_;
  return AfterWriteLocked(lock, key.size());
}

Status LsmEngine::Merge(Slice key, MergeOp op, Slice operand, int64_t* int_result) {
  Lock lock(mu_);
  TIDEKV_RETURN_IF_ERROR(CheckOpen());
  TIDEKV_RETURN_IF_ERROR(MemTable::CheckKey(key));  // before the lookup, which would take any bytes
  Slice current;
  bool live = false;
  TIDEKV_RETURN_IF_ERROR(IsLiveLocked(key, HashKey(key), &live, &current));
  TIDEKV_RETURN_IF_ERROR(ResolveMerge(live ? &current : nullptr, op, operand, kMaxValueBytes, &merge_scratch_));
  TIDEKV_RETURN_IF_ERROR(mem_->Put(key, merge_scratch_));
  if (!live) ++live_keys_;
  if (op == MergeOp::kAddInt64 && int_result != nullptr) {
    *int_result = static_cast<int64_t>(LoadFixed64(merge_scratch_.data()));
  }
  return AfterWriteLocked(lock, key.size() + merge_scratch_.size());
}

Status LsmEngine::ApplyBatch(const WriteBatch& batch, int64_t* add_results) {
  Lock lock(mu_);
  TIDEKV_RETURN_IF_ERROR(CheckOpen());
  // Every op is checked first, so a bad one anywhere writes nothing.
  bool has_merge = false;
  for (size_t i = 0; i < batch.size(); ++i) {
    const WriteBatch::Op op = batch.op(i);
    if (op.key.empty() || op.key.size() > kMaxKeyBytes) {
      return Status::InvalidArgument("ops[" + std::to_string(i) + "].key must be 1.." + std::to_string(kMaxKeyBytes) +
                                     " bytes");
    }
    if (op.type == BatchOpType::kPut && op.value.size() > kMaxValueBytes) {
      return Status::InvalidArgument("ops[" + std::to_string(i) + "].value is too large");
    }
    has_merge |= op.type == BatchOpType::kMerge;
  }
  if (!has_merge) {
    // Puts and deletes cannot fail on the stored data (keys and values were
    // checked above), so they are applied in order as they come: no state to
    // stage. Only running out of memory can stop the batch part-way.
    size_t bytes = 0;
    auto prefetch = [&](size_t k) { PrefetchLocked(batch.op(k).key, HashKey(batch.op(k).key)); };
    for (size_t i = 0; i < std::min(batch.size(), kPrefetchDistance); ++i) prefetch(i);
    for (size_t i = 0; i < batch.size(); ++i) {
      if (i + kPrefetchDistance < batch.size()) prefetch(i + kPrefetchDistance);
      const WriteBatch::Op op = batch.op(i);
      std::optional<MemEntryKind> previous;
      Status s;
      bool was_live = false;
      if (op.type == BatchOpType::kPut) {
        s = mem_->Put(op.key, op.value, &previous);
        if (s.ok()) s = WasLive(previous, op.key, &was_live);
        if (s.ok() && !was_live) ++live_keys_;
        bytes += op.key.size() + op.value.size();
      } else {
        Slice ignored;
        s = IsLiveLocked(op.key, HashKey(op.key), &was_live, &ignored);
        if (s.ok() && was_live) {
          s = mem_->Delete(op.key);
          if (s.ok()) --live_keys_;
        }
        bytes += op.key.size();
      }
      if (!s.ok()) {
        if (i == 0) return s;
        live_keys_stale_ = true;
        return Status(s.code(), "batch applied in part (" + std::to_string(i) + " of " +
                                    std::to_string(batch.size()) + " ops): " + std::string(s.message()));
      }
      // A long batch must not grow the memtable without bound: switch as it goes.
      if (mem_->ApproximateBytes() >= memtable_bytes_) {
        TIDEKV_RETURN_IF_ERROR(AfterWriteLocked(lock, bytes));
        bytes = 0;
      }
    }
    return AfterWriteLocked(lock, bytes);
  }
  // Pass 1 computes every key's final state without writing (ResolveBatch).
  std::vector<BatchKeyFinal> finals;
  TIDEKV_RETURN_IF_ERROR(ResolveBatch(
      batch, kMaxValueBytes,
      [&](Slice key, bool want_value, bool* live, std::string* value) -> Status {
        Slice current;
        TIDEKV_RETURN_IF_ERROR(IsLiveLocked(key, HashKey(key), live, &current));
        if (*live && want_value) value->assign(current.data(), current.size());
        return Status::OK();
      },
      add_results, &finals));
  // Pass 2 writes each key's final state once.
  size_t bytes = 0;
  for (const BatchKeyFinal& f : finals) {
    if (f.live) {
      Status s = mem_->Put(f.key, f.value);
      if (!s.ok()) return Status(s.code(), "batch applied in part: " + std::string(s.message()));
      bytes += f.key.size() + f.value.size();
    } else if (f.was_live) {
      Status s = mem_->Delete(f.key);
      if (!s.ok()) return Status(s.code(), "batch applied in part: " + std::string(s.message()));
      bytes += f.key.size();
    }
    live_keys_ += static_cast<uint64_t>(f.live) - static_cast<uint64_t>(f.was_live);
  }
  return AfterWriteLocked(lock, bytes);
}

size_t LsmEngine::Backlog(const Version& v) const {
  if (v.levels.empty()) return 0;
  if (leveled_) return v.levels[0].size();
  size_t most = 0;
  for (const auto& level : v.levels) most = std::max(most, level.size());
  return most;
}

void LsmEngine::FreezeMemtableLocked() {
  if (mem_->entries() == 0) return;  // nothing to flush (another caller froze it meanwhile)
  auto f = std::make_shared<Frozen>();
  f->mem = std::move(mem_);
  frozen_.push_back(std::move(f));
  mem_.reset(NewMemTable());
  flush_cv_.notify_one();
}

Status LsmEngine::AfterWriteLocked(Lock& lock, size_t bytes) {
  // Gradual slowdown: the write pays for its bytes in proportion to the backlog.
  const size_t backlog = Backlog(*version_) + frozen_.size();
  if (backlog >= options_.slowdown_runs) {
    delay_debt_ns_ += kDelayNsPerBytePerRun * static_cast<double>(bytes) *
                      static_cast<double>(backlog - options_.slowdown_runs + 1);
    if (delay_debt_ns_ >= kMaxDelaySliceNs) {
      const auto start = Clock::now();
      progress_cv_.wait_for(lock, std::chrono::nanoseconds(static_cast<int64_t>(kMaxDelaySliceNs)));
      delay_debt_ns_ = 0;
      const uint64_t waited = MicrosSince(start);
      stall_micros_ += waited;
      longest_stall_micros_ = std::max(longest_stall_micros_, waited);
      ++stalls_;
      TIDEKV_RETURN_IF_ERROR(CheckOpen());
    }
  }
  if (mem_->ApproximateBytes() < memtable_bytes_) return Status::OK();
  // A switch waits while the flush thread is a full queue behind or the tree
  // has stopped accepting runs. The write itself is already applied.
  const auto start = Clock::now();
  bool waited = false;
  while (!closing_ && (frozen_.size() >= options_.max_immutable_memtables ||
                       Backlog(*version_) >= options_.stop_runs)) {
    // A background thread that failed (a full disk) retries when kicked; if
    // the retry this writer waits for fails too, the writer gets the error
    // instead of waiting for a disk that may never recover.
    const bool flush_bound = frozen_.size() >= options_.max_immutable_memtables;
    const uint64_t flush_failures = flush_failures_, compaction_failures = compaction_failures_;
    if (flush_bound) {
      flush_cv_.notify_one();
    } else {
      compaction_cv_.notify_one();
    }
    waited = true;
    progress_cv_.wait(lock);
    if (flush_bound && flush_failures_ > flush_failures && frozen_.size() >= options_.max_immutable_memtables) {
      return Status(flush_error_.code(), "memtable flush failed: " + std::string(flush_error_.message()));
    }
    if (!flush_bound && compaction_failures_ > compaction_failures && Backlog(*version_) >= options_.stop_runs) {
      return Status(compaction_error_.code(),
                    "compaction is failing and the tree is full: " + std::string(compaction_error_.message()));
    }
  }
  if (waited) {
    const uint64_t micros = MicrosSince(start);
    stop_micros_ += micros;
    longest_stall_micros_ = std::max(longest_stall_micros_, micros);
    ++stalls_;
  }
  TIDEKV_RETURN_IF_ERROR(CheckOpen());
  // While this writer waited, a checkpoint or compact() may have frozen the
  // memtable already.
  if (mem_->ApproximateBytes() >= memtable_bytes_) FreezeMemtableLocked();
  return Status::OK();
}

// ---------------------------------------------------------------------------
// Background: flushes

Status LsmEngine::WriteTable(const std::function<Status(SSTableBuilder*)>& fill, TableRef* table) {
  uint64_t number = 0;
  {
    Lock lock(mu_);
    number = next_file_number_++;
  }
  SSTableOptions topts;
  topts.block_bytes = options_.block_bytes;
  topts.bloom_bits_per_key = static_cast<int>(options_.bloom_bits_per_key);
  SSTableBuilder builder;
  TIDEKV_RETURN_IF_ERROR(builder.Open(env_, JoinPath(dir_, TableFileName(number)), number, topts));
  TIDEKV_RETURN_IF_ERROR(fill(&builder));
  SSTableProperties props;
  TIDEKV_RETURN_IF_ERROR(builder.Finish(&props));
  return OpenTable(number, table);
}

Status LsmEngine::OpenTable(uint64_t number, TableRef* table) {
  std::unique_ptr<SSTableReader> reader;
  TIDEKV_RETURN_IF_ERROR(SSTableReader::Open(env_, JoinPath(dir_, TableFileName(number)), &reader));
  if (reader->properties().file_number != number) {
    return Status::Corruption(reader->path() + ": the table's header names another file number");
  }
  if (reader->properties().entries == 0) return Status::Corruption(reader->path() + ": an empty table");
  *table = std::make_shared<Table>(std::move(reader), janitor_);
  return Status::OK();
}

void LsmEngine::InstallLocked(std::shared_ptr<Version> v) {
  while (!v->levels.empty() && v->levels.back().empty()) v->levels.pop_back();
#if TIDEKV_INVARIANTS
  Status s = v->Check(leveled_);
  if (!s.ok()) {
    std::fprintf(stderr, "tidekv: %s\n", std::string(s.message()).c_str());
    std::abort();
  }
#endif
  version_ = std::move(v);
}

void LsmEngine::FlushLoop() {
  Lock lock(mu_);
  for (;;) {
    flush_cv_.wait(lock, [&] { return stop_threads_ || (pause_requests_ == 0 && !frozen_.empty()); });
    if (stop_threads_) return;
    std::shared_ptr<Frozen> f = frozen_.front();
    std::shared_ptr<MemTable> mem = f->mem;
    flush_busy_ = true;
    lock.unlock();
    TableRef table;
    Status s = WriteTable(
        [&](SSTableBuilder* b) -> Status {
          MemTable::Iterator it(mem.get());
          for (it.SeekToFirst(); it.Valid(); it.Next()) {
            TIDEKV_RETURN_IF_ERROR(b->Add(it.key(), ToEntryKind(it.kind()), it.value()));
          }
          return Status::OK();
        },
        &table);
    janitor_->Drain();
    lock.lock();
    flush_busy_ = false;
    if (!s.ok()) {
      flush_error_ = s;
      ++flush_failures_;
      progress_cv_.notify_all();
      // Retry after a pause (or when a writer or checkpoint asks): the disk may recover.
      flush_cv_.wait_for(lock, std::chrono::milliseconds(200));
      continue;
    }
    flush_error_ = Status::OK();
    f->table = table;
    f->flushed = true;
    f->mem.reset();
    auto v = std::make_shared<Version>(*version_);
    if (v->levels.empty()) v->levels.resize(1);
    v->levels[0].insert(v->levels[0].begin(), Run{{table}});
    frozen_.pop_front();
    InstallLocked(std::move(v));
    ++flushes_;
    bytes_flushed_ += table->bytes();
    progress_cv_.notify_all();
    compaction_cv_.notify_one();
  }
}

// ---------------------------------------------------------------------------
// Background: compaction

bool LsmEngine::PickCompactionLocked(CompactionJob* job) {
  *job = CompactionJob{};
  if (manual_requested_ > manual_done_) {
    // Everything flushed before the request: wait for the flush thread first.
    if (!frozen_.empty()) return false;
    PickFullCompaction(*version_, leveled_, job);
    return true;
  }
  PickerOptions o;
  o.leveled = leveled_;
  o.runs_per_level = options_.runs_per_level;
  o.level_size_ratio = options_.level_size_ratio;
  o.level1_bytes = level1_bytes_;
  return PickCompaction(*version_, o, &compact_cursor_, job);
}

Status LsmEngine::RunCompaction(const CompactionJob& job, std::vector<TableRef>* outputs, uint64_t* entries_in,
                                uint64_t* entries_out) {
  std::vector<std::unique_ptr<RunIterator>> runs;
  for (const Run& r : job.inputs) runs.push_back(NewRunIterator(r));
  MergingIterator input(std::move(runs));
  input.SeekToFirst();
  std::unique_ptr<SSTableBuilder> builder;
  uint64_t number = 0, building = 0;
  auto finish = [&]() -> Status {
    SSTableProperties props;
    TIDEKV_RETURN_IF_ERROR(builder->Finish(&props));
    builder.reset();
    TableRef t;
    TIDEKV_RETURN_IF_ERROR(OpenTable(number, &t));
    outputs->push_back(std::move(t));
    return Status::OK();
  };
  SSTableOptions topts;
  topts.block_bytes = options_.block_bytes;
  topts.bloom_bits_per_key = static_cast<int>(options_.bloom_bits_per_key);
  CompactionRules rules;
  rules.bottommost = job.bottommost;
  for (const Run& r : job.inputs) {
    for (const TableRef& t : r.tables) *entries_in += t->reader->properties().entries;
  }
  Status s = CompactRuns(&input, rules, [&](Slice key, EntryKind kind, Slice value) -> Status {
    if (interrupt_compaction_.load(std::memory_order_relaxed)) return Status::Busy("compaction stopped");
    if (builder == nullptr) {
      {
        Lock lock(mu_);
        number = next_file_number_++;
      }
      builder = std::make_unique<SSTableBuilder>();
      TIDEKV_RETURN_IF_ERROR(builder->Open(env_, JoinPath(dir_, TableFileName(number)), number, topts));
      building = 0;
    }
    TIDEKV_RETURN_IF_ERROR(builder->Add(key, kind, value));
    ++*entries_out;
    building += key.size() + value.size() + 3;
    if (building >= target_table_bytes_) return finish();
    return Status::OK();
  });
  if (s.ok() && builder != nullptr) s = finish();
  return s;  // an unfinished builder deletes its file
}

void LsmEngine::InstallCompactionLocked(const CompactionJob& job, std::vector<TableRef> outputs) {
  std::set<const Table*> removed(job.removed.begin(), job.removed.end());
  auto v = std::make_shared<Version>();
  for (const auto& level : version_->levels) {
    std::vector<Run> kept;
    for (const Run& r : level) {
      Run k;
      for (const TableRef& t : r.tables) {
        if (!removed.count(t.get())) k.tables.push_back(t);
      }
      if (!k.tables.empty()) kept.push_back(std::move(k));
    }
    v->levels.push_back(std::move(kept));
  }
  if (v->levels.size() <= job.output_level) v->levels.resize(job.output_level + 1);
  if (!outputs.empty()) {
    auto& level = v->levels[job.output_level];
    if (leveled_) {
      // The outputs fill the gap the removed tables left in the level's one run.
      Run merged;
      if (!level.empty()) merged = std::move(level[0]);
      merged.tables.insert(merged.tables.end(), outputs.begin(), outputs.end());
      std::sort(merged.tables.begin(), merged.tables.end(),
                [](const TableRef& a, const TableRef& b) { return a->smallest() < b->smallest(); });
      level.assign(1, std::move(merged));
    } else {
      level.insert(level.begin(), Run{std::move(outputs)});
    }
  }
  InstallLocked(std::move(v));
}

void LsmEngine::CompactionLoop() {
  Lock lock(mu_);
  for (;;) {
    CompactionJob job;
    compaction_cv_.wait(lock, [&] { return stop_threads_ || (pause_requests_ == 0 && PickCompactionLocked(&job)); });
    if (stop_threads_) return;
    compaction_busy_ = true;
    lock.unlock();
    std::vector<TableRef> outputs;
    uint64_t in = 0, out = 0, bytes_in = 0;
    for (const Run& r : job.inputs) bytes_in += r.bytes();
    Status s = RunCompaction(job, &outputs, &in, &out);
    lock.lock();
    compaction_busy_ = false;
    uint64_t bytes_out = 0;
    for (const TableRef& t : outputs) bytes_out += t->bytes();
    if (s.ok()) {
      InstallCompactionLocked(job, outputs);
      compaction_error_ = Status::OK();
      ++compactions_;
      compaction_bytes_read_ += bytes_in;
      compaction_bytes_written_ += bytes_out;
    } else if (!(s.code() == StatusCode::kBusy)) {
      compaction_error_ = s;
      ++compaction_failures_;
    }
    outputs.clear();
    job.inputs.clear();
    if (job.manual) {
      manual_done_ = manual_requested_;
      manual_status_ = s;
      manual_result_ = CompactionResult{};
      manual_result_.records_scanned = in;
      manual_result_.records_moved = out;
      manual_result_.bytes_reclaimed = bytes_in > bytes_out ? bytes_in - bytes_out : 0;
    }
    lock.unlock();
    const uint64_t deleted = janitor_->Drain();
    lock.lock();
    files_deleted_ += deleted;
    if (job.manual) manual_result_.files_deleted = deleted;
    progress_cv_.notify_all();
    if (!s.ok() && !(s.code() == StatusCode::kBusy)) {
      // A failed compaction (a full disk) is retried after a pause, not in a tight loop.
      compaction_cv_.wait_for(lock, std::chrono::milliseconds(200));
    }
  }
}

void LsmEngine::PauseBackgroundLocked(Lock& lock) {
  ++pause_requests_;
  interrupt_compaction_ = true;
  progress_cv_.wait(lock, [&] { return !flush_busy_ && !compaction_busy_; });
}

void LsmEngine::ResumeBackgroundLocked() {
  if (--pause_requests_ == 0) interrupt_compaction_ = false;
  flush_cv_.notify_one();
  compaction_cv_.notify_one();
}

Status LsmEngine::Compact(CompactionResult* result) {
  Lock lock(mu_);
  TIDEKV_RETURN_IF_ERROR(CheckOpen());
  if (restoring_) return Status::Busy("a restore is in progress");
  if (mem_->entries() > 0) FreezeMemtableLocked();
  const uint64_t ticket = ++manual_requested_;
  compaction_cv_.notify_one();
  progress_cv_.wait(lock, [&] { return closing_ || manual_done_ >= ticket || (!flush_error_.ok() && !frozen_.empty()); });
  if (manual_done_ < ticket) {
    if (closing_) return Status::Closed("store closed during compaction");
    return Status(flush_error_.code(), "compaction could not flush the memtable: " + std::string(flush_error_.message()));
  }
  if (!manual_status_.ok()) return manual_status_;
  *result = manual_result_;
  return Status::OK();
}

// ---------------------------------------------------------------------------
// Stats, verification, close

void LsmEngine::GetStats(EngineStats* stats) {
  Lock lock(mu_);
  stats->keys = live_keys_;
  if (live_keys_stale_) stats->extra.emplace_back("keysUncertain", 1);
  uint64_t mem_bytes = mem_->ApproximateBytes();
  for (const auto& f : frozen_) {
    if (f->mem != nullptr) mem_bytes += f->mem->ApproximateBytes();
  }
  uint64_t disk = 0;
  std::set<const Table*> counted;
  auto count = [&](const Version& v) {
    for (const TableRef& t : v.AllTables()) {
      if (counted.insert(t.get()).second) disk += t->bytes();
    }
  };
  count(*version_);
  {
    std::lock_guard<std::mutex> ck(ckpt_mu_);
    for (const Retained& r : retained_) count(*r.version);
  }
  stats->memory_bytes = mem_bytes + block_cache_->bytes();
  stats->disk_bytes = disk;
  const Version& v = *version_;
  stats->extra.insert(stats->extra.end(), {
      {"memtableBytes", mem_->ApproximateBytes()},
      {"blockCacheBytes", block_cache_->bytes()},
      {"blockCacheCapacity", block_cache_->capacity()},
      {"blockCacheHits", block_cache_->hits()},
      {"blockCacheMisses", block_cache_->misses()},
      {"immutableMemtables", frozen_.size()},
      {"levels", v.levels.size()},
      {"level0Runs", v.levels.empty() ? 0 : v.levels[0].size()},
      {"runs", v.RunCount()},
      {"tables", v.TableCount()},
      {"liveTableBytes", [&] {
         uint64_t n = 0;
         for (size_t l = 0; l < v.levels.size(); ++l) n += v.LevelBytes(l);
         return n;
       }()},
      {"flushes", flushes_},
      {"bytesFlushed", bytes_flushed_},
      {"compactions", compactions_},
      {"compactionBytesRead", compaction_bytes_read_},
      {"compactionBytesWritten", compaction_bytes_written_},
      {"writeDelayMicros", stall_micros_},
      {"writeStopMicros", stop_micros_},
      {"longestStallMicros", longest_stall_micros_},
      {"stalls", stalls_},
      {"filesDeleted", files_deleted_},
      {"flushFailures", flush_failures_},
      {"compactionFailures", compaction_failures_},
  });
}

Status LsmEngine::Verify() {
  VersionRef v;
  std::vector<std::shared_ptr<MemTable>> mems;
  std::vector<std::unique_ptr<MemTable::Iterator>> mem_iterators;  // made under the lock, read without it
  {
    Lock lock(mu_);
    TIDEKV_RETURN_IF_ERROR(CheckOpen());
    if (restoring_) return Status::Busy("a restore is in progress");
    v = version_;
    mems.push_back(mem_);
    for (const auto& f : frozen_) {
      if (f->mem != nullptr) mems.push_back(f->mem);
    }
    for (const auto& m : mems) mem_iterators.push_back(std::make_unique<MemTable::Iterator>(m.get()));
  }
  TIDEKV_RETURN_IF_ERROR(v->Check(leveled_));
  for (const auto& iterator : mem_iterators) {
    std::string last;
    bool first = true;
    MemTable::Iterator& it = *iterator;
    for (it.SeekToFirst(); it.Valid(); it.Next()) {
      if (!first && !(Slice(last) < it.key())) return Status::Corruption("memtable keys out of order");
      last.assign(it.key().data(), it.key().size());
      first = false;
    }
  }
  for (const TableRef& t : v->AllTables()) {
    SSTableReader::Iterator it(t->reader.get());
    uint64_t n = 0;
    std::string last;
    for (it.SeekToFirst(); it.Valid(); it.Next()) {
      if (n > 0 && !(Slice(last) < it.key())) return Status::Corruption(t->reader->path() + ": keys out of order");
      last.assign(it.key().data(), it.key().size());
      ++n;
    }
    TIDEKV_RETURN_IF_ERROR(it.status());
    if (n != t->reader->properties().entries) {
      return Status::Corruption(t->reader->path() + ": holds " + std::to_string(n) + " entries, its index says " +
                                std::to_string(t->reader->properties().entries));
    }
  }
  return Status::OK();
}

Status LsmEngine::Close() {
  {
    Lock lock(mu_);
    if (closed_) return Status::OK();
    if (janitor_ == nullptr || mem_ == nullptr) {
      // Open failed before there was anything to stop (a locked directory).
      closed_ = closing_ = true;
      dir_lock_.reset();
      return Status::OK();
    }
    closing_ = true;  // new calls fail; stalled writers and Compact wake up
    progress_cv_.notify_all();
  }
  // Checkpoints already cut are written first (the flush thread still runs
  // for them). Counting cuts, not versions: a restore meanwhile lowers the versions.
  {
    std::unique_lock<std::mutex> ck(ckpt_mu_);
    ckpt_cv_.wait(ck, [&] { return outstanding_cuts_ == 0; });
  }
  {
    Lock lock(mu_);
    if (closed_) return Status::OK();
    closed_ = true;
    stop_threads_ = true;
    interrupt_compaction_ = true;
    flush_cv_.notify_all();
    compaction_cv_.notify_all();
    progress_cv_.notify_all();
  }
  if (flush_thread_.joinable()) flush_thread_.join();
  if (compaction_thread_.joinable()) compaction_thread_.join();
  janitor_->Drain();
  janitor_->Shut();  // what is dropped below stays on disk: the checkpoints need it
  Lock lock(mu_);
  {
    std::lock_guard<std::mutex> ck(ckpt_mu_);
    retained_.clear();
  }
  frozen_.clear();
  version_ = std::make_shared<Version>();
  dir_lock_.reset();
  return Status::OK();
}

// ---------------------------------------------------------------------------
// Range cursors

class LsmEngine::Cursor final : public RangeCursor {
 public:
  Cursor(std::vector<std::unique_ptr<RunIterator>> runs, const RangeOptions& options)
      : it_(std::move(runs)), options_(options) {
    if (!options_.reverse) {
      if (options_.has_lower) {
        it_.Seek(options_.lower);
        if (!options_.lower_inclusive && it_.Valid() && it_.key() == Slice(options_.lower)) it_.Next();
      } else {
        it_.SeekToFirst();
      }
    } else if (options_.has_upper) {
      if (options_.upper_inclusive) {
        std::string past = options_.upper;
        past.push_back('\0');  // the smallest key above upper
        it_.SeekBefore(past);
      } else {
        it_.SeekBefore(options_.upper);
      }
    } else {
      it_.SeekToLast();
    }
  }

  Status Next(const std::function<bool(Slice key, Slice value)>& fn, bool* done) override {
    *done = false;
    while (delivered_ < options_.limit) {
      if (!it_.Valid()) break;
      const Slice key = it_.key();
      if (!InRange(key)) break;
      const bool live = it_.kind() == EntryKind::kValue;
      bool more = true;
      if (live) {
        ++delivered_;
        more = fn(key, it_.value());
      }
      Advance();
      if (!more) return it_.status();
    }
    TIDEKV_RETURN_IF_ERROR(it_.status());
    *done = true;
    return Status::OK();
  }

 private:
  bool InRange(Slice key) const {
    if (!options_.reverse) {
      if (!options_.has_upper) return true;
      return options_.upper_inclusive ? !(Slice(options_.upper) < key) : key < Slice(options_.upper);
    }
    if (!options_.has_lower) return true;
    return options_.lower_inclusive ? !(key < Slice(options_.lower)) : Slice(options_.lower) < key;
  }
  void Advance() {
    if (options_.reverse) {
      it_.Prev();
    } else {
      it_.Next();
    }
  }

  MergingIterator it_;
  RangeOptions options_;
  uint64_t delivered_ = 0;
};

Status LsmEngine::NewRangeCursor(const RangeOptions& options, std::unique_ptr<RangeCursor>* cursor) {
  std::vector<std::unique_ptr<RunIterator>> runs;
  {
    Lock lock(mu_);
    TIDEKV_RETURN_IF_ERROR(CheckOpen());
    if (restoring_) return Status::Busy("a restore is in progress");
    // The active memtable is read at its current sequence; everything older is immutable.
    runs.push_back(std::make_unique<MemRunIterator>(mem_, mem_->LastSequence()));
    for (auto it = frozen_.rbegin(); it != frozen_.rend(); ++it) {
      if ((*it)->mem != nullptr) {
        runs.push_back(std::make_unique<MemRunIterator>((*it)->mem, UINT64_MAX));
      } else {
        runs.push_back(NewRunIterator(Run{{(*it)->table}}));
      }
    }
    for (const auto& level : version_->levels) {
      for (const Run& r : level) runs.push_back(NewRunIterator(r));
    }
  }
  *cursor = std::make_unique<Cursor>(std::move(runs), options);
  return Status::OK();
}

}  // namespace lsm
}  // namespace tidekv
