// Native merge operators: the read-modify-write functions engines run next to
// the data (in place in the hybrid log's mutable region).
//
// Semantics (shared by every engine, so they cannot drift):
//   kAddInt64  value is an 8-byte little-endian signed counter; an absent key
//              counts as 0. A present value of another size is kTypeMismatch;
//              a sum outside int64 is kOverflow and changes nothing.
//   kAppend    value = current value (absent = empty) followed by the operand.
#pragma once

#include <cstdint>

#include "slice.h"
#include "status.h"

namespace tidekv {

enum class MergeOp : uint8_t {  // values cross the binding: do not renumber
  kAddInt64 = 1,
  kAppend = 2,
};

inline constexpr size_t kCounterBytes = 8;

// Computes the new counter from the current value (nullptr = absent).
inline Status AddInt64(const Slice* current, int64_t delta, int64_t* result) {
  int64_t base = 0;
  if (current != nullptr) {
    if (current->size() != kCounterBytes) {
      return Status::TypeMismatch("increment: the stored value is " + std::to_string(current->size()) +
                                  " bytes, not an 8-byte int64 counter");
    }
    base = static_cast<int64_t>(LoadFixed64(current->data()));
  }
  if (__builtin_add_overflow(base, delta, result)) {
    return Status::Overflow("increment: " + std::to_string(base) + " + " + std::to_string(delta) +
                            " overflows int64");
  }
  return Status::OK();
}

}  // namespace tidekv
