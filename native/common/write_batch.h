// WriteBatch: a sequence of write operations applied by one Engine call.
//
// The batch owns copies of its keys and values (one growing arena), so the
// caller's buffers need not outlive Add*. Operations are applied in order;
// a later operation on the same key sees the earlier ones.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "slice.h"

namespace tidekv {

enum class MergeOp : uint8_t;

enum class BatchOpType : uint8_t {  // values cross the binding: do not renumber
  kPut = 1,
  kDelete = 2,
  kMerge = 3,
};

class WriteBatch {
 public:
  struct Op {
    BatchOpType type;
    MergeOp merge_op;  // kMerge only
    Slice key;
    Slice value;       // kPut: the value; kMerge: the operand
  };

  void Put(Slice key, Slice value) { Add(BatchOpType::kPut, MergeOp{}, key, value); }
  void Delete(Slice key) { Add(BatchOpType::kDelete, MergeOp{}, key, Slice()); }
  void Merge(Slice key, MergeOp op, Slice operand) { Add(BatchOpType::kMerge, op, key, operand); }
  void Clear() { arena_.clear(); entries_.clear(); }
  size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  size_t arena_bytes() const { return arena_.size(); }

  Op op(size_t i) const {
    const Entry& e = entries_[i];
    return Op{e.type, e.merge_op, Slice(arena_.data() + e.offset, e.key_bytes),
              Slice(arena_.data() + e.offset + e.key_bytes, e.value_bytes)};
  }

 private:
  struct Entry {
    BatchOpType type;
    MergeOp merge_op;
    uint32_t key_bytes;
    uint32_t value_bytes;
    size_t offset;
  };
  void Add(BatchOpType type, MergeOp merge_op, Slice key, Slice value) {
    entries_.push_back(Entry{type, merge_op, static_cast<uint32_t>(key.size()),
                             static_cast<uint32_t>(value.size()), arena_.size()});
    arena_.append(key);
    arena_.append(value);
  }

  std::string arena_;
  std::vector<Entry> entries_;
};

}  // namespace tidekv
