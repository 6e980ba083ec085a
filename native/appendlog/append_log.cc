// The append log's foreground: options, open and close, point operations,
// batches, stats and verification. The design is in append_log_impl.h.
#include <algorithm>
#include <cstring>

#include "appendlog/append_log_impl.h"
#include "common/hash.h"
#include "common/limits.h"

namespace tidekv {

namespace {

Status ValidateOptions(const AppendLogOptions& o) {
  if (o.segment_bytes < (64u << 10) || o.segment_bytes > kMaxSegmentBytes) {
    return Status::InvalidArgument("option segmentBytes must be from 64 KiB to 4 GiB, got " +
                                   std::to_string(o.segment_bytes));
  }
  if (!(o.merge_dead_ratio > 0 && o.merge_dead_ratio <= 1)) {
    return Status::InvalidArgument("option mergeDeadRatio must be in (0, 1]");
  }
  if (o.write_buffer_bytes != 0 && (o.write_buffer_bytes < 4096 || o.write_buffer_bytes > (256u << 20))) {
    return Status::InvalidArgument("write buffer must be from 4 KiB to 256 MiB");
  }
  if (o.memory_budget_bytes < (1u << 20)) {
    return Status::InvalidArgument("option memoryBudgetBytes must be at least 1 MiB for engine 'appendlog'");
  }
  if (o.retain_checkpoints < 1 || o.retain_checkpoints > kMaxRetainedCheckpoints) {
    return Status::InvalidArgument("option retainCheckpoints must be from 1 to " +
                                   std::to_string(kMaxRetainedCheckpoints));
  }
  return Status::OK();
}

Status CheckKey(Slice key) {
  if (key.empty() || key.size() > kMaxKeyBytes) {
    return Status::InvalidArgument("key must be 1.." + std::to_string(kMaxKeyBytes) + " bytes, got " +
                                   std::to_string(key.size()));
  }
  return Status::OK();
}

Status CheckValue(Slice value) {
  if (value.size() > kMaxValueBytes) {
    return Status::InvalidArgument("value is " + std::to_string(value.size()) + " bytes, over the limit of " +
                                   std::to_string(kMaxValueBytes));
  }
  return Status::OK();
}

}  // namespace

Status AppendLog::Open(const AppendLogOptions& options, const std::string& dir, std::unique_ptr<Engine>* engine) {
  TIDEKV_RETURN_IF_ERROR(ValidateOptions(options));
  auto impl = std::make_unique<appendlog::AppendLogEngine>();
  Status s = impl->Open(options, dir);
  if (!s.ok()) {
    (void)impl->Close();
    return s;
  }
  *engine = std::move(impl);
  return Status::OK();
}

namespace appendlog {

AppendLogEngine::~AppendLogEngine() { (void)Close(); }

Status AppendLogEngine::Open(const AppendLogOptions& options, const std::string& dir) {
  options_ = options;
  env_ = options_.env != nullptr ? options_.env : Env::Posix();
  options_.env = env_;
  dir_ = dir;
  write_buffer_bytes_ = options_.write_buffer_bytes != 0
                            ? options_.write_buffer_bytes
                            : std::clamp<uint64_t>(options_.memory_budget_bytes / 256, 64u << 10, 1u << 20);
  writer_ = SegmentWriter(write_buffer_bytes_);
  TIDEKV_RETURN_IF_ERROR(env_->CreateDir(dir));
  TIDEKV_RETURN_IF_ERROR(env_->LockFile(JoinPath(dir, "LOCK"), &dir_lock_));
  janitor_ = std::make_shared<FileJanitor>(env_, dir_);
  TIDEKV_RETURN_IF_ERROR(Recover());
  janitor_->Start();
  {
    // The first write creates the active segment (an empty store has no files).
    // Segments recovered with enough dead bytes are merged from the start.
    Lock lock(mu_);
    merge_wanted_ = true;
  }
  if (options_.background_merge) merge_thread_ = std::thread([this] { MergeLoop(); });
  return Status::OK();
}

Status AppendLogEngine::CheckOpen() const {
  if (closing_ || closed_) return Status::Closed("store is closed");
  if (!broken_.ok()) return broken_;
  return Status::OK();
}

// ---------------------------------------------------------------------------
// Records

const char* AppendLogEngine::RecordAtLocked(Location loc, size_t* available) const {
  const Segment* s = SegmentLocked(LocationSegment(loc));
  const uint64_t offset = LocationOffset(loc);
  if (writer_.active() && s == writer_.segment().get() && writer_.InBuffer(offset)) {
    *available = static_cast<size_t>(writer_.length() - offset);
    return writer_.RecordAt(offset);
  }
  *available = static_cast<size_t>(s->length - offset);
  return s->base() + offset;
}

Status AppendLogEngine::FindLocked(Slice key, uint64_t hash, KeyDir::Slot** slot) {
  Location damaged = 0;
  *slot = keydir_.Find(hash, [&](Location loc) {
    size_t available = 0;
    const char* frame = RecordAtLocked(loc, &available);
    const RecordView r(frame);
    if (available >= kRecordHeaderBytes && r.key_bytes() == key.size() && kRecordHeaderBytes + key.size() <= available &&
        std::memcmp(r.key().data(), key.data(), key.size()) == 0) {
      return true;
    }
    // Another key with the same 64-bit hash is rare enough that a mismatch
    // is worth a CRC check: a damaged key must not read as an absent one.
    if (damaged == 0 && FindRecordProblem(frame, available) != nullptr) damaged = loc;
    return false;
  });
  if (*slot == nullptr && damaged != 0) {
    Slice ignored;
    return ReadValueLocked(damaged, &ignored);  // Corruption naming the file and offset
  }
  return Status::OK();
}

Status AppendLogEngine::ReadValueLocked(Location loc, Slice* value) const {
  size_t available = 0;
  const char* frame = RecordAtLocked(loc, &available);
  const Segment* s = SegmentLocked(LocationSegment(loc));
  const bool buffered = writer_.active() && s == writer_.segment().get() && writer_.InBuffer(LocationOffset(loc));
  if (!buffered) {
    // From the file: lengths, type and CRC checked on every read.
    if (const char* problem = FindRecordProblem(frame, available)) {
      return Status::Corruption(s->path() + ": record at offset " + std::to_string(LocationOffset(loc)) + ": " +
                                problem);
    }
  }
  *value = RecordView(frame).value();
  return Status::OK();
}

uint64_t AppendLogEngine::FrameBytesAtLocked(Location loc) const {
  size_t available = 0;
  const char* frame = RecordAtLocked(loc, &available);
  return available >= kRecordHeaderBytes ? std::min<uint64_t>(RecordView(frame).frame_bytes(), available) : 0;
}

void AppendLogEngine::MarkDeadLocked(Location loc, uint64_t frame_bytes) {
  Segment* s = SegmentLocked(LocationSegment(loc));
  s->live_bytes -= std::min(s->live_bytes, frame_bytes);
  s->dead_bytes += frame_bytes;
  if (s->sealed && !merge_wanted_ && WantsMergeLocked(*s)) {
    merge_wanted_ = true;
    merge_cv_.notify_one();
  }
}

void AppendLogEngine::RegisterLocked(const SegmentRef& segment) {
  if (seg_table_.size() <= segment->number()) seg_table_.resize(segment->number() + 1);
  seg_table_[segment->number()] = segment;
}

Status AppendLogEngine::NewActiveSegmentLocked(size_t frame_bytes) {
  const uint64_t capacity = std::max<uint64_t>(options_.segment_bytes, kFileHeaderBytes + frame_bytes);
  SegmentRef s;
  // A number is never used twice, not even after a failed create: the
  // janitor may still be about to delete the file of that attempt.
  TIDEKV_RETURN_IF_ERROR(Segment::Create(env_, dir_, next_segment_++, capacity, janitor_, &s));
  RegisterLocked(s);
  live_.push_back(s);
  writer_.Reset(s);
  return Status::OK();
}

Status AppendLogEngine::SealActiveLocked() {
  SegmentRef s = writer_.segment();
  TIDEKV_RETURN_IF_ERROR(writer_.Flush());
  // Cut to its length: a sealed segment holds no preallocated tail.
  TIDEKV_RETURN_IF_ERROR(s->Resize(s->length));
  s->sealed = true;
  writer_.Reset(nullptr);
  ++segments_sealed_;
  // The merge thread looks at it: to merge it, or to replace its hint deltas by one file.
  merge_wanted_ = true;
  merge_cv_.notify_one();
  return Status::OK();
}

Status AppendLogEngine::AppendLocked(RecordType type, Slice key, Slice value, Location* loc) {
  const size_t frame_bytes = RecordFrameBytes(key.size(), value.size());
  if (writer_.active() && !writer_.Fits(frame_bytes)) {
    if (writer_.length() == kFileHeaderBytes) {
      // An empty segment too small for this record: grow it.
      TIDEKV_RETURN_IF_ERROR(writer_.segment()->Resize(kFileHeaderBytes + frame_bytes));
    } else {
      TIDEKV_RETURN_IF_ERROR(SealActiveLocked());
    }
  }
  if (!writer_.active()) TIDEKV_RETURN_IF_ERROR(NewActiveSegmentLocked(frame_bytes));
  uint64_t offset = 0;
  TIDEKV_RETURN_IF_ERROR(writer_.Append(type, key, value, next_seq_, &offset));
  Segment* s = writer_.segment().get();
  s->min_seq = std::min(s->min_seq, next_seq_);
  ++next_seq_;
  *loc = MakeLocation(s->number(), offset);
  if (type == RecordType::kValue) {
    s->live_bytes += frame_bytes;
  } else {
    s->dead_bytes += frame_bytes;  // a tombstone is dead weight once a merge may drop it
  }
  return Status::OK();
}

Status AppendLogEngine::PutLocked(Slice key, uint64_t hash, KeyDir::Slot* slot, Slice value) {
  // Room for a new key first: a record appended for a key the directory
  // then could not take would come back on recovery.
  if (slot == nullptr && !keydir_.Reserve(keydir_.size() + 1)) {
    return Status::Limit("out of memory growing the key directory past " + std::to_string(keydir_.size()) + " keys");
  }
  const Location old = slot != nullptr ? slot->loc : 0;
  const uint64_t old_frame = slot != nullptr ? FrameBytesAtLocked(old) : 0;
  Location loc = 0;
  TIDEKV_RETURN_IF_ERROR(AppendLocked(RecordType::kValue, key, value, &loc));
  if (slot != nullptr) {
    MarkDeadLocked(old, old_frame);
    slot->loc = loc;
    return Status::OK();
  }
  if (!keydir_.Insert(hash, loc)) {  // reserved above: cannot happen
    MarkDeadLocked(loc, RecordFrameBytes(key.size(), value.size()));
    return Status::Limit("out of memory growing the key directory");
  }
  return Status::OK();
}

Status AppendLogEngine::DeleteLocked(Slice key, uint64_t hash, bool* existed) {
  KeyDir::Slot* slot = nullptr;
  TIDEKV_RETURN_IF_ERROR(FindLocked(key, hash, &slot));
  *existed = slot != nullptr;
  if (slot == nullptr) return Status::OK();  // nothing to hide: no tombstone needed
  const Location old = slot->loc;
  const uint64_t old_frame = FrameBytesAtLocked(old);
  Location tombstone = 0;
  TIDEKV_RETURN_IF_ERROR(AppendLocked(RecordType::kTombstone, key, Slice(), &tombstone));
  MarkDeadLocked(old, old_frame);
  keydir_.Erase(slot);
  return Status::OK();
}

// ---------------------------------------------------------------------------
// Point operations

Status AppendLogEngine::Get(Slice key, char* dst, size_t dst_capacity, size_t* value_bytes) {
  Lock lock(mu_);
  TIDEKV_RETURN_IF_ERROR(CheckOpen());
  KeyDir::Slot* slot = nullptr;
  TIDEKV_RETURN_IF_ERROR(FindLocked(key, HashKey(key), &slot));
  if (slot == nullptr) return Status::NotFound("");
  Slice value;
  TIDEKV_RETURN_IF_ERROR(ReadValueLocked(slot->loc, &value));
  *value_bytes = value.size();
  if (value.size() <= dst_capacity && !value.empty()) std::memcpy(dst, value.data(), value.size());
  return Status::OK();
}

Status AppendLogEngine::GetMany(const Slice* keys, size_t n, GetManySink* sink) {
  Lock lock(mu_);
  TIDEKV_RETURN_IF_ERROR(CheckOpen());
  // Looks a few keys ahead: their directory slots are fetched while this
  // key is served, so the cache misses of several keys overlap.
  constexpr size_t kAhead = 8, kRing = 16;
  uint64_t hashes[kRing];
  for (size_t i = 0; i < std::min(n, kAhead); ++i) {
    hashes[i % kRing] = HashKey(keys[i]);
    keydir_.Prefetch(hashes[i % kRing]);
  }
  for (size_t i = 0; i < n; ++i) {
    if (i + kAhead < n) {
      hashes[(i + kAhead) % kRing] = HashKey(keys[i + kAhead]);
      keydir_.Prefetch(hashes[(i + kAhead) % kRing]);
    }
    KeyDir::Slot* slot = nullptr;
    TIDEKV_RETURN_IF_ERROR(FindLocked(keys[i], hashes[i % kRing], &slot));
    if (slot == nullptr) {
      if (!sink->OnResult(i, nullptr)) break;
      continue;
    }
    Slice value;
    TIDEKV_RETURN_IF_ERROR(ReadValueLocked(slot->loc, &value));
    if (!sink->OnResult(i, &value)) break;
  }
  return Status::OK();
}

Status AppendLogEngine::Has(Slice key, bool* found) {
  Lock lock(mu_);
  TIDEKV_RETURN_IF_ERROR(CheckOpen());
  KeyDir::Slot* slot = nullptr;
  TIDEKV_RETURN_IF_ERROR(FindLocked(key, HashKey(key), &slot));
  *found = slot != nullptr;
  return Status::OK();
}

Status AppendLogEngine::Put(Slice key, Slice value) {
  TIDEKV_RETURN_IF_ERROR(CheckKey(key));
  TIDEKV_RETURN_IF_ERROR(CheckValue(value));
  Lock lock(mu_);
  TIDEKV_RETURN_IF_ERROR(CheckOpen());
  const uint64_t hash = HashKey(key);
  KeyDir::Slot* slot = nullptr;
  TIDEKV_RETURN_IF_ERROR(FindLocked(key, hash, &slot));
  return PutLocked(key, hash, slot, value);
}

Status AppendLogEngine::Delete(Slice key, bool* existed) {
  TIDEKV_RETURN_IF_ERROR(CheckKey(key));
  Lock lock(mu_);
  TIDEKV_RETURN_IF_ERROR(CheckOpen());
  return DeleteLocked(key, HashKey(key), existed);
}

Status AppendLogEngine::Merge(Slice key, MergeOp op, Slice operand, int64_t* int_result) {
  TIDEKV_RETURN_IF_ERROR(CheckKey(key));
  Lock lock(mu_);
  TIDEKV_RETURN_IF_ERROR(CheckOpen());
  const uint64_t hash = HashKey(key);
  KeyDir::Slot* slot = nullptr;
  TIDEKV_RETURN_IF_ERROR(FindLocked(key, hash, &slot));
  Slice current;
  if (slot != nullptr) TIDEKV_RETURN_IF_ERROR(ReadValueLocked(slot->loc, &current));
  // The result is built aside: `current` may sit in the buffer a write flushes.
  TIDEKV_RETURN_IF_ERROR(ResolveMerge(slot != nullptr ? &current : nullptr, op, operand, kMaxValueBytes, &merge_scratch_));
  TIDEKV_RETURN_IF_ERROR(PutLocked(key, hash, slot, merge_scratch_));
  if (op == MergeOp::kAddInt64 && int_result != nullptr) {
    *int_result = static_cast<int64_t>(LoadFixed64(merge_scratch_.data()));
  }
  return Status::OK();
}

Status AppendLogEngine::ApplyBatch(const WriteBatch& batch, int64_t* add_results) {
  bool has_merge = false;
  for (size_t i = 0; i < batch.size(); ++i) {
    const WriteBatch::Op op = batch.op(i);
    if (op.key.empty() || op.key.size() > kMaxKeyBytes) {
      return Status::InvalidArgument("ops[" + std::to_string(i) + "].key must be 1.." + std::to_string(kMaxKeyBytes) +
                                     " bytes");
    }
    if (op.type == BatchOpType::kPut && op.value.size() > kMaxValueBytes) {
      return Status::InvalidArgument("ops[" + std::to_string(i) + "].value is too large");
    }
    has_merge |= op.type == BatchOpType::kMerge;
  }
  Lock lock(mu_);
  TIDEKV_RETURN_IF_ERROR(CheckOpen());
  auto partial = [&](size_t done, const Status& s) {
    if (done == 0) return s;
    return Status(s.code(), "batch applied in part (" + std::to_string(done) + " of " + std::to_string(batch.size()) +
                                " ops): " + std::string(s.message()));
  };
  if (!has_merge) {
    // Puts and deletes cannot fail on the stored data: applied as they come.
    constexpr size_t kAhead = 8;
    for (size_t i = 0; i < std::min(batch.size(), kAhead); ++i) keydir_.Prefetch(HashKey(batch.op(i).key));
    for (size_t i = 0; i < batch.size(); ++i) {
      if (i + kAhead < batch.size()) keydir_.Prefetch(HashKey(batch.op(i + kAhead).key));
      const WriteBatch::Op op = batch.op(i);
      const uint64_t hash = HashKey(op.key);
      Status s;
      if (op.type == BatchOpType::kPut) {
        KeyDir::Slot* slot = nullptr;
        s = FindLocked(op.key, hash, &slot);
        if (s.ok()) s = PutLocked(op.key, hash, slot, op.value);
      } else {
        bool existed = false;
        s = DeleteLocked(op.key, hash, &existed);
      }
      if (!s.ok()) return partial(i, s);
    }
    return Status::OK();
  }
  // Pass 1 computes every key's final state without writing (ResolveBatch).
  std::vector<BatchKeyFinal> finals;
  TIDEKV_RETURN_IF_ERROR(ResolveBatch(
      batch, kMaxValueBytes,
      [&](Slice key, bool want_value, bool* live, std::string* value) -> Status {
        KeyDir::Slot* slot = nullptr;
        TIDEKV_RETURN_IF_ERROR(FindLocked(key, HashKey(key), &slot));
        *live = slot != nullptr;
        if (*live && want_value) {
          Slice current;
          TIDEKV_RETURN_IF_ERROR(ReadValueLocked(slot->loc, &current));
          value->assign(current.data(), current.size());
        }
        return Status::OK();
      },
      add_results, &finals));
  // Pass 2 writes each key's final state once.
  for (size_t i = 0; i < finals.size(); ++i) {
    const BatchKeyFinal& f = finals[i];
    const uint64_t hash = HashKey(f.key);
    Status s;
    if (f.live) {
      KeyDir::Slot* slot = nullptr;
      s = FindLocked(f.key, hash, &slot);
      if (s.ok()) s = PutLocked(f.key, hash, slot, f.value);
    } else {
      bool existed = false;
      s = DeleteLocked(f.key, hash, &existed);
    }
    if (!s.ok()) return i == 0 ? s : Status(s.code(), "batch applied in part: " + std::string(s.message()));
  }
  return Status::OK();
}

// ---------------------------------------------------------------------------
// Stats, verification, close

void AppendLogEngine::GetStats(EngineStats* stats) {
  Lock lock(mu_);
  stats->keys = keydir_.size();
  uint64_t disk = 0, live = 0, dead = 0, hint_bytes = 0, hint_files = 0;
  for (const SegmentRef& s : live_) {
    disk += s->length;
    live += s->live_bytes;
    dead += s->dead_bytes;
    for (const HintFileRef& h : s->hints) hint_bytes += h->bytes;
    hint_files += s->hints.size();
  }
  stats->memory_bytes = keydir_.MemoryBytes() + write_buffer_bytes_;
  stats->disk_bytes = disk + hint_bytes;
  stats->extra = {
      {"indexBytes", keydir_.MemoryBytes()},
      {"indexSlots", keydir_.capacity()},
      {"writeBufferBytes", write_buffer_bytes_},
      {"segments", live_.size()},
      {"liveBytes", live},
      {"deadBytes", dead},
      {"hintFiles", hint_files},
      {"hintBytes", hint_bytes},
      {"segmentsSealed", segments_sealed_},
      {"merges", merges_},
      {"mergeFailures", merge_failures_},
      {"mergeRecordsMoved", records_moved_},
      {"mergeBytesWritten", merge_bytes_written_},
      {"tombstonesDropped", tombstones_dropped_},
      {"longestMergePauseMicros", longest_merge_pause_micros_},
      {"hintConsolidations", hint_consolidations_},
  };
}

Status AppendLogEngine::Verify() {
  // No merge half-way: its outputs hold records the directory may point at
  // before they join the live segments.
  std::lock_guard<std::mutex> merging(merge_mu_);
  Lock lock(mu_);
  TIDEKV_RETURN_IF_ERROR(CheckOpen());
  TIDEKV_RETURN_IF_ERROR(writer_.Flush());
  // Every record of every live segment is sound, and every directory entry
  // points at a value record of its key in a live segment.
  uint64_t pointed = 0;
  for (const SegmentRef& s : live_) {
    if (SegmentLocked(s->number()) != s.get()) {
      return Status::Corruption(s->path() + ": a live segment is missing from the segment table");
    }
    TIDEKV_RETURN_IF_ERROR(ForEachRecord(s->base(), kFileHeaderBytes, s->length, s->path(), /*check_crc=*/true,
                                         [&](uint64_t offset, RecordView r) -> Status {
                                           if (r.type() != RecordType::kValue) return Status::OK();
                                           if (keydir_.FindLocation(HashKey(r.key()), MakeLocation(s->number(), offset))) {
                                             ++pointed;
                                           }
                                           return Status::OK();
                                         }));
  }
  // Each key has one slot: a lookup by the key finds the slot that points at it.
  Status dup;
  keydir_.ForEach([&](KeyDir::Slot& slot) {
    size_t available = 0;
    const RecordView r(RecordAtLocked(slot.loc, &available));
    KeyDir::Slot* found = nullptr;
    Status s = FindLocked(r.key(), slot.hash, &found);
    if (!s.ok() && dup.ok()) dup = s;
    if (found != &slot && dup.ok()) {
      dup = Status::Corruption(dir_ + ": key '" + std::string(r.key()) + "' has two directory slots");
    }
  });
  TIDEKV_RETURN_IF_ERROR(dup);
  if (pointed != keydir_.size()) {
    return Status::Corruption(dir_ + ": the key directory has " + std::to_string(keydir_.size()) +
                              " keys but only " + std::to_string(pointed) + " point at a live record of their key");
  }
  return Status::OK();
}

Status AppendLogEngine::Close() {
  {
    Lock lock(mu_);
    if (closed_) return Status::OK();
    if (janitor_ == nullptr) {  // Open failed before there was anything to stop
      closed_ = closing_ = true;
      dir_lock_.reset();
      return Status::OK();
    }
    closing_ = true;
  }
  {
    // Checkpoints already cut are written first.
    std::unique_lock<std::mutex> ck(ckpt_mu_);
    ckpt_cv_.wait(ck, [&] { return outstanding_cuts_ == 0; });
  }
  {
    Lock lock(mu_);
    stop_merge_ = true;
    ++interrupt_merge_;  // never taken back: the store is closing
    merge_cv_.notify_all();
  }
  if (merge_thread_.joinable()) merge_thread_.join();
  std::lock_guard<std::mutex> merging(merge_mu_);  // a Compact() in flight ends first
  janitor_->Drain();
  janitor_->Shut();  // what is dropped below stays on disk: the checkpoints need it
  Lock lock(mu_);
  closed_ = true;
  {
    std::lock_guard<std::mutex> ck(ckpt_mu_);
    retained_.clear();
  }
  writer_.Reset(nullptr);
  live_.clear();
  seg_table_.clear();
  keydir_ = KeyDir(16);
  dir_lock_.reset();
  return Status::OK();
}

}  // namespace appendlog
}  // namespace tidekv
