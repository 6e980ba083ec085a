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
#include <functional>
#include <string>
#include <vector>

#include "slice.h"
#include "status.h"
#include "write_batch.h"

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

// A key's state after a whole batch, computed without writing: engines that
// resolve merges at write time (LSM, append log) check a batch with merges
// this way, so an operation that fails on the stored data (a type mismatch,
// an overflow, a value over the limit) fails it before anything changed.
struct BatchKeyFinal {
  Slice key;  // points into the batch
  bool was_live = false;
  bool live = false;
  std::string value;  // the final value when live
};
// Reports a key's state before the batch: *live, and *value when want_value
// (the key's first operation is a merge) and the key is live.
using BatchLookup = std::function<Status(Slice key, bool want_value, bool* live, std::string* value)>;
// *finals: one per distinct key, in order of first appearance. add_results
// (when not null) receives each kAddInt64 operation's new counter at its index.
Status ResolveBatch(const WriteBatch& batch, size_t max_value_bytes, const BatchLookup& lookup, int64_t* add_results,
                    std::vector<BatchKeyFinal>* finals);

}  // namespace tidekv
