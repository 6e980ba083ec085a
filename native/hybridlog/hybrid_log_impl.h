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
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>

#include "common/engine.h"
#include "common/env.h"
#include "hybridlog/hash_index.h"
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
  HashIndex index_;
  PagedLog log_;
  uint64_t keys_ = 0;
  uint64_t in_place_updates_ = 0;
  uint64_t appended_records_ = 0;
  uint64_t index_grows_ = 0;
  uint64_t compactions_ = 0;
};

}  // namespace tidekv::hlog
