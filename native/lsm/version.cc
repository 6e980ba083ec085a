#include "lsm/version.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <set>

#include "common/varint.h"

namespace tidekv::lsm {

std::string TableFileName(uint64_t number) {
  char name[64];
  std::snprintf(name, sizeof name, "table-%020" PRIu64 ".sst", number);
  return name;
}

bool ParseTableFileName(const std::string& name, uint64_t* number) {
  if (name.size() != 30 || name.compare(0, 6, "table-") != 0 || name.compare(26, 4, ".sst") != 0) return false;
  uint64_t n = 0;
  for (size_t i = 6; i < 26; ++i) {
    if (name[i] < '0' || name[i] > '9') return false;
    n = n * 10 + static_cast<uint64_t>(name[i] - '0');
  }
  *number = n;
  return true;
}

// ---- Table, Run, Version ----

Table::Table(std::unique_ptr<SSTableReader> r, std::shared_ptr<FileJanitor> j)
    : reader(std::move(r)), janitor(std::move(j)) {}

Table::~Table() {
  if (janitor != nullptr) janitor->Enqueue(name());
}

uint64_t Run::bytes() const {
  uint64_t n = 0;
  for (const TableRef& t : tables) n += t->bytes();
  return n;
}

const Table* Run::Find(Slice key) const {
  auto it = std::lower_bound(tables.begin(), tables.end(), key,
                             [](const TableRef& t, Slice k) { return t->largest() < k; });
  if (it == tables.end() || key < (*it)->smallest()) return nullptr;
  return it->get();
}

uint64_t Version::LevelBytes(size_t level) const {
  uint64_t n = 0;
  if (level < levels.size()) {
    for (const Run& r : levels[level]) n += r.bytes();
  }
  return n;
}

size_t Version::TableCount() const {
  size_t n = 0;
  for (const auto& level : levels) {
    for (const Run& r : level) n += r.tables.size();
  }
  return n;
}

size_t Version::RunCount() const {
  size_t n = 0;
  for (const auto& level : levels) n += level.size();
  return n;
}

std::vector<TableRef> Version::AllTables() const {
  std::vector<TableRef> all;
  for (const auto& level : levels) {
    for (const Run& r : level) all.insert(all.end(), r.tables.begin(), r.tables.end());
  }
  return all;
}

bool Version::NothingDeeperOverlaps(size_t level, Slice lo, Slice hi) const {
  for (size_t l = level + 1; l < levels.size(); ++l) {
    for (const Run& r : levels[l]) {
      for (const TableRef& t : r.tables) {
        if (!(t->largest() < lo) && !(hi < t->smallest())) return false;
      }
    }
  }
  return true;
}

Status Version::Check(bool leveled) const {
  std::set<uint64_t> seen;
  for (size_t l = 0; l < levels.size(); ++l) {
    if (leveled && l > 0 && levels[l].size() > 1) {
      return Status::Corruption("lsm invariant: level " + std::to_string(l) + " holds " +
                                std::to_string(levels[l].size()) + " runs");
    }
    for (const Run& r : levels[l]) {
      if (r.tables.empty()) return Status::Corruption("lsm invariant: an empty run in level " + std::to_string(l));
      for (size_t i = 0; i < r.tables.size(); ++i) {
        const Table& t = *r.tables[i];
        if (!seen.insert(t.number()).second) {
          return Status::Corruption("lsm invariant: table " + std::to_string(t.number()) + " appears twice");
        }
        if (t.largest() < t.smallest()) return Status::Corruption("lsm invariant: a table's range is inverted");
        if (i > 0 && !(r.tables[i - 1]->largest() < t.smallest())) {
          return Status::Corruption("lsm invariant: tables " + std::to_string(r.tables[i - 1]->number()) + " and " +
                                    std::to_string(t.number()) + " of one run overlap or are out of order");
        }
      }
    }
  }
  return Status::OK();
}

// Shape: varint level count; per level: varint run count; per run: varint
// table count, then each table's number (varint).
std::string EncodeVersionShape(const Version& v) {
  std::string out;
  PutVarint64(&out, v.levels.size());
  for (const auto& level : v.levels) {
    PutVarint64(&out, level.size());
    for (const Run& r : level) {
      PutVarint64(&out, r.tables.size());
      for (const TableRef& t : r.tables) PutVarint64(&out, t->number());
    }
  }
  return out;
}

Status DecodeVersionShape(Slice bytes, const std::string& where,
                          const std::function<Status(uint64_t number, TableRef* table)>& open_table, Version* v) {
  const char* p = bytes.data();
  const char* end = p + bytes.size();
  auto next = [&](uint64_t* x) {
    p = p == nullptr ? nullptr : DecodeVarint64(p, end, x);
    return p != nullptr;
  };
  const Status malformed = Status::Corruption(where + ": the table list is malformed");
  uint64_t level_count = 0;
  if (!next(&level_count) || level_count > 64) return malformed;
  v->levels.assign(level_count, {});
  for (auto& level : v->levels) {
    uint64_t runs = 0;
    if (!next(&runs) || runs > bytes.size()) return malformed;
    for (uint64_t i = 0; i < runs; ++i) {
      uint64_t tables = 0;
      if (!next(&tables) || tables == 0 || tables > bytes.size()) return malformed;
      Run run;
      for (uint64_t j = 0; j < tables; ++j) {
        uint64_t number = 0;
        if (!next(&number)) return malformed;
        TableRef t;
        TIDEKV_RETURN_IF_ERROR(open_table(number, &t));
        run.tables.push_back(std::move(t));
      }
      level.push_back(std::move(run));
    }
  }
  if (p != end) return malformed;
  return Status::OK();
}

// ---- Run iterator ----

namespace {

class ConcatIterator final : public RunIterator {
 public:
  explicit ConcatIterator(const Run& run) : tables_(run.tables) {}

  void SeekToFirst() override { Enter(0, [](SSTableReader::Iterator& it) { it.SeekToFirst(); }); }
  void Seek(Slice target) override {
    const size_t i = FirstEndingAtOrAfter(target);
    Enter(i, [&](SSTableReader::Iterator& it) { it.Seek(target); });
  }
  void SeekToLast() override {
    if (tables_.empty()) return Reset();
    EnterBackward(tables_.size() - 1, [](SSTableReader::Iterator& it) { it.SeekToLast(); });
  }
  void SeekBefore(Slice target) override {
    size_t i = FirstEndingAtOrAfter(target);
    if (i == tables_.size()) return SeekToLast();
    EnterBackward(i, [&](SSTableReader::Iterator& it) { it.SeekBefore(target); });
  }
  bool Valid() const override { return it_ != nullptr && it_->Valid(); }
  void Next() override {
    it_->Next();
    if (!it_->Valid() && it_->status().ok()) Enter(index_ + 1, [](SSTableReader::Iterator& it) { it.SeekToFirst(); });
  }
  Slice key() const override { return it_->key(); }
  EntryKind kind() const override { return it_->kind(); }
  Slice value() const override { return it_->value(); }
  Status status() const override { return it_ == nullptr ? Status::OK() : it_->status(); }

 private:
  size_t FirstEndingAtOrAfter(Slice key) const {
    auto it = std::lower_bound(tables_.begin(), tables_.end(), key,
                               [](const TableRef& t, Slice k) { return t->largest() < k; });
    return static_cast<size_t>(it - tables_.begin());
  }
  void Reset() { it_.reset(); }
  template <typename Position>
  void Enter(size_t i, Position&& position) {
    if (i >= tables_.size()) return Reset();
    Open(i);
    position(*it_);
    // Forward: a table with nothing at or after the target hands over to the next.
    if (!it_->Valid() && it_->status().ok()) EnterFirstFrom(i + 1);
  }
  void EnterFirstFrom(size_t i) {
    for (; i < tables_.size(); ++i) {
      Open(i);
      it_->SeekToFirst();
      if (it_->Valid() || !it_->status().ok()) return;
    }
    Reset();
  }
  template <typename Position>
  void EnterBackward(size_t i, Position&& position) {
    Open(i);
    position(*it_);
    if (it_->Valid() || !it_->status().ok()) return;
    while (i-- > 0) {
      Open(i);
      it_->SeekToLast();
      if (it_->Valid() || !it_->status().ok()) return;
    }
    Reset();
  }
  void Open(size_t i) {
    index_ = i;
    it_ = std::make_unique<SSTableReader::Iterator>(tables_[i]->reader.get());
  }

  std::vector<TableRef> tables_;
  size_t index_ = 0;
  std::unique_ptr<SSTableReader::Iterator> it_;
};

}  // namespace

std::unique_ptr<RunIterator> NewRunIterator(const Run& run) { return std::make_unique<ConcatIterator>(run); }

}  // namespace tidekv::lsm
