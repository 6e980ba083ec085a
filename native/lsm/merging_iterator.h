// Reading several sorted runs as one: the memtables and SSTables of an LSM
// tree, newest first. For each key only the entry of the newest run that has
// it is seen; what older runs hold for that key is shadowed.
//
// Compaction uses the same walk (CompactRuns). The engine resolves merge
// operators when they are written (increment returns the new value, so it
// reads anyway), so a run's entry for a key is its whole state: a value or a
// tombstone. Merge entry kinds are reserved in the format; CompactRuns
// refuses them rather than guess how they combine.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "common/slice.h"
#include "common/status.h"
#include "lsm/sstable.h"

namespace tidekv::lsm {

// One sorted run, walked in key order (a memtable or an SSTable).
class RunIterator {
 public:
  virtual ~RunIterator() = default;
  virtual void SeekToFirst() = 0;
  virtual void Seek(Slice target) = 0;  // the first key >= target
  // Backward positioning (reverse range scans). Runs have no Prev: a reverse
  // walk seeks before the key it is on, which costs a lookup per step.
  virtual void SeekToLast() = 0;
  virtual void SeekBefore(Slice target) = 0;  // the last key < target
  virtual bool Valid() const = 0;
  virtual void Next() = 0;
  virtual Slice key() const = 0;
  virtual EntryKind kind() const = 0;
  virtual Slice value() const = 0;
  virtual Status status() const = 0;
};

// An SSTable as a RunIterator.
std::unique_ptr<RunIterator> NewTableRunIterator(const SSTableReader* table);

class MergingIterator {
 public:
  // runs[0] is the newest. The iterators are owned.
  explicit MergingIterator(std::vector<std::unique_ptr<RunIterator>> runs);

  void SeekToFirst();
  void Seek(Slice target);
  bool Valid() const { return current_ >= 0; }
  // To the next distinct key.
  void Next();
  // Backward: the last key, the last key < target, the previous distinct
  // key. Do not mix with Next() without a Seek in between.
  void SeekToLast();
  void SeekBefore(Slice target);
  void Prev();
  Slice key() const { return runs_[current_]->key(); }
  EntryKind kind() const { return runs_[current_]->kind(); }
  Slice value() const { return runs_[current_]->value(); }
  // Which run the current entry came from (0 = newest).
  size_t run() const { return static_cast<size_t>(current_); }
  // The first error of any run; Valid() is false once one is seen.
  const Status& status() const { return status_; }

 private:
  void FindCurrent(bool largest);

  std::vector<std::unique_ptr<RunIterator>> runs_;
  int current_ = -1;
  Status status_;
};

// Where a compaction's output goes decides what it may drop.
struct CompactionRules {
  // No run older than the inputs holds this key range: a tombstone shadows
  // nothing any more and is dropped (only then — dropping it earlier would
  // bring an older value back).
  bool bottommost = false;
};

// Walks `input` (already positioned, e.g. by SeekToFirst) and calls
// emit(key, kind, value) for each entry the output must keep.
template <typename Emit>
Status CompactRuns(MergingIterator* input, const CompactionRules& rules, Emit&& emit) {
  for (; input->Valid(); input->Next()) {
    if (input->kind() != EntryKind::kValue && input->kind() != EntryKind::kTombstone) {
      return Status::Corruption("compaction: a merge entry in a run (not written by this engine)");
    }
    if (input->kind() == EntryKind::kTombstone && rules.bottommost) continue;
    TIDEKV_RETURN_IF_ERROR(emit(input->key(), input->kind(), input->value()));
  }
  return input->status();
}

}  // namespace tidekv::lsm
