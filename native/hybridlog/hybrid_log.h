// The hybrid-log engine, after FASTER (Chandrasekaran et al., SIGMOD 2018):
// a hash index over one logical log whose newest part lives in memory and is
// updated in place, whose older part is read-only, and whose oldest part lives
// in segment files read through mmap. See hybrid_log_impl.h for the design.
//
// This header is the engine's whole public face: options and a factory.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/engine.h"
#include "common/env.h"

namespace tidekv {

struct HybridLogOptions {
  // File system; nullptr = Env::Posix(). Must outlive the engine.
  Env* env = nullptr;
  // Bound on the in-memory log (mutable + read-only pages). The hash index is
  // extra (about 16 bytes per key; EngineStats::extra "indexBytes").
  uint64_t memory_budget_bytes = 256ull << 20;
  // Log page: the unit of flushing and eviction. A power of two between
  // kMinPageBytes and kMaxPageBytes; a record (24-byte header + key + value)
  // must fit in one page.
  uint32_t page_bytes = 4u << 20;
  // Segment file size: the unit of disk reclamation. A multiple of page_bytes.
  uint64_t segment_bytes = 64ull << 20;
  // Share of the in-memory pages that is mutable (updated in place); the rest
  // is read-only and being flushed. Clamped so at least one page is read-only.
  double mutable_fraction = 0.9;
  // Initial hash index size (power of two); it doubles when it fills.
  uint32_t index_buckets = 1u << 14;
  // Longest a compaction slice holds the engine lock.
  uint32_t compaction_slice_micros = 1000;
  // Checkpoints kept (older ones and the files only they need are deleted).
  uint32_t retain_checkpoints = 3;
  // Checkpoint by flushing the whole log (FASTER's fold-over) instead of an
  // incremental snapshot of memory. See hybrid_log_impl.h for the trade.
  bool fold_over = false;
  // On open, when the newest checkpoint fails verification: false = fail with
  // Corruption naming the file; true = fall back to the newest one that verifies.
  bool recover_latest_valid = false;
};

class HybridLog {
 public:
  // Validates options (errors name the option) and opens the engine on dir,
  // which is created if missing and locked for the engine's lifetime.
  static Status Open(const HybridLogOptions& options, const std::string& dir, std::unique_ptr<Engine>* engine);
};

}  // namespace tidekv
