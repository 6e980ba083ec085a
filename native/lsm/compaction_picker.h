// Compaction picking: which runs of a Version to merge next, and where the
// output goes. Pure functions of the Version, so they are unit-tested without
// an engine (compaction_picker_test.cc).
//
// Leveled: the level furthest over its limit goes first (level 0 counts runs
// against runs_per_level; level n >= 1 its bytes against level1_bytes ×
// level_size_ratio^(n-1)). Level 0 merges all its runs with the overlapping
// tables of level 1; a level n >= 1 merges one table (round robin through the
// level) with the overlapping tables of level n+1.
// Size-tiered: the first level holding runs_per_level runs merges them all
// into one run, the newest of the next level (the last level merges into itself).
//
// A job is `bottommost` when nothing deeper than its output can hold its keys:
// only then may it drop tombstones (CompactionRules).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "lsm/version.h"

namespace tidekv::lsm {

inline constexpr size_t kMaxLevels = 8;

struct CompactionJob {
  size_t output_level = 0;
  std::vector<Run> inputs;            // newest first
  std::vector<const Table*> removed;  // what the output replaces
  bool bottommost = false;
  bool manual = false;  // compact(): everything into one run
};

struct PickerOptions {
  bool leveled = true;
  uint32_t runs_per_level = 4;
  uint32_t level_size_ratio = 10;
  uint64_t level1_bytes = 0;
};

// False when no level needs a compaction. cursors: the round-robin position
// per level (leveled), kept by the caller between picks.
bool PickCompaction(const Version& v, const PickerOptions& o, std::vector<size_t>* cursors, CompactionJob* job);
// Every run into one bottommost run (compact()).
void PickFullCompaction(const Version& v, bool leveled, CompactionJob* job);

}  // namespace tidekv::lsm
