// Compaction picking on hand-built Versions: which runs merge, where the
// output goes, and when tombstones may be dropped.
#include <set>
#include <string>

#include "common/env_mem.h"
#include "common/testing.h"
#include "lsm/compaction_picker.h"

namespace tidekv::lsm {
namespace {

class Tables {
 public:
  Tables() {
    if (!env_.CreateDir("/t").ok()) testing::ReportFailure(__FILE__, __LINE__, "mkdir");
  }
  // A table holding keys lo..hi (as "k%04d"), each with a value of value_bytes.
  TableRef Make(int lo, int hi, size_t value_bytes = 10) {
    const uint64_t number = next_++;
    const std::string path = "/t/" + TableFileName(number);
    SSTableBuilder b;
    Status s = b.Open(&env_, path, number, SSTableOptions{});
    char key[16];
    for (int k = lo; s.ok() && k <= hi; ++k) {
      std::snprintf(key, sizeof key, "k%04d", k);
      s = b.Add(key, EntryKind::kValue, std::string(value_bytes, 'v'));
    }
    SSTableProperties props;
    if (s.ok()) s = b.Finish(&props);
    std::unique_ptr<SSTableReader> r;
    if (s.ok()) s = SSTableReader::Open(&env_, path, &r);
    if (!s.ok()) testing::ReportFailure(__FILE__, __LINE__, s.ToString());
    return std::make_shared<Table>(std::move(r), nullptr);
  }

 private:
  MemEnv env_;
  uint64_t next_ = 1;
};

std::set<const Table*> Removed(const CompactionJob& job) { return {job.removed.begin(), job.removed.end()}; }

TEST(CompactionPicker, NothingToDo) {
  Tables t;
  Version v;
  std::vector<size_t> cursors;
  CompactionJob job;
  EXPECT_FALSE(PickCompaction(v, PickerOptions{}, &cursors, &job));
  v.levels.resize(2);
  v.levels[0].push_back(Run{{t.Make(0, 9)}});
  v.levels[1].push_back(Run{{t.Make(0, 99)}});
  PickerOptions o;
  o.level1_bytes = 1u << 20;  // level 1 well under its limit, level 0 under its trigger
  EXPECT_FALSE(PickCompaction(v, o, &cursors, &job));
}

TEST(CompactionPicker, LeveledLevel0TakesOnlyTheOverlappingLevel1Tables) {
  Tables t;
  Version v;
  v.levels.resize(3);
  for (int i = 0; i < 4; ++i) v.levels[0].push_back(Run{{t.Make(100 + i * 10, 150 + i * 10)}});
  const TableRef below = t.Make(0, 50), inside = t.Make(120, 180), above = t.Make(300, 400);
  v.levels[1].push_back(Run{{below, inside, above}});
  PickerOptions o;
  o.runs_per_level = 4;
  o.level1_bytes = 1u << 30;
  std::vector<size_t> cursors;
  CompactionJob job;
  ASSERT_TRUE(PickCompaction(v, o, &cursors, &job));
  EXPECT_EQ(job.output_level, size_t{1});
  ASSERT_EQ(job.inputs.size(), size_t{5});  // four level-0 runs, newest first, then level 1's overlap
  EXPECT_TRUE(job.inputs[0].tables[0] == v.levels[0][0].tables[0]);
  EXPECT_EQ(job.inputs[4].tables.size(), size_t{1});
  EXPECT_TRUE(job.inputs[4].tables[0] == inside);
  const auto removed = Removed(job);
  EXPECT_EQ(removed.size(), size_t{5});
  EXPECT_FALSE(removed.count(below.get()) || removed.count(above.get()));
  EXPECT_TRUE(job.bottommost);  // nothing below level 1
  // A deeper table overlapping the range keeps the tombstones.
  v.levels[2].push_back(Run{{t.Make(140, 145)}});
  ASSERT_TRUE(PickCompaction(v, o, &cursors, &job));
  EXPECT_FALSE(job.bottommost);
  // One that does not overlap does not.
  v.levels[2][0] = Run{{t.Make(900, 950)}};
  ASSERT_TRUE(PickCompaction(v, o, &cursors, &job));
  EXPECT_TRUE(job.bottommost);
}

TEST(CompactionPicker, LeveledOversizedLevelMergesOneTableRoundRobin) {
  Tables t;
  Version v;
  v.levels.resize(3);
  v.levels[1].push_back(Run{{t.Make(0, 99, 100), t.Make(100, 199, 100), t.Make(200, 299, 100)}});
  const TableRef deep_a = t.Make(50, 150), deep_b = t.Make(250, 260);
  v.levels[2].push_back(Run{{deep_a, deep_b}});
  PickerOptions o;
  o.level1_bytes = 1000;  // far over
  o.level_size_ratio = 1000;
  std::vector<size_t> cursors;
  std::vector<const Table*> picked;
  for (int i = 0; i < 4; ++i) {
    CompactionJob job;
    ASSERT_TRUE(PickCompaction(v, o, &cursors, &job));
    EXPECT_EQ(job.output_level, size_t{2});
    ASSERT_TRUE(!job.inputs.empty());
    EXPECT_EQ(job.inputs[0].tables.size(), size_t{1});
    picked.push_back(job.inputs[0].tables[0].get());
    const Table* first = job.inputs[0].tables[0].get();
    if (first == v.levels[1][0].tables[0].get()) {
      // 0..99 overlaps deep_a only
      ASSERT_EQ(job.inputs.size(), size_t{2});
      EXPECT_TRUE(job.inputs[1].tables.size() == 1 && job.inputs[1].tables[0] == deep_a);
    }
    if (first == v.levels[1][0].tables[2].get()) {
      ASSERT_EQ(job.inputs.size(), size_t{2});
      EXPECT_TRUE(job.inputs[1].tables.size() == 1 && job.inputs[1].tables[0] == deep_b);
    }
  }
  // Round robin: each table in turn, then the first again.
  EXPECT_TRUE(picked[0] == v.levels[1][0].tables[0].get());
  EXPECT_TRUE(picked[1] == v.levels[1][0].tables[1].get());
  EXPECT_TRUE(picked[2] == v.levels[1][0].tables[2].get());
  EXPECT_TRUE(picked[3] == picked[0]);
}

TEST(CompactionPicker, SizeTieredMergesAFullLevelIntoTheNext) {
  Tables t;
  Version v;
  v.levels.resize(2);
  for (int i = 0; i < 3; ++i) v.levels[0].push_back(Run{{t.Make(i, 100 + i)}});
  v.levels[1].push_back(Run{{t.Make(0, 500)}});
  PickerOptions o;
  o.leveled = false;
  o.runs_per_level = 3;
  std::vector<size_t> cursors;
  CompactionJob job;
  ASSERT_TRUE(PickCompaction(v, o, &cursors, &job));
  EXPECT_EQ(job.output_level, size_t{1});
  EXPECT_EQ(job.inputs.size(), size_t{3});  // level 1's older run is not an input
  EXPECT_FALSE(job.bottommost);             // ... and may hold what a tombstone shadows
  v.levels[1].clear();
  ASSERT_TRUE(PickCompaction(v, o, &cursors, &job));
  EXPECT_TRUE(job.bottommost);
  // Below the trigger: nothing.
  v.levels[0].pop_back();
  EXPECT_FALSE(PickCompaction(v, o, &cursors, &job));
}

TEST(CompactionPicker, SizeTieredLastLevelMergesIntoItself) {
  Tables t;
  Version v;
  v.levels.resize(kMaxLevels);
  for (int i = 0; i < 2; ++i) v.levels[kMaxLevels - 1].push_back(Run{{t.Make(i, 10 + i)}});
  PickerOptions o;
  o.leveled = false;
  o.runs_per_level = 2;
  std::vector<size_t> cursors;
  CompactionJob job;
  ASSERT_TRUE(PickCompaction(v, o, &cursors, &job));
  EXPECT_EQ(job.output_level, kMaxLevels - 1);
  EXPECT_TRUE(job.bottommost);
}

TEST(CompactionPicker, FullCompactionTakesEverythingToTheBottom) {
  Tables t;
  Version v;
  v.levels.resize(3);
  v.levels[0].push_back(Run{{t.Make(0, 5)}});
  v.levels[2].push_back(Run{{t.Make(0, 50), t.Make(60, 70)}});
  CompactionJob job;
  PickFullCompaction(v, true, &job);
  EXPECT_TRUE(job.manual && job.bottommost);
  EXPECT_EQ(job.output_level, size_t{2});
  EXPECT_EQ(job.inputs.size(), size_t{2});
  EXPECT_EQ(job.removed.size(), size_t{3});
}

}  // namespace
}  // namespace tidekv::lsm
