#include "lsm/compaction_picker.h"

#include <algorithm>
#include <string>

namespace tidekv::lsm {

void PickFullCompaction(const Version& v, bool leveled, CompactionJob* job) {
  *job = CompactionJob{};
  job->manual = true;
  for (const auto& level : v.levels) {
    for (const Run& r : level) {
      job->inputs.push_back(r);
      for (const TableRef& t : r.tables) job->removed.push_back(t.get());
    }
  }
  job->output_level = std::max<size_t>(1, v.levels.empty() ? 1 : v.levels.size() - 1);
  if (!leveled) job->output_level = std::min(job->output_level, kMaxLevels - 1);
  job->bottommost = true;
}

bool PickCompaction(const Version& v, const PickerOptions& o, std::vector<size_t>* cursors, CompactionJob* job) {
  *job = CompactionJob{};
  if (v.levels.empty()) return false;
  if (o.leveled) {
    // The level furthest over its size (level 0 counts runs).
    double best = 1.0;
    size_t pick = SIZE_MAX;
    for (size_t l = 0; l + 1 < kMaxLevels && l < v.levels.size(); ++l) {
      double score = 0;
      if (l == 0) {
        score = static_cast<double>(v.levels[0].size()) / o.runs_per_level;
      } else {
        double limit = static_cast<double>(o.level1_bytes);
        for (size_t i = 1; i < l; ++i) limit *= o.level_size_ratio;
        score = static_cast<double>(v.LevelBytes(l)) / limit;
      }
      if (score >= best) {
        best = score;
        pick = l;
      }
    }
    if (pick == SIZE_MAX) return false;
    std::string lo, hi;
    if (pick == 0) {
      for (const Run& r : v.levels[0]) {
        job->inputs.push_back(r);
        for (const TableRef& t : r.tables) job->removed.push_back(t.get());
        if (lo.empty() || r.smallest() < Slice(lo)) lo = std::string(r.smallest());
        if (hi.empty() || Slice(hi) < r.largest()) hi = std::string(r.largest());
      }
    } else {
      const Run& run = v.levels[pick][0];
      if (cursors->size() <= pick) cursors->resize(pick + 1, 0);
      const size_t i = (*cursors)[pick]++ % run.tables.size();
      const TableRef& t = run.tables[i];
      job->inputs.push_back(Run{{t}});
      job->removed.push_back(t.get());
      lo = std::string(t->smallest());
      hi = std::string(t->largest());
    }
    job->output_level = pick + 1;
    Run overlapping;
    if (job->output_level < v.levels.size()) {
      for (const Run& r : v.levels[job->output_level]) {
        for (const TableRef& t : r.tables) {
          if (!(t->largest() < Slice(lo)) && !(Slice(hi) < t->smallest())) {
            overlapping.tables.push_back(t);
            job->removed.push_back(t.get());
          }
        }
      }
    }
    if (!overlapping.tables.empty()) job->inputs.push_back(std::move(overlapping));
    // Tombstones may go only if nothing deeper holds any key of ANY input:
    // the output level's tables can reach well past the picked range.
    for (const Run& r : job->inputs) {
      if (r.smallest() < Slice(lo)) lo = std::string(r.smallest());
      if (Slice(hi) < r.largest()) hi = std::string(r.largest());
    }
    job->bottommost = v.NothingDeeperOverlaps(job->output_level, lo, hi);
    return true;
  }
  // Size-tiered: the first full level merges into one run of the next.
  for (size_t l = 0; l < v.levels.size(); ++l) {
    if (v.levels[l].size() < o.runs_per_level) continue;
    const bool last = l + 1 >= kMaxLevels;
    job->output_level = last ? l : l + 1;
    for (const Run& r : v.levels[l]) {
      job->inputs.push_back(r);
      for (const TableRef& t : r.tables) job->removed.push_back(t.get());
    }
    const bool next_empty = job->output_level >= v.levels.size() || v.levels[job->output_level].empty() || last;
    bool deeper_empty = true;
    for (size_t d = job->output_level + 1; d < v.levels.size(); ++d) deeper_empty &= v.levels[d].empty();
    job->bottommost = next_empty && deeper_empty;
    return true;
  }
  return false;
}

}  // namespace tidekv::lsm
