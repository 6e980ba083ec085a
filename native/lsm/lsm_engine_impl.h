// LsmEngine: the LSM tree behind the Engine interface.
//
// State. One active memtable takes writes; full ones are frozen into a queue
// the flush thread turns into level-0 tables; the compaction thread merges
// tables down the levels (version.h). `mu_` guards the memtable pointers,
// the queue and the current Version. Foreground calls hold it for their
// whole (short) work; the background threads hold it only to pick work and
// to install a result, never while reading or writing a file.
//
// Merges are resolved at write time (read-modify-write): increment returns
// the new counter and must report a type mismatch at the call, so it reads
// anyway; tables hold only values and tombstones. Every write also learns
// whether its key was live (the memtable says so in the same search, or a
// bloom-filtered lookup in the older runs does), which keeps an exact count
// of live keys and lets a delete of an absent key write nothing.
//
// Batches (GetMany, and puts and deletes in ApplyBatch) look a few keys
// ahead and prefetch what those lookups will read first: the memtables' hash
// slots and each run's filter block, then (GetMany, using the lines the
// first stage loaded) the trailer of the data block the lookup will search.
// A lookup is a chain of dependent cache misses; overlapping the chains of
// several keys hides part of that wait.
//
// Durability is by checkpoint only (the contract of every engine): there is
// no write-ahead log. A checkpoint freezes the active memtable, waits for
// the flush thread to write every frozen memtable up to the cut, and writes
// a manifest naming the tables of the cut's Version plus those flushes.
// Tables are immutable and shared, so a checkpoint adds only the tables
// flushed since the previous one; compaction never runs for a checkpoint.
// A retained checkpoint holds references to its tables; a table's file is
// deleted once no Version, checkpoint or range cursor refers to it.
//
// Write stalls. When level 0 (leveled) or the fullest level (size-tiered)
// holds slowdown_runs runs, each write is charged a delay that grows with
// the backlog and is paid in sleeps of at most 1 ms; at stop_runs runs, or
// when max_immutable_memtables wait for the flush thread, a memtable switch
// waits for the background threads. Both are counted in stats.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/checkpoint_format.h"
#include "common/engine.h"
#include "lsm/block_cache.h"
#include "lsm/compaction_picker.h"
#include "lsm/lsm_engine.h"
#include "lsm/memtable.h"
#include "lsm/version.h"

namespace tidekv::lsm {

class LsmEngine final : public Engine {
 public:
  LsmEngine() = default;
  ~LsmEngine() override;
  Status Open(const LsmOptions& options, const std::string& dir);

  Status Get(Slice key, char* dst, size_t dst_capacity, size_t* value_bytes) override;
  Status GetMany(const Slice* keys, size_t n, GetManySink* sink) override;
  Status Has(Slice key, bool* found) override;
  Status Put(Slice key, Slice value) override;
  Status Delete(Slice key, bool* existed) override;
  Status Merge(Slice key, MergeOp op, Slice operand, int64_t* int_result) override;
  Status ApplyBatch(const WriteBatch& batch, int64_t* add_results) override;
  Status BeginCheckpoint(const CheckpointRequest& request, std::shared_ptr<CheckpointTicket>* ticket) override;
  Status FinishCheckpoint(const std::shared_ptr<CheckpointTicket>& ticket, CheckpointInfo* info) override;
  void ListCheckpoints(std::vector<CheckpointInfo>* checkpoints) override;
  uint64_t LastCheckpointVersion() override;
  Status Restore(uint64_t version) override;
  Status Compact(CompactionResult* result) override;
  void GetStats(EngineStats* stats) override;
  Status Verify() override;
  size_t MaxValueBytes() const override { return kMaxValueBytes; }
  Status Close() override;
  EngineCapabilities Capabilities() const override { return EngineCapabilities{true}; }
  Status NewRangeCursor(const RangeOptions& options, std::unique_ptr<RangeCursor>* cursor) override;

 private:
  class Ticket;
  class Cursor;
  using Lock = std::unique_lock<std::mutex>;

  // A memtable no longer taking writes, from its freeze until its table is
  // part of the current Version.
  struct Frozen {
    std::shared_ptr<MemTable> mem;  // released once flushed
    TableRef table;                 // set by the flush
    bool flushed = false;
  };

  // What a key holds, as far as the engine can see.
  enum class KeyState : uint8_t { kAbsent, kValue, kTombstone };

  struct Retained {
    CheckpointManifest manifest;
    VersionRef version;  // keeps the checkpoint's tables alive
    uint64_t live_keys = 0;
  };

  // ---- foreground (lsm_engine.cc) ----
  Status CheckOpen() const;
  // hash is HashKey(key), computed once by the caller for every memtable
  // and filter on the way. *value views memory that lives while mu_ is held.
  // Corruption when a table block on the way fails its CRC.
  Status LookupLocked(Slice key, uint64_t hash, KeyState* state, Slice* value);
  // Below the active memtable: the frozen ones, then the tables.
  Status LookupOlderLocked(Slice key, uint64_t hash, KeyState* state, Slice* value);
  Status IsLiveLocked(Slice key, uint64_t hash, bool* live, Slice* value);
  // Batches look this many keys ahead: the first cache misses of a lookup
  // (the memtables' hash slots, each table's filter block) are started for
  // a later key while this one is served, so they overlap.
  static constexpr size_t kPrefetchDistance = 8;
  void PrefetchLocked(Slice key, uint64_t hash) const;
  // Prefetches the trailer of the data block a lookup of key will search
  // (nothing when the memtables hold the key or no filter admits it).
  void PrefetchBlockLocked(Slice key, uint64_t hash) const;
  // Whether a key just written was live before: what the memtable replaced,
  // or (when it held no entry) what the older runs say.
  Status WasLive(std::optional<MemEntryKind> previous_in_memtable, Slice key, bool* live);
  Status AfterWriteLocked(Lock& lock, size_t bytes);
  void FreezeMemtableLocked();
  MemTable* NewMemTable();
  size_t Backlog(const Version& v) const;

  // ---- background (lsm_engine.cc) ----
  void FlushLoop();
  void CompactionLoop();
  bool PickCompactionLocked(CompactionJob* job);
  Status RunCompaction(const CompactionJob& job, std::vector<TableRef>* outputs, uint64_t* entries_in,
                       uint64_t* entries_out);
  void InstallCompactionLocked(const CompactionJob& job, std::vector<TableRef> outputs);
  Status WriteTable(const std::function<Status(SSTableBuilder*)>& fill, TableRef* table);
  Status OpenTable(uint64_t number, TableRef* table);
  void InstallLocked(std::shared_ptr<Version> v);
  // Waits (mu_ held) until neither background thread runs a job, and keeps them idle.
  void PauseBackgroundLocked(Lock& lock);
  void ResumeBackgroundLocked();

  // ---- checkpoints (lsm_checkpoint.cc) ----
  Status Recover();
  Status LoadManifest(const CheckpointManifest& manifest, std::map<uint64_t, TableRef>* opened, Retained* out);

  LsmOptions options_;
  std::string dir_;
  Env* env_ = nullptr;
  std::unique_ptr<FileLock> dir_lock_;
  std::shared_ptr<FileJanitor> janitor_;
  uint64_t memtable_bytes_ = 0;
  uint64_t level1_bytes_ = 0;
  uint64_t target_table_bytes_ = 0;
  bool leveled_ = true;

  mutable std::mutex mu_;
  std::condition_variable flush_cv_;       // wakes the flush thread
  std::condition_variable compaction_cv_;  // wakes the compaction thread
  std::condition_variable progress_cv_;    // a flush or compaction finished, or failed
  std::shared_ptr<MemTable> mem_;
  std::deque<std::shared_ptr<Frozen>> frozen_;  // oldest first
  VersionRef version_;
  uint64_t live_keys_ = 0;
  bool live_keys_stale_ = false;  // a read failed mid-write: stats().keys is a lower bound
  uint64_t next_file_number_ = 1;
  std::string merge_scratch_;
  std::unique_ptr<BlockCache> block_cache_;  // lookups under mu_
  bool closing_ = false;
  bool closed_ = false;
  bool restoring_ = false;
  bool stop_threads_ = false;
  int pause_requests_ = 0;
  std::atomic<bool> interrupt_compaction_{false};  // a restore or close is waiting for it
  bool flush_busy_ = false;
  bool compaction_busy_ = false;
  Status flush_error_;       // the last flush failed (retried on the next wake)
  uint64_t flush_failures_ = 0;
  Status compaction_error_;  // the last compaction failed
  uint64_t compaction_failures_ = 0;
  uint64_t manual_requested_ = 0, manual_done_ = 0;
  CompactionResult manual_result_;
  Status manual_status_;
  std::vector<size_t> compact_cursor_;  // leveled: round-robin position per level (table index)
  double delay_debt_ns_ = 0;
  std::thread flush_thread_, compaction_thread_;

  // Counters (under mu_) for GetStats.
  uint64_t flushes_ = 0, compactions_ = 0, bytes_flushed_ = 0, compaction_bytes_read_ = 0,
           compaction_bytes_written_ = 0, stall_micros_ = 0, stop_micros_ = 0, longest_stall_micros_ = 0,
           stalls_ = 0, files_deleted_ = 0;

  // Checkpoints. ckpt_mu_ nests inside mu_ when both are held.
  std::mutex ckpt_mu_;
  std::condition_variable ckpt_cv_;
  std::vector<Retained> retained_;  // oldest first
  uint64_t next_version_ = 1;       // under mu_
  uint64_t next_to_write_ = 1;      // under ckpt_mu_
  uint64_t outstanding_cuts_ = 0;   // under ckpt_mu_: begun, not yet finished
};

}  // namespace tidekv::lsm
