// Hint files: the key directory's entries for a range of one segment's
// records (key, sequence number, type, offset, frame size), so that opening
// a store rebuilds the directory without reading any value.
//
// A hint file is a checkpoint block file (common/checkpoint_format.h, kind
// kHints; header args[2] = segment number, args[3] = the end offset it
// covers): every block CRC'd, a footer, nothing applied from a damaged file.
// Entries are written in record order; each block holds whole entries:
//
//   u8      type (RecordType: 1 value, 2 tombstone)
//   varint  key bytes, then the key
//   varint  sequence number
//   varint  offset / 8
//   varint  frame bytes / 8
//
// A checkpoint writes one for the records each segment gained since the
// last one (a hint delta); a merge writes one per output segment.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/env.h"
#include "common/file_janitor.h"
#include "common/record_format.h"
#include "common/slice.h"
#include "common/status.h"
#include "common/varint.h"

namespace tidekv::appendlog {

// "hint-<20 digits>.dat"
std::string HintFileName(uint64_t number);
bool ParseHintFileName(const std::string& name, uint64_t* number);

// A hint file some state refers to; deleted through the janitor when the
// last reference goes.
struct HintFile {
  HintFile(uint64_t n, uint64_t b, std::shared_ptr<FileJanitor> j) : number(n), bytes(b), janitor(std::move(j)) {}
  ~HintFile();
  HintFile(const HintFile&) = delete;
  HintFile& operator=(const HintFile&) = delete;
  std::string name() const { return HintFileName(number); }

  const uint64_t number;
  const uint64_t bytes;
  std::shared_ptr<FileJanitor> janitor;
};
using HintFileRef = std::shared_ptr<HintFile>;

struct HintEntry {
  RecordType type;
  Slice key;
  uint64_t seq;
  uint64_t offset;
  uint64_t frame_bytes;
};

// Writes (and syncs) hint file `number` for the records of segment
// `segment_number` in [from, to) of `base` (its bytes), reading only their
// headers and keys. *bytes = the file's size.
Status WriteHintFile(Env* env, const std::string& dir, uint64_t number, uint32_t segment_number, const char* base,
                     uint64_t from, uint64_t to, uint64_t* bytes, uint64_t* entries);

// Reads hint file `number` whole, checking every CRC; *entries receives the
// entry bytes (parse them with ForEachHint), *segment_number and *end what
// the header says it covers.
Status ReadHintFile(Env* env, const std::string& dir, uint64_t number, uint32_t* segment_number, uint64_t* end,
                    std::string* entries);

// The same without a copy: *blocks view the file's mapping, which *mapping
// keeps alive. For recovery, which reads every hint of a checkpoint at once.
struct MappedHints {
  std::unique_ptr<MappedRegion> mapping;
  std::vector<Slice> blocks;  // entry bytes, block by block
  uint32_t segment_number = 0;
  uint64_t end = 0;
};
Status MapHintFile(Env* env, const std::string& dir, uint64_t number, MappedHints* hints);

// Calls fn(const HintEntry&) for each entry of bytes from ReadHintFile.
// Corruption naming `where` on a malformed entry.
template <class Fn>
Status ForEachHint(Slice bytes, const std::string& where, Fn&& fn) {
  const char* p = bytes.data();
  const char* const end = p + bytes.size();
  while (p < end) {
    HintEntry e;
    const auto type = static_cast<RecordType>(static_cast<uint8_t>(*p++));
    uint32_t key_bytes = 0;
    uint64_t offset8 = 0, frame8 = 0;
    p = DecodeVarint32(p, end, &key_bytes);
    bool ok = p != nullptr && (type == RecordType::kValue || type == RecordType::kTombstone) && key_bytes > 0 &&
              key_bytes <= kMaxKeyBytes && static_cast<size_t>(end - p) >= key_bytes;
    if (ok) {
      e.key = Slice(p, key_bytes);
      p += key_bytes;
      p = DecodeVarint64(p, end, &e.seq);
      if (p != nullptr) p = DecodeVarint64(p, end, &offset8);
      if (p != nullptr) p = DecodeVarint64(p, end, &frame8);
      ok = p != nullptr && frame8 > 0 && offset8 < (uint64_t{1} << 32);
    }
    if (!ok) return Status::Corruption(where + ": malformed hint entry");
    e.type = type;
    e.offset = offset8 << 3;
    e.frame_bytes = frame8 << 3;
    TIDEKV_RETURN_IF_ERROR(fn(e));
  }
  return Status::OK();
}

}  // namespace tidekv::appendlog
