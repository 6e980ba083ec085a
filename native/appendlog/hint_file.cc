#include "appendlog/hint_file.h"

#include <cinttypes>
#include <cstdio>
#include <functional>

#include "appendlog/segment.h"
#include "common/checkpoint_format.h"

namespace tidekv::appendlog {

namespace {
constexpr size_t kHintBlockBytes = 32 * 1024;
}

std::string HintFileName(uint64_t number) {
  char name[40];
  std::snprintf(name, sizeof(name), "hint-%020" PRIu64 ".dat", number);
  return name;
}

bool ParseHintFileName(const std::string& name, uint64_t* number) {
  if (name.size() != 29 || name.compare(0, 5, "hint-") != 0 || name.compare(25, 4, ".dat") != 0) return false;
  uint64_t n = 0;
  for (size_t i = 5; i < 25; ++i) {
    if (name[i] < '0' || name[i] > '9') return false;
    if (n > (UINT64_MAX - 9) / 10) return false;
    n = n * 10 + static_cast<uint64_t>(name[i] - '0');
  }
  *number = n;
  return n != 0;
}

HintFile::~HintFile() {
  if (janitor != nullptr) janitor->Enqueue(HintFileName(number));
}

Status WriteHintFile(Env* env, const std::string& dir, uint64_t number, uint32_t segment_number, const char* base,
                     uint64_t from, uint64_t to, uint64_t* bytes, uint64_t* entries) {
  const std::string path = JoinPath(dir, HintFileName(number));
  FileHeader header;
  header.args[1] = static_cast<uint64_t>(BlockFileKind::kHints);
  header.args[2] = segment_number;
  header.args[3] = to;
  BlockFileWriter writer;
  TIDEKV_RETURN_IF_ERROR(writer.Open(env, path, header));
  std::string block;
  uint64_t block_number = 0, count = 0;
  Status s = ForEachRecord(base, from, to, path + " (hints of " + SegmentFileName(segment_number) + ")",
                           /*check_crc=*/false, [&](uint64_t offset, RecordView r) -> Status {
                             if (block.size() >= kHintBlockBytes) {
                               TIDEKV_RETURN_IF_ERROR(writer.Add(block_number++, block));
                               block.clear();
                             }
                             block.push_back(static_cast<char>(r.type()));
                             PutVarint32(&block, r.key_bytes());
                             block.append(r.key().data(), r.key().size());
                             PutVarint64(&block, r.link());
                             PutVarint64(&block, offset >> 3);
                             PutVarint64(&block, r.frame_bytes() >> 3);
                             ++count;
                             return Status::OK();
                           });
  if (s.ok() && !block.empty()) s = writer.Add(block_number, block);
  if (s.ok()) s = writer.Finish(bytes);
  if (!s.ok()) {
    (void)env->DeleteFile(path);
    return s;
  }
  if (entries != nullptr) *entries = count;
  return Status::OK();
}

namespace {

// Reads the blocks of a hint file (checking that their keys count up: block
// keys are not under the block CRC) and what its header says it covers.
Status ReadHintBlocks(Env* env, const std::string& dir, uint64_t number, uint32_t* segment_number, uint64_t* end,
                      const std::function<void(Slice)>& block_fn, std::unique_ptr<MappedRegion>* keep_mapping) {
  FileHeader header;
  const std::string path = JoinPath(dir, HintFileName(number));
  uint64_t expected_key = 0;
  TIDEKV_RETURN_IF_ERROR(ReadBlockFile(
      env, path, BlockFileKind::kHints, &header,
      [&](uint64_t key, Slice block) -> Status {
        if (key != expected_key++) return Status::Corruption(path + ": hint block out of sequence");
        block_fn(block);
        return Status::OK();
      },
      keep_mapping));
  if (header.args[2] == 0 || header.args[2] > UINT32_MAX) {
    return Status::Corruption(path + ": bad segment number in header");
  }
  *segment_number = static_cast<uint32_t>(header.args[2]);
  *end = header.args[3];
  return Status::OK();
}

}  // namespace

Status ReadHintFile(Env* env, const std::string& dir, uint64_t number, uint32_t* segment_number, uint64_t* end,
                    std::string* entries) {
  entries->clear();
  return ReadHintBlocks(
      env, dir, number, segment_number, end, [&](Slice block) { entries->append(block.data(), block.size()); },
      nullptr);
}

Status MapHintFile(Env* env, const std::string& dir, uint64_t number, MappedHints* hints) {
  hints->blocks.clear();
  return ReadHintBlocks(
      env, dir, number, &hints->segment_number, &hints->end, [&](Slice block) { hints->blocks.push_back(block); },
      &hints->mapping);
}

}  // namespace tidekv::appendlog
