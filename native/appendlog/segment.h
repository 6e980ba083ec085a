// Segment files of the append log, and the writer that appends to them.
//
// A segment is a file header (type kAppendSegment, args[0] = segment number)
// followed by records in the shared record format (common/record_format.h):
// values and tombstones, 8-byte aligned, no slack. A record's `link` field
// holds its sequence number: every write gets the next one, and a merge
// copies records with theirs, so "which record of a key is newest" is the
// higher sequence wherever the records sit. Byte layout:
// docs/formats/appendlog.md.
//
// The active segment is preallocated to its capacity (a sparse file) and
// mapped whole, so records written through the writer's buffer can be read
// back through the mapping as soon as the buffer is written out. A sealed
// segment is cut to its length and mapped exactly.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/env.h"
#include "common/file_janitor.h"
#include "common/record_format.h"
#include "common/slice.h"
#include "common/status.h"

namespace tidekv::appendlog {

struct HintFile;

// "seg-<20 digits>.log"
std::string SegmentFileName(uint32_t number);
bool ParseSegmentFileName(const std::string& name, uint32_t* number);

// One segment file: its handle, its mapping and the engine's bookkeeping.
// Shared (std::shared_ptr) by the live state, retained checkpoints and the
// merge; the file is deleted (through the janitor) when the last owner goes.
class Segment {
 public:
  ~Segment();
  Segment(const Segment&) = delete;
  Segment& operator=(const Segment&) = delete;

  // Creates the file (replacing one of that name), writes its header, sizes
  // it to `capacity` bytes and maps it.
  static Status Create(Env* env, const std::string& dir, uint32_t number, uint64_t capacity,
                       std::shared_ptr<FileJanitor> janitor, std::shared_ptr<Segment>* out);
  // Opens an existing segment, checks its header and that it holds at least
  // `length` bytes, and maps [0, length).
  static Status Open(Env* env, const std::string& dir, uint32_t number, uint64_t length,
                     std::shared_ptr<FileJanitor> janitor, std::shared_ptr<Segment>* out);

  uint32_t number() const { return number_; }
  std::string name() const { return SegmentFileName(number_); }
  const std::string& path() const { return file_->path(); }
  File* file() const { return file_.get(); }
  uint64_t capacity() const { return capacity_; }
  // The current mapping. Holders keep it alive across Resize.
  std::shared_ptr<const MappedRegion> region() const { return region_; }
  const char* base() const { return region_->data(); }

  // Sets the file size to `bytes` and maps [0, bytes) anew: a seal (cut to
  // the length) or a reopen for appending (grow to capacity).
  Status Resize(uint64_t bytes);

  // ---- bookkeeping, guarded by the engine's lock ----
  uint64_t length = kFileHeaderBytes;   // end of the last record
  uint64_t synced = 0;                  // bytes known durable
  uint64_t live_bytes = 0;              // frames the key directory points at, plus kept tombstones
  uint64_t dead_bytes = 0;              // frames nothing needs (overwritten, deleted, tombstones)
  uint64_t min_seq = UINT64_MAX;        // smallest sequence number of its records
  bool sealed = false;                  // no more appends
  uint64_t hinted_end = kFileHeaderBytes;  // hints cover [header, hinted_end)
  std::vector<std::shared_ptr<HintFile>> hints;

 private:
  Segment() = default;
  uint32_t number_ = 0;
  uint64_t capacity_ = 0;
  std::unique_ptr<File> file_;
  std::shared_ptr<const MappedRegion> region_;
  std::shared_ptr<FileJanitor> janitor_;
};
using SegmentRef = std::shared_ptr<Segment>;

// Walks the records of [from, to) in bytes `base`, checking each frame's
// lengths and type, and its CRC when check_crc. fn(offset, record) may stop
// the walk with a non-OK Status. Corruption names `where` and the offset.
Status ForEachRecord(const char* base, uint64_t from, uint64_t to, const std::string& where, bool check_crc,
                     const std::function<Status(uint64_t offset, RecordView record)>& fn);

// Appends records to one segment through a buffer. Records in the buffer
// are read from it (RecordAt); Flush writes it out, after which they are
// read through the segment's mapping. Not thread-safe.
class SegmentWriter {
 public:
  // publish_length: each append sets segment->length (the active segment,
  // whose writer runs under the engine's lock). A merge's writer runs without
  // it and publishes the length itself, under the lock.
  explicit SegmentWriter(size_t buffer_bytes, bool publish_length = true)
      : buffer_capacity_(buffer_bytes), publish_length_(publish_length) {}

  // Starts appending at segment->length.
  void Reset(SegmentRef segment);
  const SegmentRef& segment() const { return segment_; }
  bool active() const { return segment_ != nullptr; }

  // Whether a frame of this size fits before the segment's capacity.
  bool Fits(size_t frame_bytes) const { return length_ + frame_bytes <= segment_->capacity(); }
  // Appends a record (seq goes to its link field); *offset = where it starts.
  // On error nothing was appended.
  Status Append(RecordType type, Slice key, Slice value, uint64_t seq, uint64_t* offset);
  // Appends a whole frame as it is (a merge copying a record).
  Status AppendFrame(const char* frame, size_t frame_bytes, uint64_t* offset);
  // Writes the buffer out. On error the buffer is kept (a retry may succeed).
  Status Flush();

  // The frame at offset (which a previous Append returned).
  const char* RecordAt(uint64_t offset) const {
    return offset >= flushed_ ? buffer_.data() + (offset - flushed_) : segment_->base() + offset;
  }
  bool InBuffer(uint64_t offset) const { return offset >= flushed_; }
  uint64_t length() const { return length_; }
  uint64_t flushed() const { return flushed_; }
  size_t buffered_bytes() const { return buffer_.size(); }

 private:
  // Room for n more bytes in the buffer (flushing first if needed).
  Status MakeRoom(size_t n);
  // Writes a record too large for the buffer straight to the file.
  Status WriteDirect(RecordType type, Slice key, Slice value, uint64_t seq, size_t frame_bytes);

  void Advance(uint64_t bytes) {
    length_ += bytes;
    if (publish_length_) segment_->length = length_;
  }

  size_t buffer_capacity_;
  bool publish_length_;
  SegmentRef segment_;
  std::string buffer_;    // bytes [flushed_, length_)
  uint64_t flushed_ = 0;  // written to the file
  uint64_t length_ = 0;
};

}  // namespace tidekv::appendlog
