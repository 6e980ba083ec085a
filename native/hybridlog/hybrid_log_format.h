// On-disk format of the hybrid log. Byte-level description:
// docs/formats/hybridlog.md. DO NOT CHANGE values that reach disk.
//
// A segment file holds a contiguous range of log addresses:
//   [0, kFileHeaderBytes)            file header (FileType::kLogSegment; args:
//                                    segment number, first address, segment
//                                    bytes, page bytes)
//   [kFileHeaderBytes, kSegmentDataOffset)   zero
//   [kSegmentDataOffset, + segment_bytes)    log bytes of addresses
//                                    [n * segment_bytes, (n + 1) * segment_bytes)
// Log pages are written whole; within a page, records (record_format.h) follow
// each other; a kPadding record (or, when fewer than kRecordHeaderBytes remain,
// zero bytes) fills the end of a page.
#pragma once

#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "common/limits.h"
#include "common/record_format.h"
#include "common/status.h"

namespace tidekv::hlog {

// Data starts page-aligned so it can be mapped and written in whole OS pages.
inline constexpr uint64_t kSegmentDataOffset = 4096;
static_assert(kSegmentDataOffset >= kFileHeaderBytes);

// Address 0 means "no record" (an empty chain); the log starts past it.
inline constexpr uint64_t kInvalidAddress = 0;
inline constexpr uint64_t kFirstAddress = 64;

// Checkpoint block files (checkpoint_format.h): "snap-<v>.dat" holds log
// bytes of the in-memory region (block key = log address), "index-<v>.dat"
// holds hash-index chunks (block key = chunk id).
inline constexpr char kSnapshotPrefix[] = "snap";
inline constexpr char kIndexPrefix[] = "index";

// A snapshot file a checkpoint's memory region is rebuilt from.
struct SnapshotRef {
  uint64_t version = 0;
  uint64_t tail = 0;   // the log tail of that checkpoint: its bytes lie below
  uint64_t bytes = 0;  // file size
};

// An index file a checkpoint's hash index is rebuilt from.
struct IndexRef {
  uint64_t version = 0;
  uint64_t bytes = 0;  // file size
};

// The layout of CheckpointState in a manifest; a reader refuses any other.
// 2: the index as a chain of files (1, never released: a map of 64 KiB chunks).
inline constexpr uint64_t kCheckpointStateFormat = 2;

// The hybrid log's part of a checkpoint manifest (engine_state).
struct CheckpointState {
  uint64_t page_bytes = 0;
  uint64_t segment_bytes = 0;
  uint64_t begin = 0;
  uint64_t flushed = 0;  // [begin, flushed) is in segment files
  uint64_t tail = 0;     // [flushed, tail) is rebuilt from the snapshot chain
  uint64_t keys = 0;
  uint64_t bucket_bits = 0;
  uint64_t overflow_used = 0;
  uint64_t live_entries = 0;
  std::vector<IndexRef> index_chain;  // a base, then deltas; later images override earlier ones
  std::vector<SnapshotRef> chain;     // oldest first; later files override earlier ones
};

std::string EncodeCheckpointState(const CheckpointState& state);
Status DecodeCheckpointState(Slice bytes, const std::string& where, CheckpointState* state);

inline std::string SegmentFileName(uint64_t segment) {
  char name[32];
  std::snprintf(name, sizeof name, "log-%010llu.seg", static_cast<unsigned long long>(segment));
  return name;
}
// Parses a segment file name; false if it is not one.
inline bool ParseSegmentFileName(const std::string& name, uint64_t* segment) {
  unsigned long long n = 0;
  int consumed = 0;
  if (std::sscanf(name.c_str(), "log-%10llu.seg%n", &n, &consumed) != 1) return false;
  if (static_cast<size_t>(consumed) != name.size() || name.size() != 18) return false;
  *segment = n;
  return true;
}

}  // namespace tidekv::hlog
