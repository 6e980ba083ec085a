// The on-disk framing shared by all engines: the record frame and the file
// header. Byte-level description: docs/formats/record.md.
//
// Every value here reaches disk: DO NOT CHANGE existing numbers or offsets.
// Add new record/file types with new numbers and bump kFormatVersion when a
// reader of the old version could misread the new files.
//
// Record frame (little-endian, starts 8-byte aligned, length a multiple of 8):
//
//   offset size field
//   0      4    crc32c       CRC32C of bytes [4, 24 + key_bytes + value_bytes)
//   4      4    frame_bytes  whole frame: header + key + value capacity + padding
//   8      1    type         RecordType
//   9      1    flags        engine-defined (0 unless the engine documents a bit)
//   10     2    key_bytes    1 .. kMaxKeyBytes
//   12     4    value_bytes  0 .. frame_bytes - 24 - key_bytes
//   16     8    link         engine-defined: hybrid log = previous address in
//                            the record's hash chain
//   24     ...  key bytes, then value bytes, then slack up to frame_bytes
//
// The slack lets the hybrid log grow a value in place; it is not covered by
// the CRC and its contents are unspecified. A frame with type kPadding covers
// the unused end of a log page; its key_bytes and value_bytes are 0.
#pragma once

#include <cstdint>
#include <string>

#include "crc32c.h"
#include "limits.h"
#include "slice.h"
#include "status.h"

namespace tidekv {

enum class RecordType : uint8_t {
  kInvalid = 0,  // zeroed memory: never written on purpose
  kValue = 1,
  kTombstone = 2,
  kPadding = 3,
};

inline constexpr size_t kRecordHeaderBytes = 24;
inline constexpr size_t kRecordAlignBytes = 8;

namespace record_offset {
inline constexpr size_t kCrc = 0;
inline constexpr size_t kFrameBytes = 4;
inline constexpr size_t kType = 8;
inline constexpr size_t kFlags = 9;
inline constexpr size_t kKeyBytes = 10;
inline constexpr size_t kValueBytes = 12;
inline constexpr size_t kLink = 16;
}  // namespace record_offset

inline constexpr size_t AlignRecord(size_t n) { return (n + kRecordAlignBytes - 1) & ~(kRecordAlignBytes - 1); }
inline constexpr size_t RecordFrameBytes(size_t key_bytes, size_t value_capacity) {
  return AlignRecord(kRecordHeaderBytes + key_bytes + value_capacity);
}

// A read view over a frame in memory. Cheap to copy; does not own the bytes.
class RecordView {
 public:
  explicit RecordView(const char* frame) : p_(frame) {}
  const char* data() const { return p_; }
  uint32_t crc() const { return LoadFixed32(p_ + record_offset::kCrc); }
  uint32_t frame_bytes() const { return LoadFixed32(p_ + record_offset::kFrameBytes); }
  RecordType type() const { return static_cast<RecordType>(static_cast<uint8_t>(p_[record_offset::kType])); }
  uint8_t flags() const { return static_cast<uint8_t>(p_[record_offset::kFlags]); }
  uint16_t key_bytes() const { return LoadFixed16(p_ + record_offset::kKeyBytes); }
  uint32_t value_bytes() const { return LoadFixed32(p_ + record_offset::kValueBytes); }
  uint64_t link() const { return LoadFixed64(p_ + record_offset::kLink); }
  Slice key() const { return Slice(p_ + kRecordHeaderBytes, key_bytes()); }
  Slice value() const { return Slice(p_ + kRecordHeaderBytes + key_bytes(), value_bytes()); }
  // Bytes available for the value without moving the record.
  uint32_t value_capacity() const { return frame_bytes() - kRecordHeaderBytes - key_bytes(); }
  uint32_t ComputeCrc() const {
    return crc32c::Value(p_ + record_offset::kFrameBytes,
                         kRecordHeaderBytes - record_offset::kFrameBytes + key_bytes() + value_bytes());
  }

 private:
  const char* p_;
};

// Writes a header at dst (the key and value are the caller's to copy). The CRC
// field is left 0: engines seal it with SealRecord when the bytes are final.
inline void EncodeRecordHeader(char* dst, RecordType type, uint8_t flags, size_t key_bytes,
                               size_t value_bytes, size_t frame_bytes, uint64_t link) {
  StoreFixed32(dst + record_offset::kCrc, 0);
  StoreFixed32(dst + record_offset::kFrameBytes, static_cast<uint32_t>(frame_bytes));
  dst[record_offset::kType] = static_cast<char>(type);
  dst[record_offset::kFlags] = static_cast<char>(flags);
  StoreFixed16(dst + record_offset::kKeyBytes, static_cast<uint16_t>(key_bytes));
  StoreFixed32(dst + record_offset::kValueBytes, static_cast<uint32_t>(value_bytes));
  StoreFixed64(dst + record_offset::kLink, link);
}

inline void SealRecord(char* frame) {
  StoreFixed32(frame + record_offset::kCrc, RecordView(frame).ComputeCrc());
}

// Checks a frame read from disk: lengths within `available` bytes and within
// limits, a known type, the CRC. Returns nullptr when the frame is sound, else
// a short description of the first problem (a static string: no allocation on
// the read path).
const char* FindRecordProblem(const char* frame, size_t available);
// The same as a Status: Corruption "<where>: <problem>".
Status VerifyRecord(const char* frame, size_t available, const std::string& where);

// ---------------------------------------------------------------------------
// File header: the first kFileHeaderBytes of every tidekv file.
//
//   offset size field
//   0      8    magic           "tidekv\0\1"
//   8      4    file_type       FileType
//   12     4    format_version  kFormatVersion of the writer
//   16     32   args[4]         u64 each, meaning per file type (see FileType)
//   48     12   reserved, zero
//   60     4    crc32c of bytes [0, 60)

inline constexpr size_t kFileHeaderBytes = 64;
inline constexpr uint32_t kFormatVersion = 1;
inline constexpr char kFileMagic[8] = {'t', 'i', 'd', 'e', 'k', 'v', '\0', '\1'};

enum class FileType : uint32_t {
  // Hybrid log segment. args: [0] segment number, [1] first log address,
  // [2] segment bytes, [3] page bytes. Data starts at kSegmentDataOffset.
  kLogSegment = 1,
  // Checkpoint manifest (checkpoint_format.h). args: [0] version.
  kManifest = 2,
  // A block file of checkpoint data (checkpoint_format.h). args: [0] version,
  // [1] what the blocks are (BlockFileKind), [2] [3] engine-defined.
  kCheckpointBlocks = 3,
  // LSM sorted table (native/lsm/sstable.h). args: [0] file number.
  kSSTable = 4,
  // Append-log segment (native/appendlog/segment.h). args: [0] segment number.
  // Records start at kFileHeaderBytes.
  kAppendSegment = 5,
};

struct FileHeader {
  FileType type = FileType::kLogSegment;
  uint32_t format_version = kFormatVersion;
  uint64_t args[4] = {0, 0, 0, 0};
};

void EncodeFileHeader(const FileHeader& header, char* dst);  // writes kFileHeaderBytes
// Fails with Corruption naming `path` on a bad magic/CRC/type, or a version
// newer than this reader understands.
Status DecodeFileHeader(Slice bytes, FileType expected, const std::string& path, FileHeader* header);

}  // namespace tidekv
