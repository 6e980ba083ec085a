// Segment files and the writer: records read back from the buffer and through
// the mapping, large records written past the buffer, sealing, reopening,
// and damaged frames reported as Corruption (suite Segment); hint files
// written from a segment and read back, and damage to them (suite HintFile).
#include <map>
#include <string>
#include <vector>

#include "appendlog/hint_file.h"
#include "appendlog/segment.h"
#include "common/env_mem.h"
#include "common/testing.h"

namespace tidekv::appendlog {
namespace {

std::string Value(uint64_t i, size_t n) {
  std::string v(n, '\0');
  for (size_t k = 0; k < n; ++k) v[k] = static_cast<char>('a' + (i * 31 + k) % 26);
  return v;
}

struct Written {
  uint64_t offset;
  std::string key, value;
  RecordType type;
  uint64_t seq;
};

// Appends n records of mixed sizes (some larger than half the buffer).
std::vector<Written> Fill(SegmentWriter* w, size_t n, uint64_t* rng) {
  std::vector<Written> out;
  for (size_t i = 0; i < n; ++i) {
    Written r;
    r.key = "key" + std::to_string(i);
    const uint64_t pick = testing::SplitMix(rng) % 10;
    r.type = pick == 0 ? RecordType::kTombstone : RecordType::kValue;
    r.value = r.type == RecordType::kTombstone ? "" : Value(i, pick == 1 ? 3000 : testing::SplitMix(rng) % 200);
    r.seq = 100 + i;
    if (!w->Fits(RecordFrameBytes(r.key.size(), r.value.size()))) break;
    Status s = w->Append(r.type, r.key, r.value, r.seq, &r.offset);
    if (!s.ok()) {
      testing::ReportFailure(__FILE__, __LINE__, s.ToString());
      break;
    }
    out.push_back(r);
  }
  return out;
}

void ExpectRecords(const char* base, uint64_t length, const std::vector<Written>& want) {
  size_t i = 0;
  Status s = ForEachRecord(base, kFileHeaderBytes, length, "seg", true, [&](uint64_t offset, RecordView r) -> Status {
    if (i >= want.size()) return Status::Corruption("more records than written");
    const Written& w = want[i++];
    if (offset != w.offset || r.key() != Slice(w.key) || r.value() != Slice(w.value) || r.type() != w.type ||
        r.link() != w.seq) {
      return Status::Corruption("record " + std::to_string(i - 1) + " differs");
    }
    return Status::OK();
  });
  EXPECT_OK(s);
  EXPECT_EQ(i, want.size());
}

TEST(Segment, RecordsReadBackFromBufferMappingAndAfterReopen) {
  MemEnv env;
  ASSERT_OK(env.CreateDir("/d"));
  auto janitor = std::make_shared<FileJanitor>(&env, "/d");
  uint64_t rng = testing::TestSeed();
  SegmentRef seg;
  ASSERT_OK(Segment::Create(&env, "/d", 3, 256 << 10, janitor, &seg));
  EXPECT_EQ(seg->name(), "seg-00000000000000000003.log");
  SegmentWriter w(4096);
  w.Reset(seg);
  std::vector<Written> all = Fill(&w, 400, &rng);
  ASSERT_TRUE(all.size() > 50);
  // Every record reads back, whether still buffered or written out.
  bool saw_buffered = false, saw_flushed = false;
  for (const Written& r : all) {
    const RecordView v(w.RecordAt(r.offset));
    EXPECT_TRUE(v.key() == Slice(r.key));
    EXPECT_TRUE(v.value() == Slice(r.value));
    (w.InBuffer(r.offset) ? saw_buffered : saw_flushed) = true;
  }
  EXPECT_TRUE(saw_buffered && saw_flushed);
  ASSERT_OK(w.Flush());
  ExpectRecords(seg->base(), w.length(), all);
  // Sealed: cut to its length; reopened: the same records.
  const uint64_t length = w.length();
  ASSERT_OK(seg->Resize(length));
  ASSERT_OK(seg->file()->Sync());
  seg.reset();  // the janitor is not started: the file stays
  SegmentRef again;
  ASSERT_OK(Segment::Open(&env, "/d", 3, length, nullptr, &again));
  ExpectRecords(again->base(), length, all);
  EXPECT_STATUS(Segment::Open(&env, "/d", 3, length + 8, nullptr, &again), kCorruption);
  // A header naming another segment is refused.
  ASSERT_OK(env.RenameFile("/d/" + SegmentFileName(3), "/d/" + SegmentFileName(4)));
  EXPECT_STATUS(Segment::Open(&env, "/d", 4, length, nullptr, &again), kCorruption);
}

TEST(Segment, DamagedFramesAreCorruptionNamingTheOffset) {
  MemEnv env;
  ASSERT_OK(env.CreateDir("/d"));
  SegmentRef seg;
  ASSERT_OK(Segment::Create(&env, "/d", 1, 64 << 10, nullptr, &seg));
  SegmentWriter w(8192);
  w.Reset(seg);
  uint64_t rng = 7;
  std::vector<Written> all = Fill(&w, 40, &rng);
  ASSERT_OK(w.Flush());
  const uint64_t length = w.length();
  ExpectRecords(seg->base(), length, all);
  const std::string path = "/d/" + SegmentFileName(1);
  // A flipped bit in a value: the CRC catches it.
  ASSERT_OK(env.FlipBit(path, all[5].offset + kRecordHeaderBytes + all[5].key.size(), 2));
  Status s = ForEachRecord(seg->base(), kFileHeaderBytes, length, path, true,
                           [](uint64_t, RecordView) { return Status::OK(); });
  EXPECT_STATUS(s, kCorruption);
  EXPECT_TRUE(std::string(s.message()).find(std::to_string(all[5].offset)) != std::string::npos);
  // Without the CRC check (hints read keys only) the walk goes on.
  EXPECT_OK(ForEachRecord(seg->base(), kFileHeaderBytes, length, path, false,
                          [](uint64_t, RecordView) { return Status::OK(); }));
  // A frame length running past the end.
  EXPECT_STATUS(ForEachRecord(seg->base(), kFileHeaderBytes, all[3].offset + 8, path, false,
                              [](uint64_t, RecordView) { return Status::OK(); }),
                kCorruption);
}

TEST(HintFile, RoundTripsEveryRecordAndRefusesDamage) {
  MemEnv env;
  ASSERT_OK(env.CreateDir("/d"));
  SegmentRef seg;
  ASSERT_OK(Segment::Create(&env, "/d", 9, 1 << 20, nullptr, &seg));
  SegmentWriter w(1 << 16);
  w.Reset(seg);
  uint64_t rng = testing::TestSeed() + 1;
  std::vector<Written> all = Fill(&w, 3000, &rng);  // several hint blocks
  ASSERT_OK(w.Flush());
  // Hints of a middle range only.
  const size_t from = 100, to = all.size() - 100;
  uint64_t bytes = 0, entries = 0;
  ASSERT_OK(WriteHintFile(&env, "/d", 5, 9, seg->base(), all[from].offset, all[to].offset, &bytes, &entries));
  EXPECT_EQ(entries, to - from);
  uint64_t size = 0;
  ASSERT_OK(env.FileSize("/d/" + HintFileName(5), &size));
  EXPECT_EQ(size, bytes);
  uint32_t segment = 0;
  uint64_t end = 0;
  std::string blob;
  ASSERT_OK(ReadHintFile(&env, "/d", 5, &segment, &end, &blob));
  EXPECT_EQ(segment, 9u);
  EXPECT_EQ(end, all[to].offset);
  size_t i = from;
  ASSERT_OK(ForEachHint(Slice(blob), "hints", [&](const HintEntry& e) -> Status {
    const Written& r = all[i++];
    const RecordView v(seg->base() + r.offset);
    if (e.key != Slice(r.key) || e.offset != r.offset || e.seq != r.seq || e.type != r.type ||
        e.frame_bytes != v.frame_bytes()) {
      return Status::Corruption("hint " + std::to_string(i - 1) + " differs");
    }
    return Status::OK();
  }));
  EXPECT_EQ(i, to);
  // Any flipped bit fails the read (header, block keys and lengths, block
  // CRCs, footer): every byte of the file header and first block header, a
  // sample of the rest, and the footer.
  std::vector<uint64_t> offsets;
  for (uint64_t o = 0; o < 96; ++o) offsets.push_back(o);
  for (uint64_t o = 96; o < bytes - 32; o += 997) offsets.push_back(o);
  for (uint64_t o = bytes - 32; o < bytes; ++o) offsets.push_back(o);
  for (uint64_t offset : offsets) {
    ASSERT_OK(env.FlipBit("/d/" + HintFileName(5), offset, 1));
    Status damaged = ReadHintFile(&env, "/d", 5, &segment, &end, &blob);
    if (damaged.code() != StatusCode::kCorruption) {
      testing::ReportFailure(__FILE__, __LINE__, "a flip at byte " + std::to_string(offset) + " read as " + damaged.ToString());
    }
    ASSERT_OK(env.FlipBit("/d/" + HintFileName(5), offset, 1));
  }
  ASSERT_OK(ReadHintFile(&env, "/d", 5, &segment, &end, &blob));
  // A truncated file too.
  std::string contents;
  ASSERT_OK(env.ReadAll("/d/" + HintFileName(5), &contents));
  ASSERT_OK(env.Overwrite("/d/" + HintFileName(5), contents.substr(0, contents.size() - 40)));
  EXPECT_STATUS(ReadHintFile(&env, "/d", 5, &segment, &end, &blob), kCorruption);
  // Malformed entries inside a sound file.
  EXPECT_STATUS(ForEachHint(Slice("\x09\x01k\x01\x01\x01", 6), "x", [](const HintEntry&) { return Status::OK(); }),
                kCorruption);
  EXPECT_STATUS(ForEachHint(Slice("\x01\x05k", 3), "x", [](const HintEntry&) { return Status::OK(); }), kCorruption);
}

TEST(HintFile, NamesParse) {
  uint64_t n = 0;
  uint32_t s = 0;
  EXPECT_TRUE(ParseHintFileName(HintFileName(42), &n) && n == 42);
  EXPECT_TRUE(ParseSegmentFileName(SegmentFileName(7), &s) && s == 7);
  EXPECT_FALSE(ParseHintFileName("hint-0000000000000000004x.dat", &n));
  EXPECT_FALSE(ParseSegmentFileName("seg-99999999999999999999.log", &s));  // past u32
  EXPECT_FALSE(ParseSegmentFileName("table-00000000000000000001.sst", &s));
}

}  // namespace
}  // namespace tidekv::appendlog
