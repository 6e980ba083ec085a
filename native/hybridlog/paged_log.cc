#include "hybridlog/paged_log.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

#include "common/record_format.h"

namespace tidekv::hlog {

namespace {
constexpr uint64_t kNoPage = UINT64_MAX;
}  // namespace

void* AllocateLargeBlock(size_t bytes, bool huge_pages) {
  // Anonymous mappings: page-aligned and zero without touching them, so a
  // new page or index costs nothing until it is written.
  constexpr size_t kHuge = size_t{2} << 20;
  if (!huge_pages || bytes < kHuge) {
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? nullptr : p;
  }
  // 2 MiB pages where the kernel offers them (madvise; 2 MiB-aligned, hence
  // the trimmed over-allocation), for memory filled in bulk at once: filling
  // a recovered region then takes one fault per 2 MiB instead of one per
  // 4 KiB (open of 1M records: ~75 ms -> ~30 ms). Not for memory filled as
  // the store runs: there the first touch of a huge page may compact memory
  // synchronously, and loads were measured slower and less even.
  const size_t rounded = (bytes + 4095) & ~size_t{4095};
  void* raw = mmap(nullptr, rounded + kHuge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return nullptr;
  const auto start = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t aligned = (start + kHuge - 1) & ~uintptr_t{kHuge - 1};
  if (aligned > start) (void)munmap(raw, aligned - start);
  const uintptr_t end = aligned + rounded;
  if (start + rounded + kHuge > end) (void)munmap(reinterpret_cast<void*>(end), start + rounded + kHuge - end);
#ifdef MADV_HUGEPAGE
  (void)madvise(reinterpret_cast<void*>(aligned), rounded, MADV_HUGEPAGE);
#endif
  return reinterpret_cast<void*>(aligned);
}

void FreeLargeBlock(void* block, size_t bytes) {
  if (block != nullptr) (void)munmap(block, (bytes + 4095) & ~size_t{4095});
}

PagedLog::~PagedLog() {
  (void)Close();
  for (char* frame : frames_) FreeLargeBlock(frame, page_bytes_);
}

Status PagedLog::Open(const Options& options) {
  options_ = options;
  page_bytes_ = options.page_bytes;
  page_bits_ = __builtin_ctz(options.page_bytes);
  page_mask_ = page_bytes_ - 1;
  frame_count_ = options.frame_count;
  mutable_pages_ = options.mutable_pages;
  if ((uint64_t{1} << page_bits_) != page_bytes_ || frame_count_ < kMinMemoryPages || mutable_pages_ < 1 ||
      mutable_pages_ + 2 > frame_count_ || options.segment_bytes % page_bytes_ != 0) {
    return Status::InvalidArgument("paged log: inconsistent page/frame/segment sizes");
  }
  static_assert(kMaxAddress / kMinPageBytes < (uint64_t{1} << 32), "FrameIndex takes 32-bit page numbers");
  if (frame_count_ > UINT32_MAX) return Status::InvalidArgument("paged log: too many frames");
  frame_mod_magic_ = UINT64_MAX / frame_count_ + 1;
  frames_.assign(frame_count_, nullptr);
  frame_page_.assign(frame_count_, kNoPage);
  dirty_bits_.resize(frame_count_);
  flush_thread_ = std::thread([this] { FlushLoop(); });
  open_ = true;
  return Status::OK();
}

Status PagedLog::Close() {
  if (!open_) return Status::OK();
  open_ = false;
  {
    std::lock_guard<std::mutex> l(flush_mu_);
    flush_stop_ = true;
  }
  flush_work_cv_.notify_all();
  if (flush_thread_.joinable()) flush_thread_.join();
  std::lock_guard<std::mutex> l(flush_mu_);
  return flush_queue_.empty() ? Status::OK() : flush_error_;
}

Status PagedLog::ResolveOnDisk(uint64_t address, const char** record) {
  const uint64_t number = address / options_.segment_bytes;
  if (address < begin_ || number >= segments_.size() || segments_[number] == nullptr) {
    return Status::Corruption("log address " + std::to_string(address) + " is in no segment file");
  }
  const Segment& segment = *segments_[number];
  const char* p = segment.data + address % options_.segment_bytes;
  const uint64_t page_end = (PageOf(address) + 1) << page_bits_;
  if (const char* problem = FindRecordProblem(p, page_end - address)) {
    return Status::Corruption(segment.file->path() + " (log address " + std::to_string(address) + "): " + problem);
  }
  *record = p;
  return Status::OK();
}

Status PagedLog::Allocate(uint32_t frame_bytes, uint64_t* address, char** dst) {
  if (frame_bytes > page_bytes_ - kFirstAddress) {
    // Callers keep records within MaxValueBytes, which leaves room for this.
    return Status::InvalidArgument("record of " + std::to_string(frame_bytes) + " bytes does not fit a page");
  }
  for (;;) {
    if (!tail_page_ready_ || PageOf(tail_) != tail_page_) {
      if (tail_ + page_bytes_ > kMaxAddress) {
        return Status::Limit("the log reached its 2^48-byte address space; compact it");
      }
      tail_page_ = PageOf(tail_);
      tail_page_ready_ = false;
      TIDEKV_RETURN_IF_ERROR(ShiftReadOnly());
      TIDEKV_RETURN_IF_ERROR(AcquireFrame(tail_page_));
      tail_page_ready_ = true;
    }
    const uint64_t offset = tail_ & page_mask_;
    if (offset + frame_bytes <= page_bytes_) break;
    CloseTailPage();  // the record does not fit: pad the page and move on
  }
  *address = tail_;
  *dst = frames_[FrameIndex(tail_page_)] + (tail_ & page_mask_);
  tail_ += frame_bytes;
  return Status::OK();
}

void PagedLog::CloseTailPage() {
  char* frame = frames_[FrameIndex(tail_page_)];
  const uint64_t offset = tail_ & page_mask_;
  const uint64_t remaining = page_bytes_ - offset;
  if (remaining >= kRecordHeaderBytes) {
    EncodeRecordHeader(frame + offset, RecordType::kPadding, 0, 0, 0, remaining, 0);
  } else {
    std::memset(frame + offset, 0, remaining);
  }
  tail_ = (tail_page_ + 1) << page_bits_;
}

uint64_t PagedLog::FlushNeededToAllocate(uint32_t frame_bytes) const {
  const bool on_tail_page = tail_page_ready_ && PageOf(tail_) == tail_page_;
  if (on_tail_page && (tail_ & page_mask_) + frame_bytes <= page_bytes_) return 0;  // fits: no new page
  const uint64_t next_page = on_tail_page ? tail_page_ + 1 : PageOf(tail_);
  const uint64_t evicted = frame_page_[FrameIndex(next_page)];
  if (evicted == kNoPage) return 0;
  // The evicted page is far below read_only (frame_count > mutable_pages + 1),
  // so it was queued for flushing when read_only passed it.
  const uint64_t needed = (evicted + 1) << page_bits_;
  return flushed_until_.load(std::memory_order_acquire) >= needed ? 0 : needed;
}

Status PagedLog::ShiftReadOnly() {
  if (tail_page_ < mutable_pages_) return Status::OK();
  const uint64_t first_mutable_page = tail_page_ - mutable_pages_;
  bool queued = false;
  for (uint64_t page = PageOf(read_only_); page < first_mutable_page; ++page) {
    Segment* segment = nullptr;
    Status s = SegmentFor(page, &segment);
    if (!s.ok()) {
      if (queued) flush_work_cv_.notify_one();
      return s;
    }
    {
      std::lock_guard<std::mutex> l(flush_mu_);
      flush_queue_.push_back(FlushJob{page, frames_[FrameIndex(page)], segment});
    }
    queued = true;
    read_only_ = (page + 1) << page_bits_;
    UpdateMutableFrom();
  }
  if (queued) flush_work_cv_.notify_one();
  return Status::OK();
}

Status PagedLog::AcquireFrame(uint64_t page, bool bulk) {
  const uint64_t f = FrameIndex(page);
  if (frame_page_[f] != kNoPage) {
    const uint64_t evicted_end = (frame_page_[f] + 1) << page_bits_;
    TIDEKV_RETURN_IF_ERROR(WaitFlushedUntil(evicted_end));
    head_ = std::max(head_, evicted_end);
    frame_page_[f] = kNoPage;
    ++pages_evicted_;
  }
  if (frames_[f] == nullptr) {
    frames_[f] = static_cast<char*>(AllocateLargeBlock(page_bytes_, bulk));  // zero
    if (frames_[f] == nullptr) return Status::Limit("out of memory allocating a log page");
    ++frames_allocated_;
  }
  if (page == 0) std::memset(frames_[f], 0, kFirstAddress);
  // One dirty bit per 8-byte slot; a reused frame starts clean.
  const size_t bitmap_words = page_bytes_ / 8 / 64;
  if (dirty_bits_[f] == nullptr) {
    dirty_bits_[f].reset(new (std::nothrow) uint64_t[bitmap_words]());
    if (dirty_bits_[f] == nullptr) return Status::Limit("out of memory allocating a page's dirty bitmap");
  } else {
    std::memset(dirty_bits_[f].get(), 0, bitmap_words * sizeof(uint64_t));
  }
  frame_page_[f] = page;
  return Status::OK();
}

Status PagedLog::WaitFlushedUntil(uint64_t address) {
  if (flushed_until_.load(std::memory_order_acquire) >= address) return Status::OK();
  std::unique_lock<std::mutex> l(flush_mu_);
  ++flush_waits_;  // under flush_mu_: compaction waits here without the engine lock
  bool retried = false;
  while (flushed_until_.load(std::memory_order_acquire) < address) {
    if (!flush_error_.ok() && !flush_retry_) {
      if (retried) return flush_error_;
      retried = true;  // one retry per wait: the disk may have room again
      flush_retry_ = true;
      flush_work_cv_.notify_one();
    }
    flush_done_cv_.wait(l);
  }
  return Status::OK();
}

Status PagedLog::SegmentFor(uint64_t page, Segment** segment) {
  const uint64_t number = (page << page_bits_) / options_.segment_bytes;
  if (number < segments_.size() && segments_[number] != nullptr) {
    *segment = segments_[number].get();
    return Status::OK();
  }
  return CreateSegment(number, segment);
}

Status PagedLog::CreateSegment(uint64_t number, Segment** out) {
  auto segment = std::make_unique<Segment>();
  segment->number = number;
  const std::string path = JoinPath(options_.dir, SegmentFileName(number));
  TIDEKV_RETURN_IF_ERROR(options_.env->OpenFile(path, OpenMode::kCreateTruncate, &segment->file));
  FileHeader header;
  header.type = FileType::kLogSegment;
  header.args[0] = number;
  header.args[1] = number * options_.segment_bytes;
  header.args[2] = options_.segment_bytes;
  header.args[3] = page_bytes_;
  char encoded[kFileHeaderBytes];
  EncodeFileHeader(header, encoded);
  const uint64_t file_bytes = kSegmentDataOffset + options_.segment_bytes;
  Status s = segment->file->WriteAt(0, Slice(encoded, sizeof encoded));
  if (s.ok()) s = segment->file->Truncate(file_bytes);
  if (s.ok()) s = segment->file->Map(0, file_bytes, &segment->map);
  if (!s.ok()) {
    segment.reset();
    (void)options_.env->DeleteFile(path);
    return s;
  }
  segment->data = segment->map->data() + kSegmentDataOffset;
  if (segments_.size() <= number) segments_.resize(number + 1);
  *out = segment.get();
  segments_[number] = std::move(segment);
  new_segment_since_dir_sync_ = true;
  return Status::OK();
}

Status PagedLog::OpenSegment(uint64_t number, Segment** out) {
  auto segment = std::make_unique<Segment>();
  segment->number = number;
  const std::string path = JoinPath(options_.dir, SegmentFileName(number));
  Status s = options_.env->OpenFile(path, OpenMode::kReadWrite, &segment->file);
  if (s.IsNotFound()) return Status::Corruption(path + ": segment file a checkpoint needs is missing");
  TIDEKV_RETURN_IF_ERROR(s);
  char encoded[kFileHeaderBytes];
  size_t got = 0;
  TIDEKV_RETURN_IF_ERROR(segment->file->ReadAt(0, sizeof encoded, encoded, &got));
  FileHeader header;
  TIDEKV_RETURN_IF_ERROR(DecodeFileHeader(Slice(encoded, got), FileType::kLogSegment, path, &header));
  if (header.args[0] != number || header.args[2] != options_.segment_bytes || header.args[3] != page_bytes_) {
    return Status::Corruption(path + ": segment header does not match the checkpoint");
  }
  const uint64_t file_bytes = kSegmentDataOffset + options_.segment_bytes;
  uint64_t size = 0;
  TIDEKV_RETURN_IF_ERROR(segment->file->Size(&size));
  if (size < file_bytes) return Status::Corruption(path + ": segment file truncated");
  TIDEKV_RETURN_IF_ERROR(segment->file->Map(0, file_bytes, &segment->map));
  segment->data = segment->map->data() + kSegmentDataOffset;
  segment->unsynced = false;
  if (segments_.size() <= number) segments_.resize(number + 1);
  *out = segment.get();
  segments_[number] = std::move(segment);
  return Status::OK();
}

Status PagedLog::SetBegin(uint64_t new_begin, uint64_t* files_deleted) {
  if (new_begin < begin_ || new_begin > read_only_) {
    return Status::InvalidArgument("paged log: begin must move forward and stay below read_only");
  }
  begin_ = new_begin;
  DeleteObsoleteSegments(files_deleted);
  return Status::OK();
}

void PagedLog::DeleteObsoleteSegments(uint64_t* files_deleted) {
  // A segment goes once no address in it can be read (below begin), no
  // retained checkpoint needs it (below the retain floor) and the flush
  // thread is done with it (below flushed_until).
  const uint64_t limit = std::min({begin_, retain_floor_, flushed_until_.load(std::memory_order_acquire)});
  while (first_live_segment_ < segments_.size() && (first_live_segment_ + 1) * options_.segment_bytes <= limit) {
    std::unique_ptr<Segment>& segment = segments_[first_live_segment_];
    if (segment != nullptr) {
      const std::string path = segment->file->path();
      segment.reset();  // unmap and close before deleting
      if (options_.env->DeleteFile(path).ok() && files_deleted != nullptr) ++*files_deleted;
    }
    ++first_live_segment_;
  }
}

void PagedLog::SealPage(uint64_t page, char* frame) const {
  const uint64_t page_address = page << page_bits_;
  uint64_t offset = FirstRecordInPage(page_address) - page_address;
  while (offset + kRecordHeaderBytes <= page_bytes_) {
    char* record = frame + offset;
    const uint32_t frame_bytes = RecordView(record).frame_bytes();
    if (frame_bytes < kRecordHeaderBytes || frame_bytes % kRecordAlignBytes != 0 ||
        frame_bytes > page_bytes_ - offset) {
      break;  // zeroed end of page (or a bug that reads of this page will report)
    }
    SealRecord(record);
    if (RecordView(record).type() == RecordType::kPadding) break;
    offset += frame_bytes;
  }
}

void PagedLog::FlushLoop() {
  std::unique_lock<std::mutex> l(flush_mu_);
  bool retried_at_stop = false;
  for (;;) {
    flush_work_cv_.wait(l, [this] {
      return flush_stop_ || (!flush_queue_.empty() && (flush_error_.ok() || flush_retry_));
    });
    if (flush_stop_ && !flush_error_.ok() && !flush_retry_ && !retried_at_stop) {
      // Closing with a failed page: the disk may have room again; try once more.
      retried_at_stop = true;
      flush_retry_ = true;
    }
    if (flush_queue_.empty() || (!flush_error_.ok() && !flush_retry_)) break;  // stopping
    flush_retry_ = false;
    flush_error_ = Status::OK();
    const FlushJob job = flush_queue_.front();
    l.unlock();
    // Invariant 4: the page is below read_only, so only this thread writes it
    // (its crc fields) and no one else reads those fields.
    char* frame = const_cast<char*>(job.frame);
    SealPage(job.page, frame);
    const uint64_t offset = kSegmentDataOffset + (job.page << page_bits_) % options_.segment_bytes;
    Status s = job.segment->file->WriteAt(offset, Slice(frame, page_bytes_));
    l.lock();
    if (s.ok()) {
      job.segment->unsynced.store(true, std::memory_order_release);
      flush_queue_.pop_front();
      ++pages_flushed_;
      flushed_until_.store((job.page + 1) << page_bits_, std::memory_order_release);
    } else {
      flush_error_ = std::move(s);
    }
    flush_done_cv_.notify_all();
  }
}

// ---------------------------------------------------------------------------
// Checkpoints

Status PagedLog::TakeCut(bool fold_over, Cut* cut) {
  cut->begin = begin_;
  cut->epoch_start = epoch_start_;
  cut->dirty = std::move(dirty_list_);
  dirty_list_.clear();
  if (fold_over) {
    // Close the tail page, then queue every page below the tail: the
    // checkpoint is the flushed log; memory holds nothing it needs.
    if (tail_page_ready_ && PageOf(tail_) == tail_page_ && (tail_ & page_mask_) != 0) CloseTailPage();
    bool queued = false;
    for (uint64_t page = PageOf(read_only_); page < PageOf(tail_); ++page) {
      Segment* segment = nullptr;
      Status s = SegmentFor(page, &segment);
      if (!s.ok()) {
        if (queued) flush_work_cv_.notify_one();
        ReturnCut(std::move(*cut));
        return s;
      }
      {
        std::lock_guard<std::mutex> l(flush_mu_);
        flush_queue_.push_back(FlushJob{page, frames_[FrameIndex(page)], segment});
      }
      queued = true;
      read_only_ = (page + 1) << page_bits_;
    }
    if (queued) flush_work_cv_.notify_one();
    UpdateMutableFrom();
    cut->flushed = cut->tail = tail_;
  } else {
    cut->flushed = flushed_until_.load(std::memory_order_acquire);
    cut->tail = tail_;
    // Compaction may have moved begin past pages still waiting for the flush
    // thread. The recovered log needs begin <= flushed (everything below
    // `flushed` is in segments, everything above in memory), so the cut keeps
    // the dead records in between: they are in the snapshot and recovery
    // treats them like any other compacted-away record.
    cut->begin = std::min(cut->begin, cut->flushed);
    frozen_until_ = tail_;
    UpdateMutableFrom();
  }
  epoch_start_ = tail_;
  return Status::OK();
}

void PagedLog::ReturnCut(Cut&& cut) {
  epoch_start_ = std::min(epoch_start_, cut.epoch_start);
  dirty_list_.insert(dirty_list_.end(), cut.dirty.begin(), cut.dirty.end());
}

void PagedLog::ClearDirtyMarks(const std::vector<uint64_t>& addresses) {
  for (uint64_t address : addresses) {
    if (address < head_) continue;  // its frame was reused and cleared
    const uint64_t page = PageOf(address);
    const uint64_t f = FrameIndex(page);
    if (frame_page_[f] != page) continue;
    const uint64_t bit = (address & page_mask_) >> 3;
    dirty_bits_[f][bit >> 6] &= ~(uint64_t{1} << (bit & 63));
  }
}

const char* PagedLog::BytesAt(uint64_t address) const {
  if (address >= head_) return FrameFor(address) + (address & page_mask_);
  return segments_[address / options_.segment_bytes]->data + address % options_.segment_bytes;
}

void PagedLog::CopyRange(uint64_t address, size_t n, char* dst) const {
  while (n > 0) {
    const uint64_t page_end = (PageOf(address) + 1) << page_bits_;
    const size_t chunk = static_cast<size_t>(std::min<uint64_t>(n, page_end - address));
    std::memcpy(dst, BytesAt(address), chunk);
    address += chunk;
    dst += chunk;
    n -= chunk;
  }
}

uint32_t PagedLog::RecordFrameBytesAt(uint64_t address) const { return RecordView(BytesAt(address)).frame_bytes(); }

std::pair<uint64_t, uint64_t> PagedLog::SegmentsBelow(uint64_t begin, uint64_t flushed) const {
  const uint64_t first = begin / options_.segment_bytes;
  uint64_t end = first;
  while (std::max(end * options_.segment_bytes, kFirstAddress) < flushed) ++end;
  return {first, end};
}

void PagedLog::CollectSegmentsToSync(uint64_t begin, uint64_t below, SyncList* list, std::vector<std::string>* names) {
  const auto [first, end] = SegmentsBelow(begin, below);
  for (uint64_t n = first; n < end; ++n) {
    if (n >= segments_.size() || segments_[n] == nullptr) continue;
    names->push_back(SegmentFileName(n));
    list->files.emplace_back(segments_[n]->file.get(), &segments_[n]->unsynced);
  }
}

Status PagedLog::SyncSegments(const SyncList& list) {
  for (auto [file, unsynced] : list.files) {
    if (!unsynced->exchange(false, std::memory_order_acq_rel)) continue;
    if (Status s = file->Sync(); !s.ok()) {
      unsynced->store(true, std::memory_order_release);
      return s;
    }
  }
  return Status::OK();
}

void PagedLog::SetRetainFloor(uint64_t floor, uint64_t* files_deleted) {
  retain_floor_ = floor;
  DeleteObsoleteSegments(files_deleted);
}

// ---------------------------------------------------------------------------
// Recovery

Status PagedLog::OpenRecovered(const Options& options, const Recovered& state) {
  TIDEKV_RETURN_IF_ERROR(Open(options));
  if (state.begin < kFirstAddress || state.flushed > state.tail || state.tail > kMaxAddress ||
      (state.flushed != kFirstAddress && (state.flushed & page_mask_) != 0)) {
    return Status::Corruption("checkpoint log markers are inconsistent");
  }
  begin_ = state.begin;
  tail_ = state.tail;
  flushed_until_.store(state.flushed, std::memory_order_release);
  head_ = read_only_ = state.flushed;
  first_live_segment_ = begin_ / options_.segment_bytes;
  // Opened, not created afresh: pages from `flushed` on are written into the
  // last of these, and creating it would truncate the bytes below.
  const auto [first_segment, end_segment] = SegmentsBelow(begin_, state.flushed);
  for (uint64_t n = first_segment; n < end_segment; ++n) {
    Segment* segment = nullptr;
    TIDEKV_RETURN_IF_ERROR(OpenSegment(n, &segment));
  }
  // Memory for the pages of [flushed, tail]; those that do not fit the frames
  // go to temporary buffers and are written to segments by FinishRecovery.
  const uint64_t first_page = PageOf(head_);
  const uint64_t last_page = PageOf(tail_);
  const uint64_t pages = last_page - first_page + 1;
  const uint64_t overflow = pages > frame_count_ ? pages - frame_count_ : 0;
  for (uint64_t page = first_page; page < first_page + overflow; ++page) {
    std::unique_ptr<char[]> buffer(new (std::nothrow) char[page_bytes_]());
    if (buffer == nullptr) return Status::Limit("out of memory recovering the log");
    recovered_overflow_.emplace_back(page, std::move(buffer));
  }
  for (uint64_t page = first_page + overflow; page <= last_page; ++page) {
    TIDEKV_RETURN_IF_ERROR(AcquireFrame(page, /*bulk=*/true));
  }
  return Status::OK();
}

void PagedLog::WriteRecovered(uint64_t address, Slice bytes) {
  const uint64_t from = std::max(address, flushed_until_.load(std::memory_order_relaxed));
  const uint64_t to = std::min<uint64_t>(address + bytes.size(), tail_);
  uint64_t a = from;
  while (a < to) {
    const uint64_t page = PageOf(a);
    const uint64_t page_end = (page + 1) << page_bits_;
    const uint64_t n = std::min(to, page_end) - a;
    char* dst;
    if (!recovered_overflow_.empty() && page <= recovered_overflow_.back().first) {
      dst = recovered_overflow_[page - recovered_overflow_.front().first].second.get();
    } else {
      dst = frames_[FrameIndex(page)];
    }
    std::memcpy(dst + (a & page_mask_), bytes.data() + (a - address), n);
    a += n;
  }
}

Status PagedLog::FinishRecovery() {
  // Pages that did not fit in memory go to their segments now, durably.
  for (auto& [page, buffer] : recovered_overflow_) {
    Segment* segment = nullptr;
    TIDEKV_RETURN_IF_ERROR(SegmentFor(page, &segment));
    SealPage(page, buffer.get());
    const uint64_t offset = kSegmentDataOffset + (page << page_bits_) % options_.segment_bytes;
    TIDEKV_RETURN_IF_ERROR(segment->file->WriteAt(offset, Slice(buffer.get(), page_bytes_)));
    TIDEKV_RETURN_IF_ERROR(segment->file->Sync());
    const uint64_t end = (page + 1) << page_bits_;
    flushed_until_.store(end, std::memory_order_release);
    head_ = read_only_ = end;
  }
  recovered_overflow_.clear();
  tail_page_ = PageOf(tail_);
  tail_page_ready_ = true;
  epoch_start_ = tail_;
  UpdateMutableFrom();
  return ShiftReadOnly();
}

PagedLog::Counters PagedLog::counters() const {
  Counters c;
  {
    std::lock_guard<std::mutex> l(flush_mu_);
    c.pages_flushed = pages_flushed_;
    c.flush_waits = flush_waits_;
  }
  c.pages_evicted = pages_evicted_;
  c.frames_allocated = frames_allocated_;
  c.flushed_until = flushed_until_.load(std::memory_order_acquire);
  for (uint64_t n = first_live_segment_; n < segments_.size(); ++n) {
    if (segments_[n] == nullptr) continue;
    ++c.segments;
    const uint64_t start = n * options_.segment_bytes;
    const uint64_t end = std::min(start + options_.segment_bytes, c.flushed_until);
    c.disk_bytes += kSegmentDataOffset + (end > start ? end - start : 0);
  }
  return c;
}

Status PagedLog::CheckInvariants() const {
  auto fail = [](const char* what) { return Status::Corruption(std::string("paged log invariant: ") + what); };
  const uint64_t flushed = flushed_until_.load(std::memory_order_acquire);
  if (begin_ < kFirstAddress || head_ > read_only_ || read_only_ > tail_) return fail("marker order");
  if (flushed > read_only_) return fail("flushed past read_only");
  if (head_ > flushed && head_ != kFirstAddress) return fail("evicted an unflushed page");
  if (head_ != kFirstAddress && (head_ & page_mask_) != 0) return fail("head not page-aligned");
  if (read_only_ != kFirstAddress && (read_only_ & page_mask_) != 0) return fail("read_only not page-aligned");
  if (tail_page_ready_) {
    for (uint64_t page = PageOf(std::max(head_, kFirstAddress)); page <= tail_page_; ++page) {
      if (frame_page_[FrameIndex(page)] != page) return fail("a page between head and tail has no frame");
    }
  }
  return Status::OK();
}

}  // namespace tidekv::hlog
