#include "common/record_format.h"

#include <string>
#include <vector>

#include "common/testing.h"

namespace tidekv {
namespace {

// A sealed frame for key/value with `extra` bytes of value capacity (slack).
std::vector<char> MakeRecord(RecordType type, const std::string& key, const std::string& value,
                             size_t extra = 0, uint64_t link = 0x0123456789ABCDEFull) {
  const size_t frame = RecordFrameBytes(key.size(), value.size() + extra);
  std::vector<char> buf(frame, '\x5A');  // slack is unspecified: not zero on purpose
  EncodeRecordHeader(buf.data(), type, 0x02, key.size(), value.size(), frame, link);
  key.copy(buf.data() + kRecordHeaderBytes, key.size());
  value.copy(buf.data() + kRecordHeaderBytes + key.size(), value.size());
  SealRecord(buf.data());
  return buf;
}

TEST(RecordFormat, EncodeAndVerify) {
  auto buf = MakeRecord(RecordType::kValue, "hello", "world!!", 9);
  ASSERT_OK(VerifyRecord(buf.data(), buf.size(), "test"));
  RecordView r(buf.data());
  EXPECT_EQ(r.frame_bytes(), 48u);  // 24 + 5 + 7 + 9 = 45, aligned to 8
  EXPECT_EQ(r.type(), RecordType::kValue);
  EXPECT_EQ(r.flags(), 0x02);
  EXPECT_EQ(r.key(), "hello");
  EXPECT_EQ(r.value(), "world!!");
  EXPECT_EQ(r.value_capacity(), 19u);
  EXPECT_EQ(r.link(), 0x0123456789ABCDEFull);
  EXPECT_EQ(r.crc(), r.ComputeCrc());
  EXPECT_EQ(buf.size() % kRecordAlignBytes, 0u);
  // More bytes available than the frame is fine: the frame says where it ends.
  std::vector<char> bigger = buf;
  bigger.resize(buf.size() + 64);
  EXPECT_OK(VerifyRecord(bigger.data(), bigger.size(), "test"));
}

TEST(RecordFormat, TombstoneAndPadding) {
  auto tomb = MakeRecord(RecordType::kTombstone, "gone", "");
  EXPECT_OK(VerifyRecord(tomb.data(), tomb.size(), "test"));
  std::vector<char> pad(4096, 0);
  EncodeRecordHeader(pad.data(), RecordType::kPadding, 0, 0, 0, pad.size(), 0);
  SealRecord(pad.data());
  EXPECT_OK(VerifyRecord(pad.data(), pad.size(), "test"));
}

TEST(RecordFormat, EverySingleBitFlipIsDetected) {
  auto buf = MakeRecord(RecordType::kValue, "some-key", "some value bytes", 13);
  const size_t covered = kRecordHeaderBytes + 8 + 16;  // crc field through the end of the value
  for (size_t bit = 0; bit < covered * 8; ++bit) {
    buf[bit / 8] ^= static_cast<char>(1 << (bit % 8));
    EXPECT_STATUS(VerifyRecord(buf.data(), buf.size(), "flip"), kCorruption);
    buf[bit / 8] ^= static_cast<char>(1 << (bit % 8));
  }
  ASSERT_OK(VerifyRecord(buf.data(), buf.size(), "test"));
  // The slack is not covered: it may hold anything.
  for (size_t i = covered; i < buf.size(); ++i) buf[i] = static_cast<char>(~buf[i]);
  EXPECT_OK(VerifyRecord(buf.data(), buf.size(), "slack"));
}

TEST(RecordFormat, BadLengthsAreDetected) {
  auto buf = MakeRecord(RecordType::kValue, "key", "value", 16);
  // Truncated: fewer bytes available than the header or the frame.
  EXPECT_STATUS(VerifyRecord(buf.data(), kRecordHeaderBytes - 1, "t"), kCorruption);
  EXPECT_STATUS(VerifyRecord(buf.data(), buf.size() - 8, "t"), kCorruption);
  EXPECT_STATUS(VerifyRecord(buf.data(), 0, "t"), kCorruption);

  // Each bad header below is resealed, so the length check (not the CRC) must
  // catch it. SealRecord trusts the lengths, so the copy has room for them;
  // VerifyRecord is still told only the real frame's size.
  auto reseal = [&](auto mutate) {
    std::vector<char> b = buf;
    b.resize(buf.size() + 2048);
    mutate(b.data());
    SealRecord(b.data());
    return b;
  };
  auto value_too_long = reseal([](char* p) { StoreFixed32(p + record_offset::kValueBytes, 1000); });
  EXPECT_STATUS(VerifyRecord(value_too_long.data(), buf.size(), "t"), kCorruption);
  auto key_too_long = reseal([](char* p) { StoreFixed16(p + record_offset::kKeyBytes, 60); });
  EXPECT_STATUS(VerifyRecord(key_too_long.data(), buf.size(), "t"), kCorruption);
  auto empty_key = reseal([](char* p) { StoreFixed16(p + record_offset::kKeyBytes, 0); });
  EXPECT_STATUS(VerifyRecord(empty_key.data(), buf.size(), "t"), kCorruption);
  auto unaligned = reseal([&](char* p) { StoreFixed32(p + record_offset::kFrameBytes, buf.size() - 4); });
  EXPECT_STATUS(VerifyRecord(unaligned.data(), buf.size(), "t"), kCorruption);
  auto tiny = reseal([](char* p) { StoreFixed32(p + record_offset::kFrameBytes, 16); });
  EXPECT_STATUS(VerifyRecord(tiny.data(), buf.size(), "t"), kCorruption);
  auto huge = reseal([](char* p) { StoreFixed32(p + record_offset::kFrameBytes, 0xFFFFFFF8u); });
  EXPECT_STATUS(VerifyRecord(huge.data(), buf.size(), "t"), kCorruption);
  auto zeroed = reseal([](char* p) { p[record_offset::kType] = 0; });
  EXPECT_STATUS(VerifyRecord(zeroed.data(), buf.size(), "t"), kCorruption);
  auto unknown = reseal([](char* p) { p[record_offset::kType] = 9; });
  EXPECT_STATUS(VerifyRecord(unknown.data(), buf.size(), "t"), kCorruption);

  // A key longer than kMaxKeyBytes, even in a frame large enough to hold it.
  const std::string long_key(kMaxKeyBytes + 1, 'k');
  auto oversized = MakeRecord(RecordType::kValue, long_key, "v");
  EXPECT_STATUS(VerifyRecord(oversized.data(), oversized.size(), "t"), kCorruption);
  auto max_key = MakeRecord(RecordType::kValue, std::string(kMaxKeyBytes, 'k'), "v");
  EXPECT_OK(VerifyRecord(max_key.data(), max_key.size(), "t"));

  // All-zero memory (a never-written page) is not a record.
  std::vector<char> zeros(64, 0);
  EXPECT_STATUS(VerifyRecord(zeros.data(), zeros.size(), "t"), kCorruption);
}

TEST(RecordFormat, ErrorNamesWhere) {
  auto buf = MakeRecord(RecordType::kValue, "k", "v");
  buf[kRecordHeaderBytes] ^= 1;
  Status s = VerifyRecord(buf.data(), buf.size(), "segment-7@4096");
  EXPECT_STATUS(s, kCorruption);
  EXPECT_TRUE(s.message().find("segment-7@4096") != std::string_view::npos);
}

FileHeader SampleHeader() {
  FileHeader h;
  h.type = FileType::kLogSegment;
  h.args[0] = 7;
  h.args[1] = uint64_t{1} << 40;
  h.args[2] = 64u << 20;
  h.args[3] = 1u << 20;
  return h;
}

TEST(RecordFormat, FileHeaderRoundTrip) {
  char buf[kFileHeaderBytes];
  EncodeFileHeader(SampleHeader(), buf);
  EXPECT_EQ(std::string(buf, 8), std::string(kFileMagic, 8));
  FileHeader out;
  ASSERT_OK(DecodeFileHeader(Slice(buf, sizeof buf), FileType::kLogSegment, "seg", &out));
  EXPECT_EQ(out.type, FileType::kLogSegment);
  EXPECT_EQ(out.format_version, kFormatVersion);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(out.args[i], SampleHeader().args[i]);
  for (size_t i = 48; i < 60; ++i) EXPECT_EQ(buf[i], 0);  // reserved
}

TEST(RecordFormat, FileHeaderCorruption) {
  char good[kFileHeaderBytes];
  EncodeFileHeader(SampleHeader(), good);
  FileHeader out;
  EXPECT_STATUS(DecodeFileHeader(Slice(good, kFileHeaderBytes - 1), FileType::kLogSegment, "f", &out),
                kCorruption);

  char bad[kFileHeaderBytes];
  std::memcpy(bad, good, sizeof bad);
  bad[0] = 'T';  // bad magic
  EXPECT_STATUS(DecodeFileHeader(Slice(bad, sizeof bad), FileType::kLogSegment, "f", &out), kCorruption);

  // Every single-bit flip anywhere in the header is detected.
  for (size_t bit = 0; bit < kFileHeaderBytes * 8; ++bit) {
    std::memcpy(bad, good, sizeof bad);
    bad[bit / 8] ^= static_cast<char>(1 << (bit % 8));
    EXPECT_STATUS(DecodeFileHeader(Slice(bad, sizeof bad), FileType::kLogSegment, "f", &out), kCorruption);
  }

  FileHeader other = SampleHeader();
  other.type = static_cast<FileType>(99);  // validly sealed, wrong type
  EncodeFileHeader(other, bad);
  EXPECT_STATUS(DecodeFileHeader(Slice(bad, sizeof bad), FileType::kLogSegment, "f", &out), kCorruption);

  FileHeader future = SampleHeader();
  future.format_version = kFormatVersion + 1;
  EncodeFileHeader(future, bad);
  Status s = DecodeFileHeader(Slice(bad, sizeof bad), FileType::kLogSegment, "seg-9", &out);
  EXPECT_STATUS(s, kCorruption);
  EXPECT_TRUE(s.message().find("seg-9") != std::string_view::npos);

  FileHeader zero_version = SampleHeader();
  zero_version.format_version = 0;
  EncodeFileHeader(zero_version, bad);
  EXPECT_STATUS(DecodeFileHeader(Slice(bad, sizeof bad), FileType::kLogSegment, "f", &out), kCorruption);
}

}  // namespace
}  // namespace tidekv
