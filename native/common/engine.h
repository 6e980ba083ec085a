// Engine: the one interface every storage engine implements (hybrid log now;
// LSM tree and append log later). The binding and the C++ tests talk to
// engines only through it.
//
// Threading: every method may be called from any thread; engines synchronize
// internally. Point operations are meant for one foreground thread (the JS
// thread) and are fast; Compact() and Close() are long and are called from a
// background thread by the binding. An engine never calls back into its caller
// except through the sinks passed to a call, during that call.
//
// Errors: Status codes as in status.h. A missing key is not an error for
// Get/Has/Delete (NotFound / found=false); kClosed after Close().
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "checkpoint_format.h"
#include "slice.h"
#include "status.h"
#include "merge.h"
#include "write_batch.h"

namespace tidekv {

struct EngineStats {
  uint64_t keys = 0;            // live keys
  uint64_t memory_bytes = 0;    // resident memory the engine allocated for data + index
  uint64_t disk_bytes = 0;      // bytes of live data files
  // Engine-specific counters, named in camelCase (they become JS property names).
  std::vector<std::pair<std::string, uint64_t>> extra;
};

struct CompactionResult {
  uint64_t records_scanned = 0;
  uint64_t records_moved = 0;     // live records copied forward
  uint64_t bytes_reclaimed = 0;   // log bytes no longer needed
  uint64_t files_deleted = 0;
  uint64_t longest_pause_micros = 0;  // longest time foreground calls were held off
};

// Receives GetMany results while the value bytes are valid (during the call).
class GetManySink {
 public:
  virtual ~GetManySink() = default;
  // value == nullptr: key i is absent. Return false to stop (e.g. output full);
  // GetMany then returns OK and the caller resumes from i.
  virtual bool OnResult(size_t i, const Slice* value) = 0;
};

// A checkpoint between its cut and its write: what BeginCheckpoint hands to
// FinishCheckpoint. Engine-specific.
class CheckpointTicket {
 public:
  virtual ~CheckpointTicket() = default;
  uint64_t version = 0;
};

struct CheckpointRequest {
  std::string meta;
  MetaKind meta_kind = MetaKind::kNone;
};

// What an engine can do beyond the common contract (db.capabilities in lib/).
struct EngineCapabilities {
  bool ordered = false;  // NewRangeCursor works: keys are kept in order
};

// A key range for NewRangeCursor. Unset bounds are open ends.
struct RangeOptions {
  bool has_lower = false;
  bool lower_inclusive = true;  // gte (true) or gt (false)
  std::string lower;
  bool has_upper = false;
  bool upper_inclusive = false;  // lte (true) or lt (false)
  std::string upper;
  bool reverse = false;           // from the upper end down
  uint64_t limit = UINT64_MAX;    // entries at most
};

// Walks a range over a consistent view: the state when the cursor was made,
// whatever is written, checkpointed, compacted or restored later. The cursor
// keeps the files and memory of that view alive until it is destroyed, so
// callers should not keep one longer than they read from it. One thread at a time.
class RangeCursor {
 public:
  virtual ~RangeCursor() = default;
  // Calls fn(key, value) for the next entries, in order, until fn returns
  // false (that entry counts as delivered) or the range is exhausted
  // (*done = true). The slices are valid during the call only.
  virtual Status Next(const std::function<bool(Slice key, Slice value)>& fn, bool* done) = 0;
};

class Engine {
 public:
  virtual ~Engine() = default;

  // Copies the value of key into dst when it fits in dst_capacity and sets
  // *value_bytes to its size (also when it does not fit: the caller retries
  // with a larger buffer). NotFound when absent.
  virtual Status Get(Slice key, char* dst, size_t dst_capacity, size_t* value_bytes) = 0;
  // Looks up keys[0..n) under one lock; results go to sink in order.
  virtual Status GetMany(const Slice* keys, size_t n, GetManySink* sink) = 0;
  virtual Status Has(Slice key, bool* found) = 0;
  virtual Status Put(Slice key, Slice value) = 0;
  // *existed: a live value was removed.
  virtual Status Delete(Slice key, bool* existed) = 0;
  // Read-modify-write with a native merge operator (merge.h). For kAddInt64
  // *int_result receives the new counter value.
  virtual Status Merge(Slice key, MergeOp op, Slice operand, int64_t* int_result) = 0;
  // Applies every operation or none: operations that can fail on the stored
  // data (kAddInt64 on a non-counter, overflow) are checked before anything
  // is written. An I/O error part-way (the disk refusing a page flush) can
  // leave a prefix applied; the returned Status says so. When add_results is
  // not null it receives, at each kAddInt64 operation's index, the counter's
  // new value (other entries are left alone).
  virtual Status ApplyBatch(const WriteBatch& batch, int64_t* add_results = nullptr) = 0;

  // ---- Checkpoints (durability: docs/formats/checkpoint.md, README) ----
  //
  // BeginCheckpoint takes the cut on the calling thread: the checkpoint holds
  // exactly the calls that returned before it, nothing after. It is short
  // (O(dirty metadata)). FinishCheckpoint writes the cut, on any thread; it
  // blocks until every earlier checkpoint has been written (they never
  // interleave) and returns once the manifest is durable.
  virtual Status BeginCheckpoint(const CheckpointRequest& request, std::shared_ptr<CheckpointTicket>* ticket) = 0;
  virtual Status FinishCheckpoint(const std::shared_ptr<CheckpointTicket>& ticket, CheckpointInfo* info) = 0;
  // The retained checkpoints, oldest first.
  virtual void ListCheckpoints(std::vector<CheckpointInfo>* checkpoints) = 0;
  // The newest completed checkpoint's version; 0 when there is none.
  virtual uint64_t LastCheckpointVersion() = 0;
  // Makes the live state exactly checkpoint `version` (a retained one);
  // newer checkpoints are discarded. Waits for running background work.
  virtual Status Restore(uint64_t version) = 0;

  // Reclaims space held by dead records. Runs on the calling thread, holding
  // the engine lock only in short slices so foreground calls keep flowing.
  virtual Status Compact(CompactionResult* result) = 0;
  virtual void GetStats(EngineStats* stats) = 0;
  // Walks every structure, checks its invariants and the checksum of every
  // on-disk record it reaches. O(data): for tests and offline checks.
  virtual Status Verify() = 0;
  // The largest value this engine accepts (<= kMaxValueBytes).
  virtual size_t MaxValueBytes() const = 0;
  // Waits for background work, releases memory, files and the directory lock.
  // Idempotent. Every later call returns kClosed.
  virtual Status Close() = 0;

  virtual EngineCapabilities Capabilities() const { return {}; }
  // Ordered engines only; the others return kUnsupported.
  virtual Status NewRangeCursor(const RangeOptions& options, std::unique_ptr<RangeCursor>* cursor) {
    return Status::Unsupported("range scans need an ordered engine ('lsm'); this engine hashes its keys");
  }

  // Convenience for tests and tools.
  Status Get(Slice key, std::string* value);
};

}  // namespace tidekv
