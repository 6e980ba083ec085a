#include "appendlog/segment.h"

#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "appendlog/hint_file.h"

namespace tidekv::appendlog {

std::string SegmentFileName(uint32_t number) {
  char name[40];
  std::snprintf(name, sizeof(name), "seg-%020" PRIu32 ".log", number);
  return name;
}

bool ParseSegmentFileName(const std::string& name, uint32_t* number) {
  if (name.size() != 28 || name.compare(0, 4, "seg-") != 0 || name.compare(24, 4, ".log") != 0) return false;
  uint64_t n = 0;
  for (size_t i = 4; i < 24; ++i) {
    if (name[i] < '0' || name[i] > '9') return false;
    n = n * 10 + static_cast<uint64_t>(name[i] - '0');
    if (n > UINT32_MAX) return false;
  }
  *number = static_cast<uint32_t>(n);
  return n != 0;
}

Segment::~Segment() {
  region_.reset();
  file_.reset();
  if (janitor_ != nullptr) janitor_->Enqueue(SegmentFileName(number_));
}

Status Segment::Create(Env* env, const std::string& dir, uint32_t number, uint64_t capacity,
                       std::shared_ptr<FileJanitor> janitor, std::shared_ptr<Segment>* out) {
  std::shared_ptr<Segment> s(new Segment());
  s->number_ = number;
  s->capacity_ = capacity;
  TIDEKV_RETURN_IF_ERROR(env->OpenFile(JoinPath(dir, SegmentFileName(number)), OpenMode::kCreateTruncate, &s->file_));
  // From here a failure must delete the file: the janitor does it once s goes.
  s->janitor_ = std::move(janitor);
  FileHeader header;
  header.type = FileType::kAppendSegment;
  header.args[0] = number;
  char bytes[kFileHeaderBytes];
  EncodeFileHeader(header, bytes);
  TIDEKV_RETURN_IF_ERROR(s->file_->WriteAt(0, Slice(bytes, sizeof(bytes))));
  TIDEKV_RETURN_IF_ERROR(s->Resize(capacity));
  s->min_seq = UINT64_MAX;
  *out = std::move(s);
  return Status::OK();
}

Status Segment::Open(Env* env, const std::string& dir, uint32_t number, uint64_t length,
                     std::shared_ptr<FileJanitor> janitor, std::shared_ptr<Segment>* out) {
  std::shared_ptr<Segment> s(new Segment());
  s->number_ = number;
  const std::string path = JoinPath(dir, SegmentFileName(number));
  TIDEKV_RETURN_IF_ERROR(env->OpenFile(path, OpenMode::kReadWrite, &s->file_));
  uint64_t size = 0;
  TIDEKV_RETURN_IF_ERROR(s->file_->Size(&size));
  if (size < kFileHeaderBytes || size < length) {
    return Status::Corruption(path + ": segment is " + std::to_string(size) + " bytes, a checkpoint needs " +
                              std::to_string(length));
  }
  char bytes[kFileHeaderBytes];
  size_t got = 0;
  TIDEKV_RETURN_IF_ERROR(s->file_->ReadAt(0, sizeof(bytes), bytes, &got));
  FileHeader header;
  TIDEKV_RETURN_IF_ERROR(DecodeFileHeader(Slice(bytes, got), FileType::kAppendSegment, path, &header));
  if (header.args[0] != number) {
    return Status::Corruption(path + ": header names segment " + std::to_string(header.args[0]));
  }
  std::unique_ptr<MappedRegion> region;
  TIDEKV_RETURN_IF_ERROR(s->file_->Map(0, length, &region));
  s->region_ = std::move(region);
  s->capacity_ = size;
  s->length = length;
  s->synced = length;
  s->janitor_ = std::move(janitor);
  *out = std::move(s);
  return Status::OK();
}

Status Segment::Resize(uint64_t bytes) {
  // On failure the old mapping stays: the bytes below the length are still
  // readable through it (a failed cut leaves the file longer, never shorter
  // than the records). Holders of the old mapping keep it either way.
  TIDEKV_RETURN_IF_ERROR(file_->Truncate(bytes));
  std::unique_ptr<MappedRegion> region;
  TIDEKV_RETURN_IF_ERROR(file_->Map(0, bytes, &region));
  region_ = std::move(region);
  capacity_ = bytes;
  return Status::OK();
}

Status ForEachRecord(const char* base, uint64_t from, uint64_t to, const std::string& where, bool check_crc,
                     const std::function<Status(uint64_t offset, RecordView record)>& fn) {
  uint64_t offset = from;
  while (offset < to) {
    const char* frame = base + offset;
    const size_t available = static_cast<size_t>(to - offset);
    const char* problem = nullptr;
    if (check_crc) {
      problem = FindRecordProblem(frame, available);
    } else if (available < kRecordHeaderBytes) {
      problem = "truncated record header";
    }
    const RecordView r(frame);
    if (problem == nullptr && (r.frame_bytes() > available || r.frame_bytes() < kRecordHeaderBytes ||
                               r.frame_bytes() % kRecordAlignBytes != 0)) {
      problem = "bad frame length";
    }
    if (problem == nullptr && r.type() != RecordType::kValue && r.type() != RecordType::kTombstone) {
      problem = "not a value or tombstone";
    }
    if (problem != nullptr) {
      return Status::Corruption(where + ": record at offset " + std::to_string(offset) + ": " + problem);
    }
    TIDEKV_RETURN_IF_ERROR(fn(offset, r));
    offset += r.frame_bytes();
  }
  return Status::OK();
}

// ---- SegmentWriter ----

void SegmentWriter::Reset(SegmentRef segment) {
  segment_ = std::move(segment);
  buffer_.clear();
  if (segment_ != nullptr) {
    flushed_ = length_ = segment_->length;
    if (buffer_.capacity() < buffer_capacity_) buffer_.reserve(buffer_capacity_);
  } else {
    flushed_ = length_ = 0;
  }
}

Status SegmentWriter::Flush() {
  if (buffer_.empty()) return Status::OK();
  TIDEKV_RETURN_IF_ERROR(segment_->file()->WriteAt(flushed_, buffer_));
  flushed_ += buffer_.size();
  buffer_.clear();
  return Status::OK();
}

Status SegmentWriter::MakeRoom(size_t n) {
  if (buffer_.size() + n > buffer_capacity_) return Flush();
  return Status::OK();
}

Status SegmentWriter::Append(RecordType type, Slice key, Slice value, uint64_t seq, uint64_t* offset) {
  const size_t frame_bytes = RecordFrameBytes(key.size(), value.size());
  if (frame_bytes > buffer_capacity_ / 2) {
    // A large value goes straight to the file: no copy through the buffer.
    TIDEKV_RETURN_IF_ERROR(Flush());
    TIDEKV_RETURN_IF_ERROR(WriteDirect(type, key, value, seq, frame_bytes));
    *offset = length_;
    Advance(frame_bytes);
    flushed_ = length_;
    return Status::OK();
  }
  TIDEKV_RETURN_IF_ERROR(MakeRoom(frame_bytes));
  const size_t at = buffer_.size();
  buffer_.resize(at + frame_bytes);
  char* frame = buffer_.data() + at;
  EncodeRecordHeader(frame, type, 0, key.size(), value.size(), frame_bytes, seq);
  std::memcpy(frame + kRecordHeaderBytes, key.data(), key.size());
  if (!value.empty()) std::memcpy(frame + kRecordHeaderBytes + key.size(), value.data(), value.size());
  const size_t used = kRecordHeaderBytes + key.size() + value.size();
  if (used < frame_bytes) std::memset(frame + used, 0, frame_bytes - used);
  SealRecord(frame);
  *offset = length_;
  Advance(frame_bytes);
  return Status::OK();
}

Status SegmentWriter::WriteDirect(RecordType type, Slice key, Slice value, uint64_t seq, size_t frame_bytes) {
  // Header and key in one small buffer; the CRC extends over the value in place.
  std::string head(kRecordHeaderBytes + key.size(), '\0');
  EncodeRecordHeader(head.data(), type, 0, key.size(), value.size(), frame_bytes, seq);
  std::memcpy(head.data() + kRecordHeaderBytes, key.data(), key.size());
  uint32_t crc = crc32c::Value(head.data() + record_offset::kFrameBytes, head.size() - record_offset::kFrameBytes);
  crc = crc32c::Extend(crc, value.data(), value.size());
  StoreFixed32(head.data() + record_offset::kCrc, crc);
  File* f = segment_->file();
  TIDEKV_RETURN_IF_ERROR(f->WriteAt(length_, head));
  TIDEKV_RETURN_IF_ERROR(f->WriteAt(length_ + head.size(), value));
  const size_t used = head.size() + value.size();
  if (used < frame_bytes) {
    const char zeros[kRecordAlignBytes] = {};
    TIDEKV_RETURN_IF_ERROR(f->WriteAt(length_ + used, Slice(zeros, frame_bytes - used)));
  }
  return Status::OK();
}

Status SegmentWriter::AppendFrame(const char* frame, size_t frame_bytes, uint64_t* offset) {
  if (frame_bytes > buffer_capacity_ / 2) {
    TIDEKV_RETURN_IF_ERROR(Flush());
    TIDEKV_RETURN_IF_ERROR(segment_->file()->WriteAt(length_, Slice(frame, frame_bytes)));
    *offset = length_;
    Advance(frame_bytes);
    flushed_ = length_;
    return Status::OK();
  }
  TIDEKV_RETURN_IF_ERROR(MakeRoom(frame_bytes));
  buffer_.append(frame, frame_bytes);
  *offset = length_;
  Advance(frame_bytes);
  return Status::OK();
}

}  // namespace tidekv::appendlog
