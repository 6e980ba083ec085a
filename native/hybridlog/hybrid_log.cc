#include "hybridlog/hybrid_log.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <optional>
#include <thread>
#include <unordered_map>

#include "common/hash.h"
#include "common/limits.h"
#include "common/merge.h"
#include "common/record_format.h"
#include "hybridlog/hybrid_log_impl.h"

namespace tidekv {

namespace {
bool IsPowerOfTwo(uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

Status ValidateOptions(const HybridLogOptions& o) {
  if (!IsPowerOfTwo(o.page_bytes) || o.page_bytes < kMinPageBytes || o.page_bytes > kMaxPageBytes) {
    return Status::InvalidArgument("pageBytes must be a power of two between " + std::to_string(kMinPageBytes) +
                                   " and " + std::to_string(kMaxPageBytes));
  }
  if (o.segment_bytes < o.page_bytes || o.segment_bytes % o.page_bytes != 0 || o.segment_bytes > kMaxSegmentBytes) {
    return Status::InvalidArgument("segmentBytes must be a multiple of pageBytes and at most " +
                                   std::to_string(kMaxSegmentBytes));
  }
  if (o.memory_budget_bytes < kMinMemoryPages * o.page_bytes) {
    return Status::InvalidArgument("memoryBudgetBytes must hold at least " + std::to_string(kMinMemoryPages) +
                                   " pages (" + std::to_string(kMinMemoryPages * o.page_bytes) + " bytes at pageBytes " +
                                   std::to_string(o.page_bytes) + ")");
  }
  if (o.memory_budget_bytes / o.page_bytes > kMaxMemoryPages) {
    return Status::InvalidArgument("memoryBudgetBytes / pageBytes must be at most " + std::to_string(kMaxMemoryPages) +
                                   " pages (raise pageBytes for a larger budget)");
  }
  if (!(o.mutable_fraction > 0.0 && o.mutable_fraction <= 1.0)) {
    return Status::InvalidArgument("mutableFraction must be in (0, 1]");
  }
  if (!IsPowerOfTwo(o.index_buckets) || o.index_buckets < 2 ||
      o.index_buckets > (uint64_t{1} << kMaxIndexBucketBits)) {
    return Status::InvalidArgument("indexBuckets must be a power of two between 2 and 2^" +
                                   std::to_string(kMaxIndexBucketBits));
  }
  if (o.compaction_slice_micros == 0) return Status::InvalidArgument("compactionSliceMicros must be positive");
  return Status::OK();
}
}  // namespace

Status HybridLog::Open(const HybridLogOptions& options, const std::string& dir, std::unique_ptr<Engine>* engine) {
  TIDEKV_RETURN_IF_ERROR(ValidateOptions(options));
  auto impl = std::make_unique<hlog::HybridLogEngine>();
  TIDEKV_RETURN_IF_ERROR(impl->Open(options, dir));
  *engine = std::move(impl);
  return Status::OK();
}

namespace hlog {

namespace {
constexpr size_t kValueOffset = kRecordHeaderBytes;  // + key_bytes

char* ValueIn(char* record) { return record + kValueOffset + RecordView(record).key_bytes(); }
void SetValueBytes(char* record, size_t n) {
  StoreFixed32(record + record_offset::kValueBytes, static_cast<uint32_t>(n));
}
void SetType(char* record, RecordType type) { record[record_offset::kType] = static_cast<char>(type); }
}  // namespace

HybridLogEngine::~HybridLogEngine() { (void)Close(); }

Status HybridLogEngine::Open(const HybridLogOptions& options, const std::string& dir) {
  options_ = options;
  if (options_.env == nullptr) options_.env = Env::Posix();
  dir_ = dir;
  Env* env = options_.env;
  TIDEKV_RETURN_IF_ERROR(env->CreateDir(dir));
  TIDEKV_RETURN_IF_ERROR(env->LockFile(JoinPath(dir, "LOCK"), &dir_lock_));

  // Recovers the newest checkpoint (or starts empty when there is none).
  TIDEKV_RETURN_IF_ERROR(Recover());
  max_value_bytes_ = std::min<size_t>(
      kMaxValueBytes, options_.page_bytes - kFirstAddress - kRecordHeaderBytes - kMaxKeyBytes - kRecordAlignBytes);
  return Status::OK();
}

HybridLogEngine::Lock HybridLogEngine::LockForeground() {
  Lock lock(mu_, std::try_to_lock);
  if (!lock.owns_lock()) {
    fg_waiting_.fetch_add(1, std::memory_order_relaxed);
    lock.lock();
    fg_waiting_.fetch_sub(1, std::memory_order_relaxed);
  }
  return lock;
}

HybridLogEngine::Lock HybridLogEngine::LockBackground() {
  // Let a waiting foreground call go first: std::mutex is not fair, and the
  // compaction thread would otherwise win the lock back at once.
  while (fg_waiting_.load(std::memory_order_relaxed) > 0) std::this_thread::yield();
  return Lock(mu_);
}

Status HybridLogEngine::CheckKey(Slice key) const {
  if (key.empty()) return Status::InvalidArgument("key must not be empty");
  if (key.size() > kMaxKeyBytes) {
    return Status::InvalidArgument("key of " + std::to_string(key.size()) + " bytes exceeds the limit of " +
                                   std::to_string(kMaxKeyBytes));
  }
  return Status::OK();
}

Status HybridLogEngine::CheckValue(Slice key, size_t value_bytes) const {
  TIDEKV_RETURN_IF_ERROR(CheckKey(key));
  if (value_bytes > max_value_bytes_) {
    return Status::InvalidArgument("value of " + std::to_string(value_bytes) + " bytes exceeds this store's limit of " +
                                   std::to_string(max_value_bytes_) + " (raise pageBytes for larger values)");
  }
  return Status::OK();
}

Status HybridLogEngine::FindInChain(uint64_t address, Slice key, uint64_t* found_address,
                                    const char** found_record) {
  const uint64_t begin = log_->begin();
  while (address >= begin) {  // kInvalidAddress is below every begin
    const char* record = nullptr;
    TIDEKV_RETURN_IF_ERROR(log_->Resolve(address, &record));
    // Records are 8-byte aligned, so the key may start in the header's cache
    // line or the next, and a ~100-byte value spans two or three more. Ask
    // for them now, while the header's miss is outstanding, rather than one
    // after another as the compare and the copy reach them.
    __builtin_prefetch(record + 64);
    __builtin_prefetch(record + 128);
    RecordView r(record);
    if (r.key() == key) {
      *found_address = address;
      *found_record = record;
      return Status::OK();
    }
    const uint64_t next = r.link();
    if (next >= address) {
      return Status::Corruption("hash chain link at log address " + std::to_string(address) + " points forward");
    }
    address = next;
  }
  *found_address = kInvalidAddress;
  *found_record = nullptr;
  return Status::OK();
}

Status HybridLogEngine::Lookup(Slice key, uint64_t hash, uint64_t* found_address, const char** found_record) {
  uint64_t* slot = index_->Find(hash, log_->begin());
  if (slot == nullptr) {
    *found_address = kInvalidAddress;
    *found_record = nullptr;
    return Status::OK();
  }
  return FindInChain(HashIndex::Address(*slot), key, found_address, found_record);
}

Status HybridLogEngine::GetLocked(Slice key, const char** record) {
  uint64_t address = 0;
  TIDEKV_RETURN_IF_ERROR(Lookup(key, HashKey(key), &address, record));
  if (*record != nullptr && RecordView(*record).type() != RecordType::kValue) *record = nullptr;
  return Status::OK();
}

Status HybridLogEngine::Get(Slice key, char* dst, size_t dst_capacity, size_t* value_bytes) {
  Lock lock = LockForeground();
  if (closing_) return Status::Closed("store is closed");
  TIDEKV_RETURN_IF_ERROR(CheckKey(key));
  const char* record = nullptr;
  TIDEKV_RETURN_IF_ERROR(GetLocked(key, &record));
  if (record == nullptr) return Status::NotFound("key not found");
  const Slice value = RecordView(record).value();
  *value_bytes = value.size();
  if (value.size() <= dst_capacity) std::memcpy(dst, value.data(), value.size());
  return Status::OK();
}

// Drives the prefetch pipeline over a sequence of keys: call Advance(i)
// before running operation i. `key_at(j)` returns the key of operation j.
class HybridLogEngine::Prefetcher {
 public:
  Prefetcher(HybridLogEngine* engine, size_t n) : engine_(engine), n_(n) {}
  template <typename KeyAt>
  void Advance(size_t i, KeyAt&& key_at) {
    if (i == 0) {  // fill the pipeline
      for (size_t j = 0; j < std::min(n_, kBucketAhead); ++j) StartBucket(j, key_at(j));
      for (size_t j = 0; j < std::min(n_, kRecordAhead); ++j) StartRecord(j);
    }
    if (i + kBucketAhead < n_) StartBucket(i + kBucketAhead, key_at(i + kBucketAhead));
    if (i + kRecordAhead < n_) StartRecord(i + kRecordAhead);
  }

 private:
  void StartBucket(size_t j, Slice key) {
    const uint64_t hash = HashKey(key);
    hashes_[j % kRing] = hash;
    engine_->index_->PrefetchBucket(hash);
  }
  void StartRecord(size_t j) {
    if (const uint64_t* slot = engine_->index_->Find(hashes_[j % kRing], engine_->log_->begin())) {
      engine_->log_->PrefetchRecord(HashIndex::Address(*slot));
    }
  }
  static constexpr size_t kRing = 2 * kBucketAhead;
  HybridLogEngine* engine_;
  size_t n_;
  uint64_t hashes_[kRing];
};

Status HybridLogEngine::GetMany(const Slice* keys, size_t n, GetManySink* sink) {
  Lock lock = LockForeground();
  if (closing_) return Status::Closed("store is closed");
  Prefetcher prefetcher(this, n);
  for (size_t i = 0; i < n; ++i) {
    prefetcher.Advance(i, [keys](size_t j) { return keys[j]; });
    TIDEKV_RETURN_IF_ERROR(CheckKey(keys[i]));
    const char* record = nullptr;
    TIDEKV_RETURN_IF_ERROR(GetLocked(keys[i], &record));
    bool more;
    if (record == nullptr) {
      more = sink->OnResult(i, nullptr);
    } else {
      const Slice value = RecordView(record).value();
      more = sink->OnResult(i, &value);
    }
    if (!more) break;
  }
  return Status::OK();
}

Status HybridLogEngine::Has(Slice key, bool* found) {
  Lock lock = LockForeground();
  if (closing_) return Status::Closed("store is closed");
  TIDEKV_RETURN_IF_ERROR(CheckKey(key));
  const char* record = nullptr;
  TIDEKV_RETURN_IF_ERROR(GetLocked(key, &record));
  *found = record != nullptr;
  return Status::OK();
}

Status HybridLogEngine::GrowIndexIfNeeded() {
  if (!index_->NeedsGrow()) return Status::OK();
  Status s = index_->Grow(log_->begin());
  if (s.ok()) ++index_grows_;
  // Out of memory for a larger index is not an error: the index stays
  // correct at its size, only chains get longer.
  return s.code() == StatusCode::kLimit ? Status::OK() : s;
}

template <typename Fill>
Status HybridLogEngine::AppendRecord(uint64_t* slot, Slice key, RecordType type, size_t value_bytes,
                                     size_t value_capacity, uint64_t superseded, uint64_t superseded_link,
                                     Fill&& fill) {
  const uint64_t chain_head = HashIndex::Address(*slot);
  const uint64_t link = (superseded != kInvalidAddress && superseded == chain_head) ? superseded_link : chain_head;
  const size_t frame_bytes = RecordFrameBytes(key.size(), value_capacity);
  uint64_t address = 0;
  char* dst = nullptr;
  TIDEKV_RETURN_IF_ERROR(log_->Allocate(static_cast<uint32_t>(frame_bytes), &address, &dst));
  EncodeRecordHeader(dst, type, 0, key.size(), value_bytes, frame_bytes, link);
  std::memcpy(dst + kValueOffset, key.data(), key.size());
  Status s = fill(dst + kValueOffset + key.size());
  if (!s.ok()) {
    // The frame is already in the log: leave it as an unreachable tombstone.
    SetType(dst, RecordType::kTombstone);
    SetValueBytes(dst, 0);
    return s;
  }
  index_->SetAddress(slot, address);
  ++appended_records_;
  return Status::OK();
}

Status HybridLogEngine::PutLocked(Slice key, Slice value) {
  TIDEKV_RETURN_IF_ERROR(GrowIndexIfNeeded());
  const uint64_t hash = HashKey(key);
  uint64_t* slot = nullptr;
  TIDEKV_RETURN_IF_ERROR(index_->FindOrCreate(hash, log_->begin(), &slot));
  uint64_t address = 0;
  const char* record = nullptr;
  TIDEKV_RETURN_IF_ERROR(FindInChain(HashIndex::Address(*slot), key, &address, &record));
  const bool was_live = record != nullptr && RecordView(record).type() == RecordType::kValue;
  if (record != nullptr && log_->IsMutable(address) && value.size() <= RecordView(record).value_capacity()) {
    char* m = log_->MutableRecord(address);
    std::memcpy(ValueIn(m), value.data(), value.size());
    SetValueBytes(m, value.size());
    SetType(m, RecordType::kValue);
    log_->NoteInPlaceWrite(address);
    ++in_place_updates_;
  } else {
    const uint64_t link = record != nullptr ? RecordView(record).link() : 0;
    TIDEKV_RETURN_IF_ERROR(AppendRecord(slot, key, RecordType::kValue, value.size(), value.size(), address, link,
                                        [&](char* dst) {
                                          std::memcpy(dst, value.data(), value.size());
                                          return Status::OK();
                                        }));
  }
  if (!was_live) ++keys_;
  return Status::OK();
}

Status HybridLogEngine::Put(Slice key, Slice value) {
  Lock lock = LockForeground();
  if (closing_) return Status::Closed("store is closed");
  TIDEKV_RETURN_IF_ERROR(CheckValue(key, value.size()));
  return PutLocked(key, value);
}

Status HybridLogEngine::DeleteLocked(Slice key, bool* existed) {
  *existed = false;
  uint64_t* slot = index_->Find(HashKey(key), log_->begin());
  if (slot == nullptr) return Status::OK();
  uint64_t address = 0;
  const char* record = nullptr;
  TIDEKV_RETURN_IF_ERROR(FindInChain(HashIndex::Address(*slot), key, &address, &record));
  if (record == nullptr || RecordView(record).type() != RecordType::kValue) return Status::OK();
  if (log_->IsMutable(address)) {
    char* m = log_->MutableRecord(address);
    SetType(m, RecordType::kTombstone);
    SetValueBytes(m, 0);
    log_->NoteInPlaceWrite(address);
    ++in_place_updates_;
  } else {
    // A tombstone must shadow the read-only version below it.
    const uint64_t link = RecordView(record).link();
    TIDEKV_RETURN_IF_ERROR(AppendRecord(slot, key, RecordType::kTombstone, 0, 0, address, link,
                                        [](char*) { return Status::OK(); }));
  }
  *existed = true;
  --keys_;
  return Status::OK();
}

Status HybridLogEngine::Delete(Slice key, bool* existed) {
  Lock lock = LockForeground();
  if (closing_) return Status::Closed("store is closed");
  TIDEKV_RETURN_IF_ERROR(CheckKey(key));
  return DeleteLocked(key, existed);
}

Status HybridLogEngine::MergeLocked(Slice key, MergeOp op, Slice operand, int64_t* int_result) {
  TIDEKV_RETURN_IF_ERROR(GrowIndexIfNeeded());
  uint64_t* slot = nullptr;
  TIDEKV_RETURN_IF_ERROR(index_->FindOrCreate(HashKey(key), log_->begin(), &slot));
  uint64_t address = 0;
  const char* record = nullptr;
  TIDEKV_RETURN_IF_ERROR(FindInChain(HashIndex::Address(*slot), key, &address, &record));
  const bool was_live = record != nullptr && RecordView(record).type() == RecordType::kValue;
  const bool in_place_possible = record != nullptr && log_->IsMutable(address);
  const uint64_t link = record != nullptr ? RecordView(record).link() : 0;

  if (op == MergeOp::kAddInt64) {
    const Slice current = was_live ? RecordView(record).value() : Slice();
    int64_t result = 0;
    TIDEKV_RETURN_IF_ERROR(AddInt64(was_live ? &current : nullptr, static_cast<int64_t>(LoadFixed64(operand.data())),
                                    &result));
    if (int_result != nullptr) *int_result = result;
    if (in_place_possible && RecordView(record).value_capacity() >= kCounterBytes) {
      char* m = log_->MutableRecord(address);
      StoreFixed64(ValueIn(m), static_cast<uint64_t>(result));
      SetValueBytes(m, kCounterBytes);
      SetType(m, RecordType::kValue);
      log_->NoteInPlaceWrite(address);
      ++in_place_updates_;
    } else {
      TIDEKV_RETURN_IF_ERROR(AppendRecord(slot, key, RecordType::kValue, kCounterBytes, kCounterBytes, address, link,
                                          [&](char* dst) {
                                            StoreFixed64(dst, static_cast<uint64_t>(result));
                                            return Status::OK();
                                          }));
    }
  } else if (op == MergeOp::kAppend) {
    const size_t old_bytes = was_live ? RecordView(record).value_bytes() : 0;
    const size_t new_bytes = old_bytes + operand.size();
    if (new_bytes > max_value_bytes_) {
      return Status::InvalidArgument("append would make the value " + std::to_string(new_bytes) +
                                     " bytes, over this store's limit of " + std::to_string(max_value_bytes_));
    }
    if (in_place_possible && new_bytes <= RecordView(record).value_capacity()) {
      char* m = log_->MutableRecord(address);
      std::memcpy(ValueIn(m) + old_bytes, operand.data(), operand.size());
      SetValueBytes(m, new_bytes);
      SetType(m, RecordType::kValue);
      log_->NoteInPlaceWrite(address);
      ++in_place_updates_;
    } else {
      // Room to double, so a value built by repeated appends moves O(log n)
      // times rather than on every append.
      const size_t room = was_live ? std::min(max_value_bytes_, std::max(new_bytes, 2 * old_bytes)) : new_bytes;
      TIDEKV_RETURN_IF_ERROR(AppendRecord(slot, key, RecordType::kValue, new_bytes, room, address, link,
                                          [&](char* dst) -> Status {
                                            if (old_bytes > 0) {
                                              // Allocate may have evicted the old version: look it up again.
                                              const char* old = nullptr;
                                              TIDEKV_RETURN_IF_ERROR(log_->Resolve(address, &old));
                                              std::memcpy(dst, RecordView(old).value().data(), old_bytes);
                                            }
                                            std::memcpy(dst + old_bytes, operand.data(), operand.size());
                                            return Status::OK();
                                          }));
    }
  } else {
    return Status::InvalidArgument("unknown merge operator");
  }
  if (!was_live) ++keys_;
  return Status::OK();
}

Status HybridLogEngine::Merge(Slice key, MergeOp op, Slice operand, int64_t* int_result) {
  Lock lock = LockForeground();
  if (closing_) return Status::Closed("store is closed");
  TIDEKV_RETURN_IF_ERROR(CheckKey(key));
  if (op == MergeOp::kAddInt64 && operand.size() != kCounterBytes) {
    return Status::InvalidArgument("increment operand must be 8 bytes");
  }
  return MergeLocked(key, op, operand, int_result);
}

Status HybridLogEngine::ValidateBatch(const WriteBatch& batch, bool* needs_undo) {
  if (batch.size() > kMaxBatchOps) {
    return Status::InvalidArgument("batch of " + std::to_string(batch.size()) + " operations exceeds the limit of " +
                                   std::to_string(kMaxBatchOps));
  }
  bool has_merge = false;
  for (size_t i = 0; i < batch.size(); ++i) {
    const WriteBatch::Op op = batch.op(i);
    switch (op.type) {
      case BatchOpType::kPut: TIDEKV_RETURN_IF_ERROR(CheckValue(op.key, op.value.size())); break;
      case BatchOpType::kDelete: TIDEKV_RETURN_IF_ERROR(CheckKey(op.key)); break;
      case BatchOpType::kMerge:
        TIDEKV_RETURN_IF_ERROR(CheckKey(op.key));
        if (op.merge_op != MergeOp::kAddInt64 && op.merge_op != MergeOp::kAppend) {
          return Status::InvalidArgument("unknown merge operator in batch");
        }
        if (op.merge_op == MergeOp::kAddInt64 && op.value.size() != kCounterBytes) {
          return Status::InvalidArgument("increment operand must be 8 bytes");
        }
        has_merge = true;
        break;
      default: return Status::InvalidArgument("unknown batch operation type");
    }
  }
  *needs_undo = has_merge;
  return Status::OK();
}

Status HybridLogEngine::ApplyBatch(const WriteBatch& batch, int64_t* add_results) {
  Lock lock = LockForeground();
  if (closing_) return Status::Closed("store is closed");
  bool needs_undo = false;
  TIDEKV_RETURN_IF_ERROR(ValidateBatch(batch, &needs_undo));

  // Merges can fail on the stored data (a non-counter, an overflow, a value
  // grown past the limit). A batch holding any keeps an undo log: the value
  // each key had before each operation. If a merge fails, the operations
  // before it are undone newest first, so the batch has written nothing.
  // (Replaying the batch over a copy of the touched values first was
  // measured: a hash map of strings per batch cost more than the batch.)
  struct Undo {
    Slice key;          // into the batch's arena
    bool existed;
    size_t value_offset;  // into undo_values
    size_t value_bytes;
  };
  std::vector<Undo> undo;
  std::string undo_values;
  if (needs_undo) undo.reserve(batch.size());

  Prefetcher prefetcher(this, batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    prefetcher.Advance(i, [&batch](size_t j) { return batch.op(j).key; });
    const WriteBatch::Op op = batch.op(i);
    if (needs_undo) {
      const char* record = nullptr;
      TIDEKV_RETURN_IF_ERROR(GetLocked(op.key, &record));
      const Slice old = record != nullptr ? RecordView(record).value() : Slice();
      undo.push_back(Undo{op.key, record != nullptr, undo_values.size(), old.size()});
      undo_values.append(old);
    }
    Status s;
    bool existed = false;
    switch (op.type) {
      case BatchOpType::kPut: s = PutLocked(op.key, op.value); break;
      case BatchOpType::kDelete: s = DeleteLocked(op.key, &existed); break;
      case BatchOpType::kMerge:
        s = MergeLocked(op.key, op.merge_op, op.value, add_results != nullptr ? &add_results[i] : nullptr);
        break;
    }
    if (s.ok()) continue;
    const bool merge_refused = op.type == BatchOpType::kMerge && s.code() != StatusCode::kIoError &&
                               s.code() != StatusCode::kLimit && s.code() != StatusCode::kCorruption;
    if (!merge_refused) {
      return Status(s.code(), "batch stopped at operation " + std::to_string(i) + " of " +
                                  std::to_string(batch.size()) + " (earlier ones were applied): " +
                                  std::string(s.message()));
    }
    // Operation i changed nothing (merges fail before writing): undo 0..i-1.
    for (size_t j = i; j-- > 0;) {
      const Undo& u = undo[j];
      Status r = u.existed ? PutLocked(u.key, Slice(undo_values.data() + u.value_offset, u.value_bytes))
                           : DeleteLocked(u.key, &existed);
      if (!r.ok()) {
        return Status(r.code(), "batch operation " + std::to_string(i) + " failed (" + std::string(s.message()) +
                                    ") and undoing the earlier ones failed too: " + std::string(r.message()));
      }
    }
    return Status(s.code(), "batch operation " + std::to_string(i) + ": " + std::string(s.message()) +
                                " (nothing was applied)");
  }
  return Status::OK();
}

Status HybridLogEngine::Compact(CompactionResult* result) {
  using Clock = std::chrono::steady_clock;
  std::lock_guard<std::mutex> one_at_a_time(compaction_mu_);
  *result = CompactionResult();
  uint64_t cursor, until, begin_before;
  {
    Lock lock = LockBackground();
    if (closing_) return Status::Closed("store is closed");
    begin_before = cursor = log_->begin();
    until = log_->read_only();
  }
  const uint64_t page_bytes = log_->page_bytes();
  const auto slice = std::chrono::microseconds(options_.compaction_slice_micros);
  while (cursor < until) {
    uint64_t wait_for_flush = 0;
    {
      Lock lock = LockBackground();
      const auto slice_start = Clock::now();
      if (closing_) return Status::Closed("store closed during compaction");
      if (stop_compaction_) return Status::Busy("compaction stopped: the store is being restored");
      int since_clock_check = 0;
      while (cursor < until) {
        if (++since_clock_check == 8) {
          since_clock_check = 0;
          if (Clock::now() - slice_start >= slice) break;
        }
        const uint64_t page_start = cursor & ~(page_bytes - 1);
        cursor = std::max(cursor, PagedLog::FirstRecordInPage(page_start));
        if (page_start + page_bytes - cursor < kRecordHeaderBytes) {
          cursor = page_start + page_bytes;
          continue;
        }
        const char* record = nullptr;
        TIDEKV_RETURN_IF_ERROR(log_->Resolve(cursor, &record));
        RecordView r(record);
        if (r.type() == RecordType::kPadding || r.frame_bytes() == 0) {
          cursor = page_start + page_bytes;
          continue;
        }
        const uint64_t frame_bytes = r.frame_bytes();
        if (r.type() == RecordType::kValue) {
          const Slice key = r.key();
          uint64_t* slot = index_->Find(HashKey(key), log_->begin());
          uint64_t newest = kInvalidAddress;
          const char* newest_record = nullptr;
          if (slot != nullptr) TIDEKV_RETURN_IF_ERROR(FindInChain(HashIndex::Address(*slot), key, &newest, &newest_record));
          if (newest == cursor) {
            const size_t value_bytes = r.value_bytes();
            // Copying may need a new page whose frame still waits for the
            // flush thread: end the slice and wait without the lock.
            wait_for_flush = log_->FlushNeededToAllocate(
                static_cast<uint32_t>(RecordFrameBytes(key.size(), value_bytes)));
            if (wait_for_flush != 0) break;
            // Copy the key: Allocate may evict the page `record` points into.
            const std::string key_copy(key);
            const uint64_t source = cursor;
            TIDEKV_RETURN_IF_ERROR(AppendRecord(slot, key_copy, RecordType::kValue, value_bytes, value_bytes, source,
                                                r.link(), [&](char* dst) -> Status {
                                                  const char* src = nullptr;
                                                  TIDEKV_RETURN_IF_ERROR(log_->Resolve(source, &src));
                                                  std::memcpy(dst, RecordView(src).value().data(), value_bytes);
                                                  return Status::OK();
                                                }));
            ++result->records_moved;
          }
        }
        ++result->records_scanned;
        cursor += frame_bytes;
      }
      const auto held = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - slice_start).count();
      result->longest_pause_micros = std::max<uint64_t>(result->longest_pause_micros, held);
    }
    if (wait_for_flush != 0) TIDEKV_RETURN_IF_ERROR(log_->WaitForFlush(wait_for_flush));
  }
  Lock lock = LockBackground();
  if (closing_) return Status::Closed("store closed during compaction");
  if (stop_compaction_) return Status::Busy("compaction stopped: the store is being restored");
  TIDEKV_RETURN_IF_ERROR(log_->SetBegin(until, &result->files_deleted));
  result->bytes_reclaimed = until - begin_before;
  ++compactions_;
  return Status::OK();
}

void HybridLogEngine::GetStats(EngineStats* stats) {
  Lock lock = LockForeground();
  const PagedLog::Counters c = log_->counters();
  stats->keys = keys_;
  stats->memory_bytes = log_->memory_bytes() + index_->MemoryBytes();
  stats->disk_bytes = c.disk_bytes + checkpoint_file_bytes_.load(std::memory_order_relaxed);
  stats->extra = {
      {"logMemoryBytes", log_->memory_bytes()},
      {"memoryBudgetBytes", options_.memory_budget_bytes},
      {"indexBytes", index_->MemoryBytes()},
      {"indexBuckets", index_->bucket_count()},
      {"indexOverflowBuckets", index_->overflow_bucket_count()},
      {"indexGrows", index_grows_},
      {"beginAddress", log_->begin()},
      {"headAddress", log_->head()},
      {"readOnlyAddress", log_->read_only()},
      {"tailAddress", log_->tail()},
      {"flushedUntilAddress", c.flushed_until},
      {"pagesFlushed", c.pages_flushed},
      {"pagesEvicted", c.pages_evicted},
      {"flushWaits", c.flush_waits},
      {"segments", c.segments},
      {"inPlaceUpdates", in_place_updates_},
      {"appendedRecords", appended_records_},
      {"compactions", compactions_},
      {"checkpointsInFlight", static_cast<uint64_t>(outstanding_cuts_)},
      {"segmentBytes", c.disk_bytes},
      {"checkpointFileBytes", checkpoint_file_bytes_.load(std::memory_order_relaxed)},
  };
}

Status HybridLogEngine::Verify() {
  Lock lock = LockForeground();
  if (closing_) return Status::Closed("store is closed");
  TIDEKV_RETURN_IF_ERROR(log_->CheckInvariants());
  // Walk every chain: links must fall, on-disk records must verify, and every
  // key reached must be found again by a lookup (the chain invariant).
  Status status;
  std::unordered_map<std::string, bool> keys;  // key -> visited
  index_->ForEachEntry([&](uint64_t, uint64_t entry) {
    uint64_t address = HashIndex::Address(entry);
    while (status.ok() && address >= log_->begin()) {
      const char* record = nullptr;
      status = log_->Resolve(address, &record);
      if (!status.ok()) return;
      RecordView r(record);
      if (r.type() != RecordType::kValue && r.type() != RecordType::kTombstone) {
        status = Status::Corruption("chain reaches a non-record at " + std::to_string(address));
        return;
      }
      keys.emplace(std::string(r.key()), false);
      if (r.link() >= address) {
        status = Status::Corruption("chain link points forward at " + std::to_string(address));
        return;
      }
      address = r.link();
    }
  });
  TIDEKV_RETURN_IF_ERROR(status);
  uint64_t live = 0;
  for (const auto& [key, unused] : keys) {
    const char* record = nullptr;
    TIDEKV_RETURN_IF_ERROR(GetLocked(key, &record));
    if (record != nullptr) ++live;
  }
  if (live != keys_) {
    return Status::Corruption("key count " + std::to_string(keys_) + " but chains hold " + std::to_string(live) +
                              " live keys");
  }
  return Status::OK();
}

Status HybridLogEngine::Close() {
  {
    Lock lock = LockForeground();
    closing_ = true;  // new calls fail; a running compaction stops at its next slice
  }
  std::lock_guard<std::mutex> no_compaction(compaction_mu_);
  // Checkpoints already cut are written before the store closes.
  uint64_t pending_until = 0;
  {
    Lock lock = LockForeground();
    pending_until = next_version_;
  }
  {
    std::unique_lock<std::mutex> ck(ckpt_mu_);
    ckpt_cv_.wait(ck, [&] { return next_to_write_ >= pending_until; });
  }
  Lock lock = LockForeground();
  if (closed_) return Status::OK();
  closed_ = true;
  Status s = log_->Close();
  dir_lock_.reset();
  return s;
}

}  // namespace hlog
}  // namespace tidekv
