#include "hybridlog/paged_log.h"

#include <cstring>
#include <string>
#include <vector>

#include "common/env_fault.h"
#include "common/env_mem.h"
#include "common/record_format.h"
#include "common/testing.h"

namespace tidekv::hlog {
namespace {

constexpr uint32_t kPage = 64 * 1024;

PagedLog::Options SmallLog(Env* env, uint64_t frames = 4, uint64_t mutable_pages = 2) {
  PagedLog::Options o;
  o.env = env;
  o.dir = "/log";
  o.page_bytes = kPage;
  o.segment_bytes = 4 * kPage;
  o.frame_count = frames;
  o.mutable_pages = mutable_pages;
  return o;
}

// Appends a value record of `value_bytes` filled with `fill`; returns its address.
uint64_t AppendRecord(PagedLog* log, size_t value_bytes, char fill, Status* status) {
  const std::string key = "k" + std::to_string(value_bytes) + fill;
  const size_t frame = RecordFrameBytes(key.size(), value_bytes);
  uint64_t address = 0;
  char* dst = nullptr;
  *status = log->Allocate(static_cast<uint32_t>(frame), &address, &dst);
  if (!status->ok()) return 0;
  EncodeRecordHeader(dst, RecordType::kValue, 0, key.size(), value_bytes, frame, 0);
  std::memcpy(dst + kRecordHeaderBytes, key.data(), key.size());
  std::memset(dst + kRecordHeaderBytes + key.size(), fill, value_bytes);
  return address;
}

TEST(PagedLog, MarkersMoveByWholePagesAndKeepTheirOrder) {
  MemEnv env;
  ASSERT_OK(env.CreateDir("/log"));
  PagedLog log;
  ASSERT_OK(log.Open(SmallLog(&env, 8, 4)));
  EXPECT_EQ(log.tail(), kFirstAddress);
  Status s;
  std::vector<uint64_t> addresses;
  for (int i = 0; i < 2000; ++i) {
    addresses.push_back(AppendRecord(&log, 500, static_cast<char>('a' + i % 26), &s));
    ASSERT_OK(s);
    ASSERT_OK(log.CheckInvariants());
  }
  // 2000 records of ~530 bytes fill ~16 pages: with 8 frames the oldest were evicted.
  EXPECT_TRUE(log.head() > kFirstAddress);
  EXPECT_EQ(log.head() % kPage, uint64_t{0});
  EXPECT_EQ(log.read_only() % kPage, uint64_t{0});
  EXPECT_TRUE(log.tail() - log.read_only() <= 5 * uint64_t{kPage});  // 4 mutable pages + the tail's
  EXPECT_TRUE(log.memory_bytes() <= 8 * uint64_t{kPage});
  // Records never straddle a page.
  for (uint64_t a : addresses) EXPECT_TRUE(a % kPage + RecordFrameBytes(5, 500) <= kPage);
  ASSERT_OK(log.Close());
}

TEST(PagedLog, EvictedPagesReadBackFromTheMappedSegmentWithChecksums) {
  MemEnv env;
  ASSERT_OK(env.CreateDir("/log"));
  PagedLog log;
  ASSERT_OK(log.Open(SmallLog(&env)));
  Status s;
  std::vector<uint64_t> addresses;
  for (int i = 0; i < 1000; ++i) {
    addresses.push_back(AppendRecord(&log, 300, static_cast<char>('a' + i % 26), &s));
    ASSERT_OK(s);
  }
  ASSERT_TRUE(log.head() > addresses[0]);
  for (size_t i = 0; i < addresses.size(); ++i) {
    const char* record = nullptr;
    ASSERT_OK(log.Resolve(addresses[i], &record));
    RecordView r(record);
    ASSERT_EQ(r.value_bytes(), uint32_t{300});
    ASSERT_EQ(r.value()[299], static_cast<char>('a' + i % 26));
    if (addresses[i] < log.head()) ASSERT_EQ(r.crc(), r.ComputeCrc());  // sealed by the flush thread
  }
  // A damaged byte on disk is a Corruption naming the file, not a wrong value.
  ASSERT_OK(env.FlipBit("/log/" + SegmentFileName(0), kSegmentDataOffset + addresses[0] + kRecordHeaderBytes + 3, 0));
  const char* record = nullptr;
  Status bad = log.Resolve(addresses[0], &record);
  EXPECT_EQ(bad.code(), StatusCode::kCorruption);
  EXPECT_TRUE(bad.message().find("log-0000000000.seg") != std::string_view::npos);
  ASSERT_OK(log.Close());
}

TEST(PagedLog, SegmentFilesCarryAHeaderAndTheFlushedPages) {
  MemEnv env;
  ASSERT_OK(env.CreateDir("/log"));
  PagedLog log;
  ASSERT_OK(log.Open(SmallLog(&env)));
  Status s;
  for (int i = 0; i < 1500; ++i) {
    AppendRecord(&log, 400, 'x', &s);
    ASSERT_OK(s);
  }
  ASSERT_OK(log.Close());  // drains the flush queue
  std::string contents;
  ASSERT_OK(env.ReadAll("/log/" + SegmentFileName(1), &contents));
  FileHeader header;
  ASSERT_OK(DecodeFileHeader(contents, FileType::kLogSegment, "segment 1", &header));
  EXPECT_EQ(header.args[0], uint64_t{1});
  EXPECT_EQ(header.args[1], uint64_t{4} * kPage);
  EXPECT_EQ(header.args[3], uint64_t{kPage});
  // The first record of segment 1 starts its data and verifies.
  ASSERT_OK(VerifyRecord(contents.data() + kSegmentDataOffset, kPage, "segment 1 record 0"));
}

// A checkpoint may record begin == flushed in the middle of a segment (the
// cut lowers begin to flushed). The recovered log writes pages from `flushed`
// on into that same file: it must open it, not create it afresh, or the bytes
// below `flushed` that older checkpoints need are truncated away.
TEST(PagedLog, RecoveryKeepsTheSegmentFlushedFallsInWhenBeginEqualsFlushed) {
  MemEnv env;
  ASSERT_OK(env.CreateDir("/log"));
  {
    PagedLog log;
    ASSERT_OK(log.Open(SmallLog(&env)));
    Status s;
    for (int i = 0; i < 1500; ++i) {  // ~12 pages: segment 0 is flushed whole
      AppendRecord(&log, 500, 'a', &s);
      ASSERT_OK(s);
    }
    ASSERT_OK(log.Close());
  }
  std::string before;
  ASSERT_OK(env.ReadAll("/log/" + SegmentFileName(0), &before));
  PagedLog::Recovered markers;
  markers.begin = markers.flushed = markers.tail = 2 * uint64_t{kPage};
  PagedLog log;
  ASSERT_OK(log.OpenRecovered(SmallLog(&env), markers));
  ASSERT_OK(log.FinishRecovery());
  Status s;
  for (int i = 0; i < 1500; ++i) {  // pushes pages 2.. out to segment 0 again
    AppendRecord(&log, 500, 'b', &s);
    ASSERT_OK(s);
  }
  ASSERT_OK(log.Close());
  std::string after;
  ASSERT_OK(env.ReadAll("/log/" + SegmentFileName(0), &after));
  ASSERT_TRUE(after.size() >= kSegmentDataOffset + 2 * kPage);
  EXPECT_TRUE(std::memcmp(before.data(), after.data(), kSegmentDataOffset + 2 * kPage) == 0);
}

// The segment recovery opens must be one a checkpoint names and syncs, also
// when begin == flushed inside it (compaction moved begin up to flushed): a
// power loss would otherwise leave recovery a segment with no durable header.
TEST(PagedLog, CheckpointSyncNamesTheSegmentRecoveryOpens) {
  MemEnv env;
  ASSERT_OK(env.CreateDir("/log"));
  PagedLog log;
  ASSERT_OK(log.Open(SmallLog(&env)));
  Status s;
  while (log.read_only() < 2 * uint64_t{kPage}) {  // read_only at page 2: inside segment 0
    AppendRecord(&log, 400, 'x', &s);
    ASSERT_OK(s);
  }
  const uint64_t flushed = log.read_only();
  ASSERT_TRUE(flushed % (4 * uint64_t{kPage}) != 0);
  ASSERT_OK(log.WaitForFlush(flushed));
  uint64_t deleted = 0;
  ASSERT_OK(log.SetBegin(flushed, &deleted));
  PagedLog::SyncList sync;
  std::vector<std::string> names;
  log.CollectSegmentsToSync(flushed, flushed, &sync, &names);
  ASSERT_EQ(names.size(), size_t{1});
  EXPECT_EQ(names[0], SegmentFileName(0));
  ASSERT_OK(log.SyncSegments(sync));
  ASSERT_OK(log.Close());
}

TEST(PagedLog, SetBeginDeletesOnlyWholeFlushedSegmentsBelowIt) {
  MemEnv env;
  ASSERT_OK(env.CreateDir("/log"));
  PagedLog log;
  ASSERT_OK(log.Open(SmallLog(&env)));
  Status s;
  for (int i = 0; i < 3000; ++i) {
    AppendRecord(&log, 400, 'y', &s);
    ASSERT_OK(s);
  }
  ASSERT_TRUE(log.read_only() > 8 * uint64_t{kPage});
  uint64_t deleted = 0;
  EXPECT_STATUS(log.SetBegin(log.read_only() + kPage, &deleted), kInvalidArgument);  // past read_only
  ASSERT_OK(log.SetBegin(6 * uint64_t{kPage}, &deleted));  // inside segment 1 (pages 4..7)
  EXPECT_EQ(deleted, uint64_t{1});
  EXPECT_FALSE(env.FileExists("/log/" + SegmentFileName(0)));
  EXPECT_TRUE(env.FileExists("/log/" + SegmentFileName(1)));
  EXPECT_STATUS(log.SetBegin(5 * uint64_t{kPage}, &deleted), kInvalidArgument);  // backwards
  ASSERT_OK(log.Close());
}

// A full disk stops the flush thread; the writer sees the error only when it
// needs a frame the failed page still occupies, and continues once the disk
// takes writes again.
TEST(PagedLog, FlushFailureIsReportedAndRetried) {
  MemEnv mem;
  FaultEnv env(&mem);
  ASSERT_OK(env.CreateDir("/log"));
  PagedLog log;
  ASSERT_OK(log.Open(SmallLog(&env)));
  FaultPlan plan;
  plan.path_filter = ".seg";
  plan.fail_writes_after_bytes = 2 * kPage + 100;
  env.Arm(plan);
  Status s;
  int appended = 0;
  for (; appended < 10000; ++appended) {
    AppendRecord(&log, 400, 'z', &s);
    if (!s.ok()) break;
  }
  EXPECT_EQ(s.code(), StatusCode::kIoError);
  ASSERT_OK(log.CheckInvariants());
  env.Disarm();
  for (int i = 0; i < 2000; ++i) {
    AppendRecord(&log, 400, 'z', &s);
    ASSERT_OK(s);
  }
  ASSERT_OK(log.CheckInvariants());
  ASSERT_OK(log.Close());
}

// Closing after a page write failed, once the disk has room again, retries
// the page instead of reporting the old error and dropping the queue.
TEST(PagedLog, CloseRetriesAFailedFlush) {
  MemEnv mem;
  FaultEnv env(&mem);
  ASSERT_OK(env.CreateDir("/log"));
  PagedLog log;
  ASSERT_OK(log.Open(SmallLog(&env, 8, 4)));
  FaultPlan plan;
  plan.path_filter = ".seg";
  plan.fail_writes_after_bytes = kPage / 2;  // the first page write is torn
  env.Arm(plan);
  Status s;
  for (int i = 0; i < 900; ++i) {  // ~6 pages: the first ones are queued for flushing
    AppendRecord(&log, 400, 'r', &s);
    ASSERT_OK(s);
  }
  // Page 0's write fails (and its one retry): the error is now pending.
  EXPECT_STATUS(log.WaitForFlush(kPage), kIoError);
  EXPECT_TRUE(env.faults_fired() > 0);
  env.Disarm();
  ASSERT_OK(log.Close());
  std::string contents;
  ASSERT_OK(mem.ReadAll("/log/" + SegmentFileName(0), &contents));
  ASSERT_OK(VerifyRecord(contents.data() + kSegmentDataOffset + kFirstAddress, kPage, "first record after retry"));
}

}  // namespace
}  // namespace tidekv::hlog
