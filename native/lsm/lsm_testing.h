// Options for LSM engine tests.
#pragma once

#include "lsm/lsm_engine.h"

namespace tidekv::lsm {

// Small enough that a few thousand writes flush and compact many times.
inline LsmOptions TinyLsmOptions(Env* env, LsmCompactionStyle style) {
  LsmOptions o;
  o.env = env;
  o.memory_budget_bytes = 4u << 20;
  o.memtable_bytes = 64u << 10;
  o.compaction_style = style;
  o.runs_per_level = 3;
  o.level1_bytes = 256u << 10;
  o.target_table_bytes = 64u << 10;
  o.block_bytes = 512;
  o.retain_checkpoints = 3;
  return o;
}

}  // namespace tidekv::lsm
