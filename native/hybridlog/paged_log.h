// PagedLog: the hybrid log's address space. It owns the in-memory page
// frames, the region markers, the segment files and the flush thread; it knows
// nothing of keys (hybrid_log.cc does).
//
// One logical address space, split by four markers:
//
//      begin          head            read_only               tail
//        |  on disk     |  in memory,    |  in memory,          |
//        |  (segment    |  read-only     |  mutable: updated    |
//        |  files,mmap) |  being flushed |  in place            |
//
// Invariants (checked under TIDEKV_INVARIANTS):
//   1. kFirstAddress <= begin; head <= read_only <= tail; flushed_until <= read_only.
//      begin may pass head (compaction reclaimed pages still in memory).
//   2. read_only and head are page-aligned once they leave kFirstAddress.
//   3. Every page in [page(head), page(tail)] has a frame; frame f holds page p
//      iff p % frame_count == f.
//   4. Bytes below read_only never change: the flush thread reads them without
//      the lock. Only the crc fields are written (sealed) by the flush thread,
//      and no other thread reads or copies a crc field of an in-memory record.
//   5. Bytes in [head, flushed_until) are identical in memory and on disk.
//   6. A record never spans pages; the end of a page holds a kPadding record,
//      or zeros when fewer than kRecordHeaderBytes remain.
//
// Region shifts. When the tail enters a new page, read_only moves to keep
// `mutable_pages` pages mutable; pages it passes are queued for flushing. To
// reuse a frame the tail waits until the frame's old page is flushed, then
// evicts it (head moves up). The writer therefore blocks only when the disk
// falls a whole read-only region behind: back-pressure, not a failure.
//
// Threading: every method but the constructor and destructor REQUIRES the
// engine lock. The flush thread touches only frames queued for flushing, the
// segment File objects of those frames, and the flush queue (its own mutex).
#pragma once

#include <algorithm>
#include <atomic>
#include <functional>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/env.h"
#include "common/slice.h"
#include "common/status.h"
#include "hybridlog/hybrid_log_format.h"

namespace tidekv::hlog {

// Allocates zeroed, page-aligned memory for large structures (log pages,
// the hash index); nullptr when out of memory. huge_pages: for memory about
// to be filled whole at once (recovery). Free with FreeLargeBlock and the
// same size.
void* AllocateLargeBlock(size_t bytes, bool huge_pages = false);
void FreeLargeBlock(void* block, size_t bytes);

class PagedLog {
 public:
  struct Options {
    Env* env = nullptr;
    std::string dir;
    uint32_t page_bytes = 0;        // power of two
    uint64_t segment_bytes = 0;     // multiple of page_bytes
    uint64_t frame_count = 0;       // in-memory pages (>= kMinMemoryPages)
    uint64_t mutable_pages = 0;     // 1 .. frame_count - 2
  };

  PagedLog() = default;
  ~PagedLog();  // stops the flush thread (after draining it) and releases everything
  PagedLog(const PagedLog&) = delete;
  PagedLog& operator=(const PagedLog&) = delete;

  // Starts an empty log. The directory must exist and hold no segment files.
  Status Open(const Options& options);
  // Drains the flush queue and stops the flush thread. Idempotent.
  Status Close();

  uint64_t begin() const { return begin_; }
  uint64_t head() const { return head_; }
  uint64_t read_only() const { return read_only_; }
  uint64_t tail() const { return tail_; }
  uint32_t page_bytes() const { return page_bytes_; }
  // In-place updates are allowed at and above mutable_from(): the read-only
  // boundary, or the tail of the newest checkpoint cut while it is written.
  bool IsMutable(uint64_t address) const { return address >= mutable_from_; }
  uint64_t mutable_from() const { return mutable_from_; }

  // The record at address (>= begin). In memory: a direct pointer. On disk: a
  // pointer into the mapped segment, after VerifyRecord (Corruption on a bad
  // checksum or length). Valid until the next Allocate or SetBegin.
  Status Resolve(uint64_t address, const char** record) {
    if (address >= head_) {
      *record = FrameFor(address) + (address & page_mask_);
      return Status::OK();
    }
    return ResolveOnDisk(address, record);
  }
  // Starts loading the first cache lines of the record at address (a hint:
  // an address that is not a record is harmless).
  void PrefetchRecord(uint64_t address) const {
    const char* p = nullptr;
    if (address >= head_) {
      p = FrameFor(address) + (address & page_mask_);
    } else {
      const uint64_t number = address / options_.segment_bytes;
      if (number >= segments_.size() || segments_[number] == nullptr) return;
      p = segments_[number]->data + address % options_.segment_bytes;
    }
    // Header and key, and the value of a typical (~100-byte) record.
    for (int line = 0; line < 4; ++line) __builtin_prefetch(p + 64 * line);
  }
  // REQUIRES: IsMutable(address).
  char* MutableRecord(uint64_t address) { return FrameFor(address) + (address & page_mask_); }

  // Reserves frame_bytes (a multiple of 8, <= page_bytes) at the tail. May
  // move read_only and head and wait for the flush thread. Pointers from
  // Resolve are invalid afterwards.
  Status Allocate(uint32_t frame_bytes, uint64_t* address, char** dst);

  // ---- Checkpoints (see hybrid_log_impl.h for the protocol) ----

  // Records an in-place change of the record at address. Records below the
  // last cut's tail are remembered (once each) for the next checkpoint; the
  // ones above it are new and go with the next checkpoint's new bytes anyway.
  void NoteInPlaceWrite(uint64_t address) {
    if (address >= epoch_start_) return;
    const uint64_t page = PageOf(address);
    uint64_t* bits = dirty_bits_[FrameIndex(page)].get();
    const uint64_t bit = (address & page_mask_) >> 3;
    const uint64_t mask = uint64_t{1} << (bit & 63);
    if ((bits[bit >> 6] & mask) == 0) {
      bits[bit >> 6] |= mask;
      dirty_list_.push_back(address);
    }
  }
  struct Cut {
    uint64_t begin = 0;
    uint64_t flushed = 0;      // bytes below are in segment files
    uint64_t tail = 0;
    uint64_t epoch_start = 0;  // the previous cut's tail: bytes above it are new
    std::vector<uint64_t> dirty;  // records changed in place in [.., epoch_start)
  };
  // Takes a cut: everything below the tail becomes immutable (updates go to
  // the tail) until Unfreeze, so a writer can copy it without the lock held.
  // If fold_over, the tail page is closed and the whole log queued for
  // flushing instead: the checkpoint then needs no snapshot of memory.
  Status TakeCut(bool fold_over, Cut* cut);
  // Undoes a cut's bookkeeping after its checkpoint failed: its new bytes and
  // dirty records go to the next checkpoint.
  void ReturnCut(Cut&& cut);
  // Forgets the dirty marks of written records. REQUIRES: still frozen.
  void ClearDirtyMarks(const std::vector<uint64_t>& addresses);
  void Unfreeze() {
    frozen_until_ = 0;
    UpdateMutableFrom();
  }
  // Copies log bytes [address, address + n) from memory or segment files.
  // REQUIRES: begin <= address, address + n <= tail, frozen or read-only.
  void CopyRange(uint64_t address, size_t n, char* dst) const;
  // Frame length of the record at address (memory or segment file).
  uint32_t RecordFrameBytesAt(uint64_t address) const;
  // Segment files (and the directory entries of new ones) holding bytes
  // below address, made durable. The Segment objects are collected under the
  // engine lock; Sync runs without it. Files listed into *names.
  struct SyncList {
    std::vector<std::pair<File*, std::atomic<bool>*>> files;
    bool sync_dir = false;
  };
  void CollectSegmentsToSync(uint64_t begin, uint64_t below, SyncList* list, std::vector<std::string>* names);
  Status SyncSegments(const SyncList& list);
  // Segments below floor may be deleted once below begin too (retained
  // checkpoints and checkpoints being written still need the others).
  void SetRetainFloor(uint64_t floor, uint64_t* files_deleted);
  const std::string& dir() const { return options_.dir; }
  uint64_t segment_bytes() const { return options_.segment_bytes; }

  // ---- Recovery ----
  struct Recovered {
    uint64_t begin = 0, flushed = 0, tail = 0;
  };
  // Opens a log recovered from a checkpoint: segment files for [begin,
  // flushed) must exist; memory for [flushed, tail) is filled by
  // WriteRecovered and then FinishRecovery.
  Status OpenRecovered(const Options& options, const Recovered& state);
  // Copies bytes recovered for [address, address + bytes.size()) (clipped to
  // [flushed, tail)).
  void WriteRecovered(uint64_t address, Slice bytes);
  Status FinishRecovery();

  // The flushed address that Allocate(frame_bytes) would wait for, or 0 when
  // it would not wait. Background work uses it to wait outside the engine
  // lock (WaitForFlush) instead of inside it.
  uint64_t FlushNeededToAllocate(uint32_t frame_bytes) const;
  // Waits until the log is flushed up to address. The one method that does
  // NOT require the engine lock (it only touches the flush thread's state).
  // REQUIRES: every page below address is queued for flushing.
  Status WaitForFlush(uint64_t address) { return WaitFlushedUntil(address); }

  // Moves begin forward (compaction) and deletes segment files that hold only
  // addresses below it. REQUIRES: begin <= new_begin <= read_only.
  Status SetBegin(uint64_t new_begin, uint64_t* files_deleted);

  // Offset of the first record in the page that starts at page_address.
  static uint64_t FirstRecordInPage(uint64_t page_address) {
    return page_address == 0 ? kFirstAddress : page_address;
  }

  struct Counters {
    uint64_t pages_flushed = 0;
    uint64_t pages_evicted = 0;
    uint64_t flush_waits = 0;      // times the tail waited for the flush thread
    uint64_t frames_allocated = 0;
    uint64_t segments = 0;
    uint64_t disk_bytes = 0;
    uint64_t flushed_until = 0;
  };
  Counters counters() const;
  uint64_t memory_bytes() const { return frames_allocated_ * page_bytes_; }

  // Checks invariants 1-3 (tests; TIDEKV_INVARIANTS builds call it often).
  Status CheckInvariants() const;

 private:
  struct Segment {
    uint64_t number = 0;
    std::unique_ptr<File> file;
    std::unique_ptr<MappedRegion> map;
    const char* data = nullptr;  // map->data() + kSegmentDataOffset
    std::atomic<bool> unsynced{true};  // written since its last Sync (a new file counts)
  };
  struct FlushJob {
    uint64_t page;
    const char* frame;
    Segment* segment;
  };

  uint64_t PageOf(uint64_t address) const { return address >> page_bits_; }
  char* FrameFor(uint64_t address) const { return frames_[FrameIndex(PageOf(address))]; }
  // page % frame_count_ without a division (Lemire, Kaser and Kurz, "Faster
  // remainder by direct computation", 2019): every record lookup does this,
  // and a 64-bit divide costs more than the rest of the address arithmetic.
  // REQUIRES: page < 2^32 (pages are >= 64 KiB of a 48-bit address space).
  uint64_t FrameIndex(uint64_t page) const {
    const uint64_t low_bits = frame_mod_magic_ * static_cast<uint32_t>(page);
    return static_cast<uint64_t>((static_cast<__uint128_t>(low_bits) * frame_count_) >> 64);
  }
  Status ResolveOnDisk(uint64_t address, const char** record);
  // Acquires the frame for page (evicting its previous page; may wait).
  Status AcquireFrame(uint64_t page, bool bulk = false);  // bulk: about to be filled whole (recovery)
  // Moves read_only to keep mutable_pages pages mutable; queues flushes.
  Status ShiftReadOnly();
  // Ends the tail page with padding (or zeros where no header fits) and moves
  // the tail to the next page.
  void CloseTailPage();
  // The segment numbers [first, end) a checkpoint of [begin, flushed) needs
  // on disk: every segment holding bytes below `flushed`, from begin's on,
  // including the one `flushed` falls in when begin == flushed. Recovery
  // opens exactly these and a checkpoint syncs exactly these.
  std::pair<uint64_t, uint64_t> SegmentsBelow(uint64_t begin, uint64_t flushed) const;
  Status SegmentFor(uint64_t page, Segment** segment);
  Status CreateSegment(uint64_t number, Segment** segment);
  void DeleteObsoleteSegments(uint64_t* files_deleted);
  Status OpenSegment(uint64_t number, Segment** segment);  // an existing file
  void UpdateMutableFrom() { mutable_from_ = std::max(read_only_, frozen_until_); }
  const char* BytesAt(uint64_t address) const;  // memory or mapped segment; no checks
  Status WaitFlushedUntil(uint64_t address);
  void FlushLoop();
  void SealPage(uint64_t page, char* frame) const;

  Options options_;
  uint32_t page_bytes_ = 0;
  int page_bits_ = 0;
  uint64_t page_mask_ = 0;
  uint64_t frame_count_ = 0;
  uint64_t frame_mod_magic_ = 0;  // see FrameIndex
  uint64_t mutable_pages_ = 0;

  // Markers; see the header comment.
  uint64_t begin_ = kFirstAddress;
  uint64_t head_ = kFirstAddress;
  uint64_t read_only_ = kFirstAddress;
  uint64_t tail_ = kFirstAddress;
  uint64_t tail_page_ = 0;        // page whose frame the tail writes into
  bool tail_page_ready_ = false;  // its frame was acquired
  uint64_t frozen_until_ = 0;     // the newest cut's tail while its checkpoint is written
  uint64_t mutable_from_ = kFirstAddress;  // max(read_only_, frozen_until_)
  uint64_t retain_floor_ = UINT64_MAX;     // segments below begin and this may go
  bool new_segment_since_dir_sync_ = false;

  // Dirty tracking (NoteInPlaceWrite): one bit per 8-byte slot of each
  // frame, set at a record's first in-place change since the last cut.
  std::vector<std::unique_ptr<uint64_t[]>> dirty_bits_;
  std::vector<uint64_t> dirty_list_;
  uint64_t epoch_start_ = kFirstAddress;
  // Recovery: pages of the recovered region that did not fit in memory.
  std::vector<std::pair<uint64_t, std::unique_ptr<char[]>>> recovered_overflow_;

  std::vector<char*> frames_;            // aligned_alloc'd, page_bytes each
  std::vector<uint64_t> frame_page_;     // page held by each frame; UINT64_MAX = none
  uint64_t frames_allocated_ = 0;
  std::vector<std::unique_ptr<Segment>> segments_;  // by segment number; null = none
  uint64_t first_live_segment_ = 0;

  uint64_t pages_evicted_ = 0;

  // Flush thread state, guarded by flush_mu_.
  mutable std::mutex flush_mu_;
  std::condition_variable flush_work_cv_;   // jobs queued, retry, stop
  std::condition_variable flush_done_cv_;   // a job finished or failed
  std::deque<FlushJob> flush_queue_;
  Status flush_error_;          // the front job failed; cleared on retry
  bool flush_retry_ = false;
  bool flush_stop_ = false;
  uint64_t pages_flushed_ = 0;
  uint64_t flush_waits_ = 0;  // times a caller waited for the flush thread
  std::atomic<uint64_t> flushed_until_{kFirstAddress};
  std::thread flush_thread_;
  bool open_ = false;
};

}  // namespace tidekv::hlog
