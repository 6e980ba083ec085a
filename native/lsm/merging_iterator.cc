#include "lsm/merging_iterator.h"

namespace tidekv::lsm {

namespace {

class TableRunIterator final : public RunIterator {
 public:
  explicit TableRunIterator(const SSTableReader* table) : it_(table) {}
  void SeekToFirst() override { it_.SeekToFirst(); }
  void Seek(Slice target) override { it_.Seek(target); }
  void SeekToLast() override { it_.SeekToLast(); }
  void SeekBefore(Slice target) override { it_.SeekBefore(target); }
  bool Valid() const override { return it_.Valid(); }
  void Next() override { it_.Next(); }
  Slice key() const override { return it_.key(); }
  EntryKind kind() const override { return it_.kind(); }
  Slice value() const override { return it_.value(); }
  Status status() const override { return it_.status(); }

 private:
  SSTableReader::Iterator it_;
};

}  // namespace

std::unique_ptr<RunIterator> NewTableRunIterator(const SSTableReader* table) {
  return std::make_unique<TableRunIterator>(table);
}

MergingIterator::MergingIterator(std::vector<std::unique_ptr<RunIterator>> runs) : runs_(std::move(runs)) {}

void MergingIterator::SeekToFirst() {
  status_ = Status::OK();
  for (auto& r : runs_) r->SeekToFirst();
  FindCurrent(/*largest=*/false);
}

void MergingIterator::Seek(Slice target) {
  status_ = Status::OK();
  for (auto& r : runs_) r->Seek(target);
  FindCurrent(/*largest=*/false);
}

void MergingIterator::Next() {
  if (current_ < 0) return;
  // Every run positioned on this key moves past it: older ones are shadowed.
  const std::string key(runs_[current_]->key());
  for (auto& r : runs_) {
    if (r->Valid() && r->key() == Slice(key)) r->Next();
  }
  FindCurrent(/*largest=*/false);
}

void MergingIterator::SeekToLast() {
  status_ = Status::OK();
  for (auto& r : runs_) r->SeekToLast();
  FindCurrent(/*largest=*/true);
}

void MergingIterator::SeekBefore(Slice target) {
  status_ = Status::OK();
  for (auto& r : runs_) r->SeekBefore(target);
  FindCurrent(/*largest=*/true);
}

void MergingIterator::Prev() {
  if (current_ < 0) return;
  // Runs on this key step before it; the others already sit on their last
  // key below it.
  const std::string key(runs_[current_]->key());
  for (auto& r : runs_) {
    if (r->Valid() && r->key() == Slice(key)) r->SeekBefore(key);
  }
  FindCurrent(/*largest=*/true);
}

// The smallest (forward) or largest (backward) key among the runs; on a tie
// the newest run (lowest index). A linear scan: an LSM tree reads a handful of
// runs, where a heap buys nothing.
void MergingIterator::FindCurrent(bool largest) {
  current_ = -1;
  for (size_t i = 0; i < runs_.size(); ++i) {
    RunIterator& r = *runs_[i];
    if (!r.Valid()) {
      Status s = r.status();
      if (!s.ok()) {
        if (status_.ok()) status_ = s;
        current_ = -1;
        return;
      }
      continue;
    }
    const bool better = current_ < 0 || (largest ? runs_[current_]->key() < r.key() : r.key() < runs_[current_]->key());
    if (better) current_ = static_cast<int>(i);
  }
}

}  // namespace tidekv::lsm
