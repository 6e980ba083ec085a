// The append-log engine, after Bitcask: every write appends a record to the
// active segment file, and an in-memory key directory says where each key's
// newest record is. Reads are one directory probe and one read through mmap;
// a background merge rewrites the live records of segments that are mostly
// dead. See append_log_impl.h for the design; formats in
// docs/formats/appendlog.md.
//
// This header is the engine's whole public face: options and a factory.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/engine.h"
#include "common/env.h"

namespace tidekv {

struct AppendLogOptions {
  // File system; nullptr = Env::Posix(). Must outlive the engine.
  Env* env = nullptr;
  // A segment file is closed (sealed) and a new one started when the next
  // record would pass this size. A record larger than this gets a segment
  // of its own. From 64 KiB to 4 GiB.
  uint64_t segment_bytes = 64ull << 20;
  // The background merge rewrites a sealed segment once this share of its
  // bytes is dead (overwritten, deleted), in (0, 1].
  double merge_dead_ratio = 0.5;
  // false: no background merge (Compact() still merges).
  bool background_merge = true;
  // Records are appended through a buffer of this size (also the unit of a
  // merge's writes). Writing it out is a pause of the writing call (about
  // 1.5 ms per MiB). 0 = memory_budget_bytes / 256, 64 KiB .. 1 MiB.
  uint64_t write_buffer_bytes = 0;
  // The buffer is taken from this budget. The key directory (16 bytes a slot,
  // at most 3/4 full: 21-43 bytes a key, stats().indexBytes) is not bounded
  // by it: keys must fit in memory, values need not.
  uint64_t memory_budget_bytes = 256ull << 20;
  // Checkpoints kept (older ones and the files only they need are deleted).
  uint32_t retain_checkpoints = 3;
  // On open, when the newest checkpoint fails verification: false = fail with
  // Corruption naming the file; true = fall back to the newest one that verifies.
  bool recover_latest_valid = false;
};

class AppendLog {
 public:
  // Validates options (errors name the option) and opens the engine on dir,
  // which is created if missing and locked for the engine's lifetime.
  static Status Open(const AppendLogOptions& options, const std::string& dir, std::unique_ptr<Engine>* engine);
};

}  // namespace tidekv
