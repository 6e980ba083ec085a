// HybridLogEngine: the Engine over a HashIndex and a PagedLog.
//
// How an update finds its place (FASTER's three cases):
//   - the key's newest record is in the mutable region and the new value fits
//     its frame: overwrite in place (no allocation, no index change);
//   - it is read-only (in memory or on disk) or does not fit: append a new
//     version at the tail (read-copy-update) and point the index entry at it;
//   - there is none: append, creating or extending the chain.
// Merges (increment, append) follow the same cases, so a hot counter in the
// mutable region is updated in place by a single add.
//
// Chains. A new record links to the chain's previous head, except when that
// head is the key's own superseded version: then it links past it, so a hot
// key updated by RCU does not lengthen its chain. Links always point to lower
// addresses (checked on every step: a corrupt link cannot loop).
//
// Locking. One mutex guards the index, the log markers and the counters. The
// JS thread takes it per call (or per batch). Compaction takes it in slices of
// at most compaction_slice_micros and yields to a waiting foreground call
// between slices (fg_waiting_), so a compaction never stalls the JS thread
// for more than about one slice. The flush thread runs without it
// (paged_log.h, invariant 4).
//
// Compaction copies the live records of [begin, until) to the tail (until =
// read_only when it starts), then moves begin to until and deletes segment
// files below it. A record is live when a lookup of its key lands on exactly
// its address; tombstones and superseded versions are dropped: everything
// they shadow lies below them and is reclaimed with them.
//
// Checkpoints (incremental snapshot, after FASTER's v2 checkpoints).
//
// State at a cut = segment files for [begin, F) + the in-memory bytes of
// [F, T) + the hash index, where T is the tail and F the flushed point.
//
//   Cut (BeginCheckpoint, the calling thread, under the lock): record F and
//   T; freeze [.., T): from now until the checkpoint is written every update
//   of a record below T goes to the tail (copy-on-write), so the bytes being
//   written never change; take the list of records changed in place since
//   the previous cut (PagedLog::NoteInPlaceWrite keeps it, one bit per slot);
//   copy the index buckets written since the previous cut (all of them when
//   the index grew, or when the index deltas since the last full copy
//   outweigh twice the index). O(1) plus the dirty index buckets.
//
//   Write (FinishCheckpoint, a worker thread, one checkpoint at a time): a
//   snapshot file "snap-<v>.dat" with the new bytes [max(F, T_prev), T) and
//   the dirty records in [F, T_prev), copied under the lock in short slices;
//   an index file with the copied buckets; fsync of the segments below F;
//   then the manifest, atomically. Then [.., T) thaws: in-place updates
//   resume (and mark records dirty for the next checkpoint).
//
//   Recovery: the manifest, the index chain (the last full copy, then the
//   deltas, oldest first), the segments below F (mapped), and [F, T) rebuilt
//   by applying the snapshot chain oldest first. The chain holds only snapshots with bytes at or above
//   F; when its files outgrow twice the region, the next checkpoint writes
//   the whole region instead (a base), so recovery reads at most about three
//   times the in-memory region however many checkpoints were taken.
//
// Rejected: fold-over as the default. Flushing the log to the tail at every
// checkpoint (FASTER v1; offered as fold_over) makes every record read-only,
// so the next update of each hot record copies it to the tail: the log grows
// by the hot set every checkpoint and in-place updates stop paying. Measured
// (bench/RESULTS.md, section 4): 5.3x the bytes of incremental at 1% zipfian
// changes, and a log that grew 220 MiB against 137 MiB over 20 checkpoints.
//
// A failed write (ENOSPC, EIO) leaves the previous checkpoint intact: the
// failed one's files are never named by a manifest, its index images are
// written first in the next index file, and the next checkpoint writes the
// whole region (force_full_).
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "common/engine.h"
#include "common/checkpoint_format.h"
#include "common/env.h"
#include "hybridlog/hash_index.h"
#include "hybridlog/hybrid_log_format.h"
#include "hybridlog/hybrid_log.h"
#include "hybridlog/paged_log.h"

namespace tidekv::hlog {

class HybridLogEngine final : public Engine {
 public:
  HybridLogEngine() = default;
  ~HybridLogEngine() override;

  Status Open(const HybridLogOptions& options, const std::string& dir);

  using Engine::Get;
  Status Get(Slice key, char* dst, size_t dst_capacity, size_t* value_bytes) override;
  Status GetMany(const Slice* keys, size_t n, GetManySink* sink) override;
  Status Has(Slice key, bool* found) override;
  Status Put(Slice key, Slice value) override;
  Status Delete(Slice key, bool* existed) override;
  Status Merge(Slice key, MergeOp op, Slice operand, int64_t* int_result) override;
  Status ApplyBatch(const WriteBatch& batch, int64_t* add_results = nullptr) override;
  Status BeginCheckpoint(const CheckpointRequest& request, std::shared_ptr<CheckpointTicket>* ticket) override;
  Status FinishCheckpoint(const std::shared_ptr<CheckpointTicket>& ticket, CheckpointInfo* info) override;
  void ListCheckpoints(std::vector<CheckpointInfo>* checkpoints) override;
  uint64_t LastCheckpointVersion() override;
  Status Restore(uint64_t version) override;
  Status Compact(CompactionResult* result) override;
  void GetStats(EngineStats* stats) override;
  size_t MaxValueBytes() const override { return max_value_bytes_; }
  Status Close() override;

  // Walks every chain and checks the index and log invariants and the key
  // count; verifies the checksum of every on-disk record reached. O(data).
  Status Verify() override;

 private:
  using Lock = std::unique_lock<std::mutex>;
  Lock LockForeground();
  Lock LockBackground();

  Status CheckKey(Slice key) const;
  Status CheckValue(Slice key, size_t value_bytes) const;
  // Finds key's newest record in the chain starting at address.
  Status FindInChain(uint64_t address, Slice key, uint64_t* found_address, const char** found_record);
  // Looks key up; *found_address = kInvalidAddress when it has no record.
  Status Lookup(Slice key, uint64_t hash, uint64_t* found_address, const char** found_record);

  Status GetLocked(Slice key, const char** record);  // *record = nullptr when absent
  Status PutLocked(Slice key, Slice value);
  Status DeleteLocked(Slice key, bool* existed);
  Status MergeLocked(Slice key, MergeOp op, Slice operand, int64_t* int_result);
  // Checks sizes and operation types; *needs_undo when the batch holds merges.
  Status ValidateBatch(const WriteBatch& batch, bool* needs_undo);

  // Appends a record for key after the chain whose head is *slot: links past
  // `superseded` when it is the head. Fills the value with `fill`.
  template <typename Fill>
  Status AppendRecord(uint64_t* slot, Slice key, RecordType type, size_t value_bytes, size_t value_capacity,
                      uint64_t superseded, uint64_t superseded_link, Fill&& fill);
  Status GrowIndexIfNeeded();
  // Batched calls pipeline their lookups: while operation i runs, the record
  // of operation i + kRecordAhead and the bucket of operation i + kBucketAhead
  // are being loaded. A lone lookup pays its two or three cache misses one
  // after another; the pipeline keeps about kBucketAhead of them in flight
  // (a core tracks 10-20 outstanding misses, so going further buys nothing).
  static constexpr size_t kBucketAhead = 16;
  static constexpr size_t kRecordAhead = 8;
  class Prefetcher;

  // ---- checkpoint.cc ----
  class Ticket;
  struct Retained {
    CheckpointManifest manifest;
    CheckpointState state;
  };
  // Writes the cut of t; fills the new manifest and state.
  Status WriteCheckpoint(Ticket* t, CheckpointManifest* manifest, CheckpointState* state);
  // `previous` is the newest retained checkpoint's state, or nullptr.
  Status WriteSnapshot(Ticket* t, const CheckpointState* previous, CheckpointState* state, uint64_t* bytes);
  Status WriteIndexDelta(Ticket* t, const CheckpointState* previous, CheckpointState* state, uint64_t* bytes);
  // Open: recover the newest checkpoint (or start empty when there is none).
  Status Recover();
  // Builds index_ and log_ from a checkpoint.
  Status LoadCheckpoint(const CheckpointManifest& manifest, const CheckpointState& state);
  // What a checkpoint, restore or open leaves behind: retained_ trimmed to
  // retain_checkpoints under the lock, the files removed after it.
  struct GarbagePlan {
    std::vector<std::string> manifests;        // of dropped checkpoints, deleted first
    std::set<std::string> needed;              // every file a retained checkpoint names
    std::set<uint64_t> retained_versions;
    uint64_t protect_from = UINT64_MAX;        // versions from here on belong to writers
  };
  // Trims retained_, fills the plan, tightens the segment retain floor.
  // REQUIRES the engine lock and ckpt_mu_.
  void PlanGarbageLocked(uint64_t protect_from, GarbagePlan* plan);
  // Deletes the plan's dropped manifests and every checkpoint file no retained
  // checkpoint names. REQUIRES the caller's turn to write (no other GC runs).
  void RemoveGarbage(const GarbagePlan& plan);
  PagedLog::Options LogOptions(uint64_t page_bytes, uint64_t segment_bytes) const;

  HybridLogOptions options_;
  std::string dir_;
  size_t max_value_bytes_ = 0;
  std::unique_ptr<FileLock> dir_lock_;

  std::mutex mu_;
  std::atomic<int> fg_waiting_{0};
  std::mutex compaction_mu_;  // one compaction at a time; Close waits on it

  // Guarded by mu_.
  bool closing_ = false;
  bool closed_ = false;
  std::unique_ptr<HashIndex> index_ = std::make_unique<HashIndex>();
  std::unique_ptr<PagedLog> log_ = std::make_unique<PagedLog>();
  uint64_t keys_ = 0;
  uint64_t in_place_updates_ = 0;
  uint64_t appended_records_ = 0;
  uint64_t index_grows_ = 0;
  uint64_t compactions_ = 0;
  uint64_t next_version_ = 1;    // the version the next cut gets
  uint64_t index_chain_bytes_ = 0;  // index image bytes since the last base cut
  // The image buffer of a written checkpoint, kept for the next cut (up to the
  // index's size: memory outside the budget, like the index).
  std::unique_ptr<HashIndex::ChunkImages> spare_images_;
  int outstanding_cuts_ = 0;     // cut but not yet written (the freeze lasts while > 0)
  std::multiset<uint64_t> inflight_begins_;  // begin of each outstanding cut (segments it needs)
  bool restoring_ = false;
  std::atomic<uint64_t> checkpoint_file_bytes_{0};  // retained manifests, snapshots and index files
  std::atomic<bool> stop_compaction_{false};

  // Guarded by ckpt_mu_ (lock order: mu_ before ckpt_mu_).
  std::mutex ckpt_mu_;
  std::condition_variable ckpt_cv_;
  uint64_t next_to_write_ = 1;        // checkpoints are written in version order
  std::vector<Retained> retained_;    // oldest first
  uint64_t retained_floor_ = UINT64_MAX;  // smallest begin of a retained checkpoint
  // Owned by the thread whose turn it is to write (next_to_write_).
  std::vector<std::pair<uint64_t, std::string>> carry_index_;  // index images of failed checkpoints, oldest first
  bool carry_index_base_ = false;  // carry_index_ starts with a whole index (a failed base)
  bool force_full_ = false;                      // a checkpoint failed: the next writes everything
};

}  // namespace tidekv::hlog
