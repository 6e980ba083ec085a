#include "record_format.h"

#include <cstring>

namespace tidekv {

const char* FindRecordProblem(const char* frame, size_t available) {
  if (available < kRecordHeaderBytes) return "record header truncated";
  RecordView r(frame);
  const uint32_t frame_bytes = r.frame_bytes();
  if (frame_bytes < kRecordHeaderBytes || frame_bytes > available || frame_bytes % kRecordAlignBytes != 0) {
    return "bad record length";
  }
  const RecordType type = r.type();
  if (type != RecordType::kValue && type != RecordType::kTombstone && type != RecordType::kPadding) {
    return "unknown record type";
  }
  if (static_cast<size_t>(r.key_bytes()) + r.value_bytes() > frame_bytes - kRecordHeaderBytes ||
      r.key_bytes() > kMaxKeyBytes || (type != RecordType::kPadding && r.key_bytes() == 0)) {
    return "record key/value lengths exceed its frame";
  }
  if (r.crc() != r.ComputeCrc()) return "record checksum mismatch";
  return nullptr;
}

Status VerifyRecord(const char* frame, size_t available, const std::string& where) {
  const char* problem = FindRecordProblem(frame, available);
  return problem == nullptr ? Status::OK() : Status::Corruption(where + ": " + problem);
}

void EncodeFileHeader(const FileHeader& header, char* dst) {
  std::memset(dst, 0, kFileHeaderBytes);
  std::memcpy(dst, kFileMagic, sizeof kFileMagic);
  StoreFixed32(dst + 8, static_cast<uint32_t>(header.type));
  StoreFixed32(dst + 12, header.format_version);
  for (int i = 0; i < 4; ++i) StoreFixed64(dst + 16 + 8 * i, header.args[i]);
  StoreFixed32(dst + 60, crc32c::Value(dst, 60));
}

Status DecodeFileHeader(Slice bytes, FileType expected, const std::string& path, FileHeader* header) {
  if (bytes.size() < kFileHeaderBytes) return Status::Corruption(path + ": file header truncated");
  const char* p = bytes.data();
  if (std::memcmp(p, kFileMagic, sizeof kFileMagic) != 0) {
    return Status::Corruption(path + ": not a tidekv file (bad magic)");
  }
  if (LoadFixed32(p + 60) != crc32c::Value(p, 60)) {
    return Status::Corruption(path + ": file header checksum mismatch");
  }
  header->type = static_cast<FileType>(LoadFixed32(p + 8));
  header->format_version = LoadFixed32(p + 12);
  for (int i = 0; i < 4; ++i) header->args[i] = LoadFixed64(p + 16 + 8 * i);
  if (header->type != expected) {
    return Status::Corruption(path + ": unexpected file type " + std::to_string(static_cast<uint32_t>(header->type)));
  }
  if (header->format_version == 0 || header->format_version > kFormatVersion) {
    return Status::Corruption(path + ": unsupported format version " + std::to_string(header->format_version));
  }
  return Status::OK();
}

}  // namespace tidekv
