// Helpers for tests that drive an Engine directly (any engine).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/engine.h"

namespace tidekv::testing {

// Takes a checkpoint (cut and write) on this thread.
inline Status Checkpoint(Engine* e, CheckpointInfo* info = nullptr, const std::string& meta = "") {
  std::shared_ptr<CheckpointTicket> ticket;
  CheckpointRequest request;
  request.meta = meta;
  TIDEKV_RETURN_IF_ERROR(e->BeginCheckpoint(request, &ticket));
  CheckpointInfo ignored;
  return e->FinishCheckpoint(ticket, info != nullptr ? info : &ignored);
}

// An engine-specific counter of GetStats (EngineStats::extra); 0 when absent.
inline uint64_t StatValue(Engine* e, const std::string& name) {
  EngineStats stats;
  e->GetStats(&stats);
  for (const auto& [n, v] : stats.extra) {
    if (n == name) return v;
  }
  return 0;
}

}  // namespace tidekv::testing
