#include "merge.h"

#include <string_view>
#include <unordered_map>

namespace tidekv {

Status CheckAppendSize(size_t old_bytes, size_t operand_bytes, size_t max_value_bytes) {
  const size_t new_bytes = old_bytes + operand_bytes;
  if (new_bytes > max_value_bytes) {
    return Status::InvalidArgument("append would make the value " + std::to_string(new_bytes) +
                                   " bytes, over this store's limit of " + std::to_string(max_value_bytes));
  }
  return Status::OK();
}

Status CheckMergeOperand(MergeOp op, Slice operand) {
  if (op == MergeOp::kAddInt64) {
    if (operand.size() != kCounterBytes) return Status::InvalidArgument("increment operand must be 8 bytes");
    return Status::OK();
  }
  if (op == MergeOp::kAppend) return Status::OK();
  return Status::InvalidArgument("unknown merge operator");
}

Status ResolveMerge(const Slice* base, MergeOp op, Slice operand, size_t max_value_bytes, std::string* out) {
  TIDEKV_RETURN_IF_ERROR(CheckMergeOperand(op, operand));
  if (op == MergeOp::kAddInt64) {
    int64_t sum = 0;
    TIDEKV_RETURN_IF_ERROR(AddInt64(base, MergeDelta(operand), &sum));
    out->resize(kCounterBytes);
    StoreFixed64(out->data(), static_cast<uint64_t>(sum));
    return Status::OK();
  }
  const size_t base_bytes = base != nullptr ? base->size() : 0;
  TIDEKV_RETURN_IF_ERROR(CheckAppendSize(base_bytes, operand.size(), max_value_bytes));
  out->clear();
  out->reserve(base_bytes + operand.size());
  if (base != nullptr) out->append(*base);
  out->append(operand);
  return Status::OK();
}

Status ResolveBatch(const WriteBatch& batch, size_t max_value_bytes, const BatchLookup& lookup, int64_t* add_results,
                    std::vector<BatchKeyFinal>* finals) {
  finals->clear();
  std::unordered_map<std::string_view, size_t> index;  // key -> its entry in *finals
  index.reserve(batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    const WriteBatch::Op op = batch.op(i);
    auto [it, inserted] = index.try_emplace(std::string_view(op.key.data(), op.key.size()), finals->size());
    if (inserted) {
      BatchKeyFinal fresh;
      fresh.key = op.key;
      TIDEKV_RETURN_IF_ERROR(lookup(op.key, op.type == BatchOpType::kMerge, &fresh.was_live, &fresh.value));
      fresh.live = fresh.was_live;
      finals->push_back(std::move(fresh));
    }
    BatchKeyFinal& f = (*finals)[it->second];
    switch (op.type) {
      case BatchOpType::kPut:
        f.live = true;
        f.value.assign(op.value.data(), op.value.size());
        break;
      case BatchOpType::kDelete:
        f.live = false;
        f.value.clear();
        break;
      case BatchOpType::kMerge: {
        const Slice base(f.value);
        std::string next;
        TIDEKV_RETURN_IF_ERROR(ResolveMerge(f.live ? &base : nullptr, op.merge_op, op.value, max_value_bytes, &next));
        f.value = std::move(next);
        f.live = true;
        if (op.merge_op == MergeOp::kAddInt64 && add_results != nullptr) {
          add_results[i] = static_cast<int64_t>(LoadFixed64(f.value.data()));
        }
        break;
      }
    }
  }
  return Status::OK();
}

}  // namespace tidekv
