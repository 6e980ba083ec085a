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
#include <string>

#include "common/limits.h"
#include "common/record_format.h"

namespace tidekv::hlog {

// Data starts page-aligned so it can be mapped and written in whole OS pages.
inline constexpr uint64_t kSegmentDataOffset = 4096;
static_assert(kSegmentDataOffset >= kFileHeaderBytes);

// Address 0 means "no record" (an empty chain); the log starts past it.
inline constexpr uint64_t kInvalidAddress = 0;
inline constexpr uint64_t kFirstAddress = 64;

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
