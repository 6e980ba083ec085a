// The LSM-tree engine: writes go to a memtable, full memtables are flushed to
// immutable SSTables by a background thread, and a second background thread
// merges SSTables down a tree of levels. Keys stay in order, so this engine
// offers range scans (Engine::NewRangeCursor). See lsm_engine.cc for the
// design; the file formats are in docs/formats/sstable.md and checkpoint.md.
//
// This header is the engine's whole public face: options and a factory.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/engine.h"
#include "common/env.h"

namespace tidekv {

enum class LsmCompactionStyle : uint8_t {
  // One sorted run per level below level 0, each level `level_size_ratio`
  // times the one above; a compaction merges one table into the overlapping
  // tables of the next level. Low read and space amplification.
  kLeveled = 1,
  // Up to `runs_per_level` runs per level; when a level is full all of its
  // runs merge into one run of the next level. Each byte is rewritten about
  // once per level: low write amplification, more runs to read.
  kSizeTiered = 2,
};

struct LsmOptions {
  // File system; nullptr = Env::Posix(). Must outlive the engine.
  Env* env = nullptr;
  // Bound on the engine's memory for data: the active memtable, the ones
  // waiting to be flushed, and a cache of table blocks that takes the rest.
  // Tables are read through mmap; the OS page cache is not counted.
  uint64_t memory_budget_bytes = 256ull << 20;
  // A memtable is frozen and flushed once it holds this many bytes. 0 = an
  // eighth of the budget, at most 64 MiB. At most max_immutable_memtables
  // wait for the flush thread; a further switch waits (a write stall).
  uint64_t memtable_bytes = 0;
  uint32_t max_immutable_memtables = 2;
  LsmCompactionStyle compaction_style = LsmCompactionStyle::kLeveled;
  // Level 0 runs (leveled) or runs of any level (size-tiered) that trigger a
  // compaction of that level.
  uint32_t runs_per_level = 4;
  // Leveled: level n+1 may hold this many times the bytes of level n.
  uint32_t level_size_ratio = 10;
  // Leveled: the size of level 1 (0 = 4 memtables).
  uint64_t level1_bytes = 0;
  // A compaction closes an output table at this size (0 = the memtable size).
  uint64_t target_table_bytes = 0;
  // Writes slow down once level 0 (leveled) or the busiest level
  // (size-tiered) holds slowdown_runs runs, and wait once it holds stop_runs.
  uint32_t slowdown_runs = 12;
  uint32_t stop_runs = 24;
  // Bloom filter bits per key (0 = no filters): about 1% false positives at 10.
  uint32_t bloom_bits_per_key = 10;
  // Data block size in bytes: the unit a read checks the CRC of.
  uint32_t block_bytes = 4096;
  // Checkpoints kept (older ones and the tables only they need are deleted).
  uint32_t retain_checkpoints = 3;
  // On open, when the newest checkpoint fails verification: false = fail with
  // Corruption naming the file; true = fall back to the newest one that verifies.
  bool recover_latest_valid = false;
};

class Lsm {
 public:
  // Validates options (errors name the option) and opens the engine on dir,
  // which is created if missing and locked for the engine's lifetime.
  static Status Open(const LsmOptions& options, const std::string& dir, std::unique_ptr<Engine>* engine);
};

}  // namespace tidekv
