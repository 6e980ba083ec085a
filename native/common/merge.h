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
#include <string>

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

// InvalidArgument unless operand suits op (an 8-byte delta for kAddInt64).
Status CheckMergeOperand(MergeOp op, Slice operand);
// InvalidArgument when appending operand_bytes to old_bytes would pass max_value_bytes.
Status CheckAppendSize(size_t old_bytes, size_t operand_bytes, size_t max_value_bytes);
inline int64_t MergeDelta(Slice operand) { return static_cast<int64_t>(LoadFixed64(operand.data())); }

// Applies op with operand to base (nullptr = absent) into *out: the engines
// that resolve merges at write time (LSM, append log) all go through here.
// kTypeMismatch / kOverflow from AddInt64, kInvalidArgument when the result
// would exceed max_value_bytes.
Status ResolveMerge(const Slice* base, MergeOp op, Slice operand, size_t max_value_bytes, std::string* out);

}  // namespace tidekv
