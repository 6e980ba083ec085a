// Options and a model check shared by the append-log engine tests.
#pragma once

#include <map>
#include <string>

#include "appendlog/append_log.h"
#include "common/engine.h"

namespace tidekv::appendlog {

using Model = std::map<std::string, std::string>;

// 64 KiB segments and a 4 KiB write buffer: a few hundred writes seal
// segments and (at merge_dead_ratio) merge them.
inline AppendLogOptions TinyAppendLogOptions(Env* env) {
  AppendLogOptions o;
  o.env = env;
  o.segment_bytes = 64 << 10;
  o.write_buffer_bytes = 4096;
  o.merge_dead_ratio = 0.4;
  o.retain_checkpoints = 3;
  return o;
}

// "" when the engine holds exactly the model (every value, the key count)
// and verifies; else the first difference.
inline std::string DifferenceFromModel(Engine* e, const Model& m) {
  for (const auto& [k, v] : m) {
    std::string got;
    Status s = e->Get(k, &got);
    if (!s.ok()) return "key " + k + ": " + s.ToString();
    if (got != v) {
      return "key " + k + ": value differs: " + std::to_string(got.size()) + " bytes \"" + got.substr(0, 30) +
             "\" vs " + std::to_string(v.size()) + " \"" + v.substr(0, 30) + "\"";
    }
  }
  EngineStats stats;
  e->GetStats(&stats);
  if (stats.keys != m.size()) {
    return "engine has " + std::to_string(stats.keys) + " keys, model " + std::to_string(m.size());
  }
  Status v = e->Verify();
  return v.ok() ? "" : v.ToString();
}

}  // namespace tidekv::appendlog
