#include "merge.h"

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

}  // namespace tidekv
