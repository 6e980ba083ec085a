// The LSM tree's shape: which SSTables hold the state, in which levels and
// runs. A Version is immutable; every flush, compaction and restore installs
// a new one. Readers, range cursors and checkpoints hold a VersionRef, and a
// table file is deleted only when no Version, checkpoint or cursor refers to
// it any more (Table's destructor hands it to the FileJanitor).
//
//   levels[0]      runs of one table each, newest first (flushed memtables)
//   levels[1..]    leveled: one run per level, non-overlapping tables
//                  size-tiered: up to runs_per_level runs, newest first
//
// A run is a list of tables sorted by key whose key ranges do not overlap:
// it reads as one sorted file. Within a level the newest run wins; a level
// is newer than every level below it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/env.h"
#include "common/file_janitor.h"
#include "common/slice.h"
#include "common/status.h"
#include "lsm/merging_iterator.h"
#include "lsm/sstable.h"

namespace tidekv::lsm {

// "table-<20 digits>.sst"
std::string TableFileName(uint64_t number);
bool ParseTableFileName(const std::string& name, uint64_t* number);

struct Table {
  Table(std::unique_ptr<SSTableReader> r, std::shared_ptr<FileJanitor> j);
  ~Table();
  Table(const Table&) = delete;
  Table& operator=(const Table&) = delete;

  uint64_t number() const { return reader->properties().file_number; }
  uint64_t bytes() const { return reader->properties().file_bytes; }
  Slice smallest() const { return reader->properties().smallest; }
  Slice largest() const { return reader->properties().largest; }
  std::string name() const { return TableFileName(number()); }

  std::unique_ptr<SSTableReader> reader;
  std::shared_ptr<FileJanitor> janitor;
};
using TableRef = std::shared_ptr<const Table>;

struct Run {
  std::vector<TableRef> tables;  // sorted by key, ranges disjoint
  uint64_t bytes() const;
  // The table whose range holds key, or nullptr.
  const Table* Find(Slice key) const;
  Slice smallest() const { return tables.front()->smallest(); }
  Slice largest() const { return tables.back()->largest(); }
};

struct Version {
  std::vector<std::vector<Run>> levels;  // levels[l]: runs, newest first

  uint64_t LevelBytes(size_t level) const;
  size_t TableCount() const;
  size_t RunCount() const;
  // Every table, each once.
  std::vector<TableRef> AllTables() const;
  // False when some table in a level deeper than `level` overlaps [lo, hi].
  bool NothingDeeperOverlaps(size_t level, Slice lo, Slice hi) const;
  // Checks the structure: runs sorted and disjoint, at most one run per
  // level below 0 when leveled. Corruption describing the first violation.
  Status Check(bool leveled) const;
};
using VersionRef = std::shared_ptr<const Version>;

// The version's shape as bytes for a checkpoint manifest, and back (tables
// are looked up by number through open_table).
std::string EncodeVersionShape(const Version& v);
Status DecodeVersionShape(Slice bytes, const std::string& where,
                          const std::function<Status(uint64_t number, TableRef* table)>& open_table, Version* v);

// A run read as one sorted sequence (the tables are kept alive).
std::unique_ptr<RunIterator> NewRunIterator(const Run& run);

}  // namespace tidekv::lsm
