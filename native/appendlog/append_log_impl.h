// AppendLogEngine: the append log behind the Engine interface.
//
// State. Writes append records to the active segment through a buffer
// (SegmentWriter); the key directory (keydir.h) maps each live key to its
// newest value record. A delete appends a tombstone and removes the key
// from the directory. Every record carries a sequence number (its `link`),
// so "newest" is decided by sequence, not by file order: a merge may copy
// an old record into a segment numbered above the active one.
//
// `mu_` guards the directory, the segments' bookkeeping and the writer.
// Foreground calls hold it for their whole (short) work. Records are read
// through mmap (or from the buffer while not yet written out); a read checks
// the record's CRC unless it is still in the buffer.
//
// Merge (append_log_merge.cc). A background thread rewrites sealed segments
// whose dead share reaches merge_dead_ratio: it walks their records without
// the lock, and in batches of at most kMergeBatchRecords takes the lock to
// ask which are live, copies those to new segments, writes them out, and
// takes the lock again to point the directory at the copies (a record
// overwritten meanwhile stays dead). So the JS thread waits at most one
// batch's lookups or installs, or the creation of an output file (both about
// a millisecond at most, measured). Each output gets a hint file; the inputs leave the live
// state and their files go once no retained checkpoint names them.
// A tombstone is copied unless the merge can prove no older value of its
// key survives: the key is live again (a newer record wins anyway), or every
// segment outside the merge holds only newer records than the tombstone.
//
// Checkpoints (append_log_checkpoint.cc). The cut writes out the buffer and
// records each live segment's length. Writing the checkpoint syncs those
// bytes, writes a hint delta for each segment's records not yet covered by
// a hint file, and a manifest naming the segments (with lengths) and hint
// files. Recovery and restore read the hint files (never a value), keep the
// highest sequence per key, and cut the active segment back to its length.
//
// Durability is by checkpoint only (the contract of every engine): bytes
// appended after the last checkpoint are cut off by recovery.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "appendlog/append_log.h"
#include "appendlog/hint_file.h"
#include "appendlog/keydir.h"
#include "appendlog/segment.h"
#include "common/checkpoint_format.h"
#include "common/engine.h"
#include "common/file_janitor.h"

namespace tidekv::appendlog {

class AppendLogEngine final : public Engine {
 public:
  AppendLogEngine() = default;
  ~AppendLogEngine() override;
  Status Open(const AppendLogOptions& options, const std::string& dir);

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

 private:
  class Ticket;
  using Lock = std::unique_lock<std::mutex>;

  // A segment as a checkpoint holds it: its first `length` bytes, and the
  // hint files covering them.
  struct SegmentCut {
    SegmentRef segment;
    uint64_t length = 0;
    uint64_t min_seq = UINT64_MAX;
    std::vector<HintFileRef> hints;
  };
  struct Retained {
    CheckpointManifest manifest;
    std::vector<SegmentCut> segments;
    uint32_t active = 0;  // the segment appends went to (0: none)
    uint64_t next_seq = 1;
  };
  // What a load from hint files produced, before it replaces the live state.
  struct LoadedState;

  // ---- foreground (append_log.cc) ----
  Status CheckOpen() const;
  // The frame at loc and the bytes readable from it (to the end of the
  // segment's mapping or of the writer's buffer).
  const char* RecordAtLocked(Location loc, size_t* available) const;
  // *slot = the key's directory slot, or nullptr when absent. Corruption when
  // the key is absent and a record met on the way fails its checks.
  Status FindLocked(Slice key, uint64_t hash, KeyDir::Slot** slot);
  // The value of the record at loc; Corruption when its frame or CRC is bad.
  Status ReadValueLocked(Location loc, Slice* value) const;
  Status AppendLocked(RecordType type, Slice key, Slice value, Location* loc);
  // Writes key = value; slot is FindLocked's answer for key.
  Status PutLocked(Slice key, uint64_t hash, KeyDir::Slot* slot, Slice value);
  Status DeleteLocked(Slice key, uint64_t hash, bool* existed);
  // The record at loc no longer counts as live.
  void MarkDeadLocked(Location loc, uint64_t frame_bytes);
  uint64_t FrameBytesAtLocked(Location loc) const;
  Status SealActiveLocked();
  Status NewActiveSegmentLocked(size_t frame_bytes);
  Segment* SegmentLocked(uint32_t number) const {
    return number < seg_table_.size() ? seg_table_[number].get() : nullptr;
  }
  void RegisterLocked(const SegmentRef& segment);

  // ---- merge (append_log_merge.cc) ----
  static constexpr size_t kMergeBatchRecords = 256;
  void MergeLoop();
  bool WantsMergeLocked(const Segment& s) const;
  // The sealed live segments worth merging (manual: any dead bytes).
  std::vector<SegmentRef> PickMergeLocked(bool manual) const;
  Status RunMerge(std::vector<SegmentRef> inputs, CompactionResult* result);
  // Replaces the hint deltas of sealed segments that have many by one file each.
  Status ConsolidateHints();
  bool interrupted_merge() const { return interrupt_merge_.load(std::memory_order_relaxed) > 0; }

  // ---- checkpoints, recovery, restore (append_log_checkpoint.cc) ----
  Status Recover();
  Status LoadManifest(const CheckpointManifest& manifest, std::map<uint32_t, SegmentRef>* segments,
                      std::map<uint64_t, HintFileRef>* hints, Retained* out);
  // Reads the hint files of r into a key directory and segment figures.
  Status LoadState(const Retained& r, LoadedState* state);
  // Makes a loaded state the live one (cuts the active segment back).
  Status InstallStateLocked(const Retained& r, LoadedState* state);

  AppendLogOptions options_;
  std::string dir_;
  Env* env_ = nullptr;
  std::unique_ptr<FileLock> dir_lock_;
  std::shared_ptr<FileJanitor> janitor_;
  size_t write_buffer_bytes_ = 0;

  mutable std::mutex mu_;
  KeyDir keydir_;
  std::vector<SegmentRef> seg_table_;  // by number: every segment the directory may point into
  std::vector<SegmentRef> live_;       // the live state's segments (the active one included)
  SegmentWriter writer_{0};            // appends to the active segment
  uint64_t next_seq_ = 1;
  uint32_t next_segment_ = 1;
  uint64_t next_hint_ = 1;
  std::string merge_scratch_;
  bool closed_ = false;
  bool closing_ = false;
  bool restoring_ = false;
  Status broken_;  // a restore failed half-way: the live state is unusable

  // Merge thread. merge_mu_ serializes merges (background and Compact) and
  // nests outside mu_.
  std::mutex merge_mu_;
  std::condition_variable merge_cv_;
  std::thread merge_thread_;
  bool merge_wanted_ = false;
  bool stop_merge_ = false;
  std::atomic<int> interrupt_merge_{0};  // restores and closes waiting for a merge to stop

  // Counters (under mu_) for GetStats.
  uint64_t merges_ = 0, merge_failures_ = 0, records_moved_ = 0, merge_bytes_written_ = 0, tombstones_dropped_ = 0,
           longest_merge_pause_micros_ = 0, segments_sealed_ = 0, hint_consolidations_ = 0;

  // Checkpoints. ckpt_mu_ nests inside mu_ when both are held.
  std::mutex ckpt_mu_;
  std::condition_variable ckpt_cv_;
  std::vector<Retained> retained_;  // oldest first
  uint64_t next_version_ = 1;       // under mu_
  uint64_t next_to_write_ = 1;      // under ckpt_mu_
  uint64_t outstanding_cuts_ = 0;   // under ckpt_mu_
};

}  // namespace tidekv::appendlog
