// Checkpoints, recovery and restore of the hybrid log. The protocol is
// described in hybrid_log_impl.h; the file formats in hybrid_log_format.h and
// docs/formats/checkpoint.md.
#include <algorithm>
#include <chrono>
#include <cstring>
#include <set>

#include "common/checkpoint_format.h"
#include "hybridlog/hybrid_log_impl.h"

namespace tidekv::hlog {

namespace {

using Clock = std::chrono::steady_clock;

uint64_t MicrosSince(Clock::time_point t) {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t).count());
}

uint64_t WallMicros() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

// Bytes the writer copies per hold of the engine lock.
constexpr size_t kCopySliceBytes = 1u << 20;
// A region smaller than this never triggers a base on its own.
constexpr uint64_t kMinBaseRegionBytes = 1u << 20;

}  // namespace

class HybridLogEngine::Ticket final : public CheckpointTicket {
 public:
  PagedLog::Cut cut;
  HashIndex::ChunkImages index_images;
  bool index_base = false;  // the images cover the whole index
  uint64_t bucket_bits = 0;
  uint64_t overflow_used = 0;
  uint64_t live_entries = 0;
  uint64_t keys = 0;
  bool fold_over = false;
  CheckpointRequest request;
  uint64_t created_at_micros = 0;
  uint64_t pause_micros = 0;
  Clock::time_point cut_time;
};

PagedLog::Options HybridLogEngine::LogOptions(uint64_t page_bytes, uint64_t segment_bytes) const {
  PagedLog::Options o;
  o.env = options_.env;
  o.dir = dir_;
  o.page_bytes = static_cast<uint32_t>(page_bytes);
  o.segment_bytes = segment_bytes;
  o.frame_count = options_.memory_budget_bytes / page_bytes;
  const auto mutable_pages = static_cast<uint64_t>(static_cast<double>(o.frame_count) * options_.mutable_fraction);
  o.mutable_pages = std::clamp<uint64_t>(mutable_pages, 1, o.frame_count > 2 ? o.frame_count - 2 : 1);
  return o;
}

// ---------------------------------------------------------------------------
// The cut

Status HybridLogEngine::BeginCheckpoint(const CheckpointRequest& request, std::shared_ptr<CheckpointTicket>* out) {
  const auto start = Clock::now();
  auto t = std::make_shared<Ticket>();
  {
    Lock lock = LockForeground();
    if (closing_) return Status::Closed("store is closed");
    if (restoring_) return Status::Busy("a restore is in progress");
    t->fold_over = options_.fold_over;
    TIDEKV_RETURN_IF_ERROR(log_->TakeCut(t->fold_over, &t->cut));
    // Recovery reads the index chain (base + deltas): once the deltas
    // outweigh twice the index, this cut copies all of it as a new base.
    if (index_chain_bytes_ > 2 * index_->MemoryBytes()) index_->MarkAllDirty();
    // A buffer of an earlier cut, already faulted in: a fresh one of tens of
    // MiB costs milliseconds of page faults on this thread.
    if (spare_images_ != nullptr) {
      t->index_images = std::move(*spare_images_);
      spare_images_.reset();
      t->index_images.ids.clear();
      t->index_images.offsets.assign(1, 0);
      t->index_images.bytes.clear();
    }
    t->index_base = index_->TakeDirtyChunks(&t->index_images);
    index_chain_bytes_ = (t->index_base ? 0 : index_chain_bytes_) + t->index_images.bytes.size();
    t->bucket_bits = static_cast<uint64_t>(index_->bucket_bits());
    t->overflow_used = index_->overflow_bucket_count();
    t->live_entries = index_->live_entries();
    t->keys = keys_;
    t->version = next_version_++;
    ++outstanding_cuts_;
    // The segments this cut needs must outlive its write (compaction runs meanwhile).
    inflight_begins_.insert(t->cut.begin);
    uint64_t deleted = 0;
    log_->SetRetainFloor(std::min(retained_floor_, *inflight_begins_.begin()), &deleted);
  }
  t->request = request;
  t->created_at_micros = WallMicros();
  t->cut_time = Clock::now();
  t->pause_micros = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(t->cut_time - start).count());
  *out = std::move(t);
  return Status::OK();
}

// ---------------------------------------------------------------------------
// The write

Status HybridLogEngine::FinishCheckpoint(const std::shared_ptr<CheckpointTicket>& ticket, CheckpointInfo* info) {
  auto* t = static_cast<Ticket*>(ticket.get());
  {
    std::unique_lock<std::mutex> ck(ckpt_mu_);
    ckpt_cv_.wait(ck, [&] { return next_to_write_ == t->version; });
  }
  CheckpointManifest manifest;
  CheckpointState state;
  GarbagePlan garbage;
  Status s = WriteCheckpoint(t, &manifest, &state);
  {
    Lock lock = LockBackground();
    std::lock_guard<std::mutex> ck(ckpt_mu_);
    if (s.ok()) {
      retained_.push_back(Retained{manifest, state});
      carry_index_.clear();
      carry_index_base_ = false;
      force_full_ = false;
    } else {
      // Nothing of this checkpoint is named by a manifest. Its dirty index
      // chunks go with the next one; its log bytes, by writing everything.
      // Older images go first: later ones override them when loaded.
      if (t->index_base) {
        carry_index_.clear();
        carry_index_base_ = true;  // the next index file holds everything: a new chain starts there
      }
      for (size_t i = 0; i < t->index_images.size(); ++i) {
        carry_index_.emplace_back(t->index_images.ids[i], std::string(t->index_images.image(i)));
      }
      force_full_ = true;
      (void)options_.env->DeleteFile(JoinPath(dir_, CheckpointDataFileName(kSnapshotPrefix, t->version)));
      (void)options_.env->DeleteFile(JoinPath(dir_, CheckpointDataFileName(kIndexPrefix, t->version)));
    }
    // Still frozen here, so no record can be marked again in between.
    log_->ClearDirtyMarks(t->cut.dirty);
    if (spare_images_ == nullptr) spare_images_ = std::make_unique<HashIndex::ChunkImages>(std::move(t->index_images));
    inflight_begins_.erase(inflight_begins_.find(t->cut.begin));
    if (--outstanding_cuts_ == 0) log_->Unfreeze();
    // Later cuts' files (versions after this one) are being written.
    PlanGarbageLocked(t->version + 1, &garbage);
  }
  // Still this checkpoint's turn: the next writer and restore wait for it.
  RemoveGarbage(garbage);
  {
    std::lock_guard<std::mutex> ck(ckpt_mu_);
    ++next_to_write_;
  }
  ckpt_cv_.notify_all();
  if (s.ok()) *info = manifest.info;
  return s;
}

Status HybridLogEngine::WriteCheckpoint(Ticket* t, CheckpointManifest* manifest, CheckpointState* state) {
  CheckpointState previous;
  bool have_previous = false;
  {
    std::lock_guard<std::mutex> ck(ckpt_mu_);
    if (!retained_.empty()) {
      previous = retained_.back().state;
      have_previous = true;
    }
  }
  state->page_bytes = log_->page_bytes();
  state->segment_bytes = log_->segment_bytes();
  state->begin = t->cut.begin;
  state->keys = t->keys;
  uint64_t snapshot_bytes = 0;
  if (t->fold_over) {
    TIDEKV_RETURN_IF_ERROR(log_->WaitForFlush(t->cut.flushed));
    state->flushed = state->tail = t->cut.tail;
  } else {
    state->flushed = t->cut.flushed;
    state->tail = t->cut.tail;
    TIDEKV_RETURN_IF_ERROR(WriteSnapshot(t, have_previous ? &previous : nullptr, state, &snapshot_bytes));
  }

  // Everything below `flushed` lives in segment files: make them durable.
  PagedLog::SyncList sync;
  std::vector<std::string> segment_names;
  {
    Lock lock = LockBackground();
    log_->CollectSegmentsToSync(state->begin, state->flushed, &sync, &segment_names);
  }
  TIDEKV_RETURN_IF_ERROR(log_->SyncSegments(sync));

  uint64_t index_bytes = 0;
  TIDEKV_RETURN_IF_ERROR(WriteIndexDelta(t, have_previous ? &previous : nullptr, state, &index_bytes));

  // The manifest names every file the checkpoint needs.
  manifest->files = segment_names;
  uint64_t total = state->flushed > state->begin ? state->flushed - state->begin : 0;
  for (const SnapshotRef& r : state->chain) {
    manifest->files.push_back(CheckpointDataFileName(kSnapshotPrefix, r.version));
    total += r.bytes;
  }
  for (const IndexRef& r : state->index_chain) {
    manifest->files.push_back(CheckpointDataFileName(kIndexPrefix, r.version));
    total += r.bytes;
  }
  manifest->engine = EngineKind::kHybridLog;
  manifest->engine_state = EncodeCheckpointState(*state);
  CheckpointInfo& info = manifest->info;
  info.version = t->version;
  info.created_at_micros = t->created_at_micros;
  info.pause_micros = t->pause_micros;
  info.meta = t->request.meta;
  info.meta_kind = t->request.meta_kind;
  // New log pages count as written by this checkpoint, like its own files.
  const uint64_t segment_floor = have_previous ? std::max(previous.flushed, state->begin) : state->begin;
  const uint64_t new_segment_bytes = state->flushed > segment_floor ? state->flushed - segment_floor : 0;
  info.duration_micros = MicrosSince(t->cut_time);
  CountManifestItself(manifest, snapshot_bytes + index_bytes + new_segment_bytes, total);
  uint64_t manifest_bytes = 0;
  Status s = WriteManifest(options_.env, dir_, *manifest, &manifest_bytes);
  info.duration_micros = MicrosSince(t->cut_time);
  return s;
}

Status HybridLogEngine::WriteSnapshot(Ticket* t, const CheckpointState* previous, CheckpointState* state,
                                      uint64_t* bytes) {
  const uint64_t flushed = state->flushed, tail = state->tail;
  // The snapshots an earlier checkpoint's region was built from, if they
  // still hold bytes at or above `flushed`.
  std::vector<SnapshotRef> chain;
  uint64_t chain_bytes = 0;
  if (previous != nullptr && !force_full_) {
    for (const SnapshotRef& r : previous->chain) {
      if (r.tail > flushed) {
        chain.push_back(r);
        chain_bytes += r.bytes;
      }
    }
  }
  const uint64_t region = tail - flushed;
  const bool base =
      previous == nullptr || force_full_ || chain_bytes > 2 * std::max<uint64_t>(region, kMinBaseRegionBytes);
  if (base) chain.clear();

  BlockFileWriter writer;
  FileHeader header;
  header.args[0] = t->version;
  header.args[1] = static_cast<uint64_t>(BlockFileKind::kLogSnapshot);
  header.args[2] = flushed;
  header.args[3] = tail;
  TIDEKV_RETURN_IF_ERROR(
      writer.Open(options_.env, JoinPath(dir_, CheckpointDataFileName(kSnapshotPrefix, t->version)), header));

  // New bytes (or, for a base, the whole region), copied a slice at a time:
  // the region is frozen, so the lock is only needed for the page table.
  std::string buffer;
  for (uint64_t a = base ? flushed : std::max(flushed, t->cut.epoch_start); a < tail;) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(kCopySliceBytes, tail - a));
    buffer.resize(n);
    {
      Lock lock = LockBackground();
      log_->CopyRange(a, n, buffer.data());
    }
    TIDEKV_RETURN_IF_ERROR(writer.Add(a, buffer));
    a += n;
  }
  if (!base) {
    // Records changed in place below the previous cut's tail.
    std::vector<uint64_t> dirty = t->cut.dirty;
    std::sort(dirty.begin(), dirty.end());
    dirty.erase(std::unique(dirty.begin(), dirty.end()), dirty.end());
    std::vector<std::pair<uint64_t, uint32_t>> batch;  // (address, bytes) into `buffer`
    size_t i = 0;
    while (i < dirty.size()) {
      buffer.clear();
      batch.clear();
      {
        Lock lock = LockBackground();
        for (; i < dirty.size() && buffer.size() < kCopySliceBytes; ++i) {
          const uint64_t a = dirty[i];
          if (a < flushed || a >= t->cut.epoch_start) continue;
          const uint32_t n = log_->RecordFrameBytesAt(a);
          if (n < kRecordHeaderBytes || a + n > tail) {
            return Status::Corruption("checkpoint: a dirty record at " + std::to_string(a) + " has a bad length");
          }
          const size_t at = buffer.size();
          buffer.resize(at + n);
          log_->CopyRange(a, n, buffer.data() + at);
          batch.emplace_back(a, n);
        }
      }
      size_t offset = 0;
      for (auto [a, n] : batch) {
        TIDEKV_RETURN_IF_ERROR(writer.Add(a, Slice(buffer.data() + offset, n)));
        offset += n;
      }
    }
  }
  TIDEKV_RETURN_IF_ERROR(writer.Finish(bytes));
  chain.push_back(SnapshotRef{t->version, tail, *bytes});
  state->chain = std::move(chain);
  return Status::OK();
}

Status HybridLogEngine::WriteIndexDelta(Ticket* t, const CheckpointState* previous, CheckpointState* state,
                                        uint64_t* bytes) {
  state->bucket_bits = t->bucket_bits;
  state->overflow_used = t->overflow_used;
  state->live_entries = t->live_entries;
  *bytes = 0;
  // A base when this cut copied everything; otherwise a delta on the
  // previous checkpoint's chain (the index has not grown since, or every
  // bucket would have been dirty), after the images of failed checkpoints.
  const bool base = t->index_base;
  if (!base && (previous == nullptr || previous->bucket_bits != t->bucket_bits || previous->index_chain.empty())) {
    // Only a base can follow a failed first checkpoint: the carried images
    // then hold everything it did, which the coverage check at load verifies.
    if (carry_index_.empty()) {
      return Status::Corruption("checkpoint: an index delta without a base to apply it to");
    }
  }
  std::vector<IndexRef> chain;
  const bool with_carry = !base && !carry_index_.empty();
  if (!base && !(with_carry && carry_index_base_) && previous != nullptr && previous->bucket_bits == t->bucket_bits) {
    chain = previous->index_chain;
  }
  if (t->index_images.size() > 0 || with_carry) {
    BlockFileWriter writer;
    FileHeader header;
    header.args[0] = t->version;
    header.args[1] = static_cast<uint64_t>(BlockFileKind::kIndexChunks);
    header.args[2] = t->bucket_bits;
    TIDEKV_RETURN_IF_ERROR(
        writer.Open(options_.env, JoinPath(dir_, CheckpointDataFileName(kIndexPrefix, t->version)), header));
    if (with_carry) {
      for (const auto& [id, image] : carry_index_) TIDEKV_RETURN_IF_ERROR(writer.Add(id, image));
    }
    for (size_t i = 0; i < t->index_images.size(); ++i) {
      TIDEKV_RETURN_IF_ERROR(writer.Add(t->index_images.ids[i], t->index_images.image(i)));
    }
    TIDEKV_RETURN_IF_ERROR(writer.Finish(bytes));
    chain.push_back(IndexRef{t->version, *bytes});
  }
  if (chain.empty()) return Status::Corruption("checkpoint: no index files to recover the index from");
  state->index_chain = std::move(chain);
  return Status::OK();
}

// ---------------------------------------------------------------------------
// Retention and garbage

void HybridLogEngine::PlanGarbageLocked(uint64_t protect_from, GarbagePlan* plan) {
  while (retained_.size() > std::max<uint32_t>(options_.retain_checkpoints, 1)) {
    plan->manifests.push_back(ManifestFileName(retained_.front().manifest.info.version));
    retained_.erase(retained_.begin());
  }
  plan->needed.clear();
  retained_floor_ = UINT64_MAX;
  for (const Retained& r : retained_) {
    plan->needed.insert(r.manifest.files.begin(), r.manifest.files.end());
    plan->needed.insert(ManifestFileName(r.manifest.info.version));
    plan->retained_versions.insert(r.manifest.info.version);
    retained_floor_ = std::min(retained_floor_, r.state.begin);
  }
  plan->protect_from = protect_from;
  uint64_t floor = retained_floor_;
  if (!inflight_begins_.empty()) floor = std::min(floor, *inflight_begins_.begin());
  uint64_t deleted = 0;
  log_->SetRetainFloor(floor, &deleted);
}

// File I/O only: callers hold their turn to write (or no cut can exist), not
// the engine lock, so a slow unlink or directory fsync never stalls calls.
void HybridLogEngine::RemoveGarbage(const GarbagePlan& plan) {
  Env* env = options_.env;
  // Manifests first: a crash after this leaves files no manifest names
  // (deleted at the next open), never a manifest without its files.
  for (const std::string& name : plan.manifests) (void)env->DeleteFile(JoinPath(dir_, name));
  if (!plan.manifests.empty()) (void)env->SyncDir(dir_);
  std::vector<std::string> names;
  if (env->ListDir(dir_, &names).ok()) {
    for (const std::string& name : names) {
      uint64_t version = 0;
      const bool data_file = ParseCheckpointDataFileName(name, kSnapshotPrefix, &version) ||
                             ParseCheckpointDataFileName(name, kIndexPrefix, &version);
      const bool manifest = !data_file && ParseManifestFileName(name, &version);
      const bool temp = name.size() > 4 && name.compare(name.size() - 4, 4, ".tmp") == 0;
      // Versions from protect_from on belong to cuts being written; any other
      // file no retained manifest names is garbage: of a dropped or failed
      // checkpoint, of versions a restore discarded, or left by a crash.
      const bool protected_version = version >= plan.protect_from;
      const bool garbage = (data_file && !plan.needed.count(name) && !protected_version) ||
                           (manifest && !plan.retained_versions.count(version) && !protected_version) ||
                           (temp && plan.protect_from == UINT64_MAX);
      if (garbage) (void)env->DeleteFile(JoinPath(dir_, name));
    }
  }
  // Disk used by checkpoints besides the segments (stats().diskBytes).
  uint64_t bytes = 0;
  for (const std::string& name : plan.needed) {
    uint64_t n = 0, size = 0;
    if (!ParseSegmentFileName(name, &n) && env->FileSize(JoinPath(dir_, name), &size).ok()) bytes += size;
  }
  checkpoint_file_bytes_.store(bytes, std::memory_order_relaxed);
}

void HybridLogEngine::ListCheckpoints(std::vector<CheckpointInfo>* checkpoints) {
  std::lock_guard<std::mutex> ck(ckpt_mu_);
  RetainedInfos(retained_, checkpoints);
}

uint64_t HybridLogEngine::LastCheckpointVersion() {
  std::lock_guard<std::mutex> ck(ckpt_mu_);
  return NewestRetainedVersion(retained_);
}

// ---------------------------------------------------------------------------
// Recovery and restore

Status HybridLogEngine::LoadCheckpoint(const CheckpointManifest& manifest, const CheckpointState& state) {
  const std::string where = JoinPath(dir_, ManifestFileName(manifest.info.version));
  TIDEKV_RETURN_IF_ERROR(CheckManifestEngine(manifest, EngineKind::kHybridLog, dir_));
  if (state.page_bytes < kMinPageBytes || state.page_bytes > kMaxPageBytes || (state.page_bytes & (state.page_bytes - 1)) ||
      state.segment_bytes < state.page_bytes || state.segment_bytes % state.page_bytes != 0 ||
      static_cast<int>(state.bucket_bits) > kMaxIndexBucketBits) {
    return Status::Corruption(where + ": checkpoint sizes are out of range");
  }
  if (options_.memory_budget_bytes < kMinMemoryPages * state.page_bytes) {
    return Status::InvalidArgument("memoryBudgetBytes must hold at least " + std::to_string(kMinMemoryPages) +
                                   " pages of this store's pageBytes (" + std::to_string(state.page_bytes) + ")");
  }
  auto index = std::make_unique<HashIndex>();
  TIDEKV_RETURN_IF_ERROR(
      index->InitForRecovery(static_cast<int>(state.bucket_bits), state.overflow_used, state.live_entries));
  for (const IndexRef& r : state.index_chain) {
    const std::string path = JoinPath(dir_, CheckpointDataFileName(kIndexPrefix, r.version));
    FileHeader header;
    TIDEKV_RETURN_IF_ERROR(ReadBlockFile(options_.env, path, BlockFileKind::kIndexChunks, &header,
                                         [&](uint64_t id, Slice bytes) -> Status {
                                           Status s = index->LoadChunk(id, bytes);
                                           return s.ok() ? s : Status::Corruption(path + ": " + std::string(s.message()));
                                         }));
    if (header.args[2] != state.bucket_bits) {
      return Status::Corruption(path + ": index file of another index size than its checkpoint");
    }
  }
  if (!index->FullyLoaded()) return Status::Corruption(where + ": the index files do not cover the index");
  auto log = std::make_unique<PagedLog>();
  PagedLog::Recovered markers;
  markers.begin = state.begin;
  markers.flushed = state.flushed;
  markers.tail = state.tail;
  TIDEKV_RETURN_IF_ERROR(log->OpenRecovered(LogOptions(state.page_bytes, state.segment_bytes), markers));
  for (const SnapshotRef& r : state.chain) {
    const std::string path = JoinPath(dir_, CheckpointDataFileName(kSnapshotPrefix, r.version));
    FileHeader header;
    TIDEKV_RETURN_IF_ERROR(ReadBlockFile(options_.env, path, BlockFileKind::kLogSnapshot, &header,
                                         [&](uint64_t address, Slice bytes) -> Status {
                                           // An older snapshot in the chain may hold bytes below the
                                           // current begin or flushed (compacted away or in segments
                                           // since): WriteRecovered keeps only [flushed, tail).
                                           if (address > r.tail || bytes.size() > r.tail - address) {
                                             return Status::Corruption(path + ": a block lies outside its log range");
                                           }
                                           log->WriteRecovered(address, bytes);
                                           return Status::OK();
                                         }));
  }
  TIDEKV_RETURN_IF_ERROR(log->FinishRecovery());
  index_ = std::move(index);
  log_ = std::move(log);
  index_chain_bytes_ = 0;
  for (const IndexRef& r : state.index_chain) index_chain_bytes_ += r.bytes;
  keys_ = state.keys;
  options_.page_bytes = static_cast<uint32_t>(state.page_bytes);
  options_.segment_bytes = state.segment_bytes;
  max_value_bytes_ = std::min<size_t>(
      kMaxValueBytes, state.page_bytes - kFirstAddress - kRecordHeaderBytes - kMaxKeyBytes - kRecordAlignBytes);
  return Status::OK();
}

Status HybridLogEngine::Recover() {
  Env* env = options_.env;
  std::vector<std::string> names;
  TIDEKV_RETURN_IF_ERROR(env->ListDir(dir_, &names));
  const std::vector<uint64_t> versions = ManifestVersionsNewestFirst(names);
  if (versions.empty()) {
    // A new store (or one that never completed a checkpoint): start empty;
    // files an earlier handle left are of no checkpoint.
    for (const std::string& name : names) {
      uint64_t n = 0;
      if (ParseSegmentFileName(name, &n) || ParseCheckpointDataFileName(name, kSnapshotPrefix, &n) ||
          ParseCheckpointDataFileName(name, kIndexPrefix, &n)) {
        TIDEKV_RETURN_IF_ERROR(env->DeleteFile(JoinPath(dir_, name)));
      }
    }
    TIDEKV_RETURN_IF_ERROR(log_->Open(LogOptions(options_.page_bytes, options_.segment_bytes)));
    return index_->Init(__builtin_ctz(options_.index_buckets));
  }

  size_t chosen = 0;
  TIDEKV_RETURN_IF_ERROR(LoadNewestCheckpoint(
      env, dir_, versions, EngineKind::kHybridLog, options_.recover_latest_valid,
      [&](uint64_t version, CheckpointManifest* manifest) -> Status {
        CheckpointState state;
        TIDEKV_RETURN_IF_ERROR(
            DecodeCheckpointState(manifest->engine_state, JoinPath(dir_, ManifestFileName(version)), &state));
        TIDEKV_RETURN_IF_ERROR(LoadCheckpoint(*manifest, state));
        std::lock_guard<std::mutex> ck(ckpt_mu_);
        retained_.push_back(Retained{std::move(*manifest), std::move(state)});
        return Status::OK();
      },
      &chosen));
  // Older ones stay retained if their manifests read back.
  std::vector<Retained> older;
  for (size_t i = versions.size(); i-- > chosen + 1;) {
    Retained r;
    const std::string where = JoinPath(dir_, ManifestFileName(versions[i]));
    if (ReadManifest(env, dir_, versions[i], &r.manifest).ok() &&
        DecodeCheckpointState(r.manifest.engine_state, where, &r.state).ok()) {
      older.push_back(std::move(r));
    } else {
      (void)env->DeleteFile(where);
    }
  }
  const uint64_t version = versions[chosen];
  const uint64_t tail = [&] {
    std::lock_guard<std::mutex> ck(ckpt_mu_);
    retained_.insert(retained_.begin(), std::make_move_iterator(older.begin()), std::make_move_iterator(older.end()));
    next_to_write_ = version + 1;
    return retained_.back().state.tail;
  }();
  next_version_ = version + 1;
  // Segment files wholly past the recovered tail hold history after the checkpoint.
  for (const std::string& name : names) {
    uint64_t n = 0;
    if (ParseSegmentFileName(name, &n) && n * options_.segment_bytes >= tail + options_.segment_bytes) {
      (void)env->DeleteFile(JoinPath(dir_, name));
    }
  }
  Lock lock = LockForeground();
  std::lock_guard<std::mutex> ck(ckpt_mu_);
  GarbagePlan garbage;
  PlanGarbageLocked(UINT64_MAX, &garbage);  // no cut exists yet
  RemoveGarbage(garbage);
  // Segment files wholly below every retained checkpoint are garbage too.
  for (const std::string& name : names) {
    uint64_t n = 0;
    if (ParseSegmentFileName(name, &n) && (n + 1) * options_.segment_bytes <= std::min(retained_floor_, log_->begin())) {
      (void)env->DeleteFile(JoinPath(dir_, name));
    }
  }
  return Status::OK();
}

Status HybridLogEngine::Restore(uint64_t version) {
  {
    Lock lock = LockForeground();
    if (closing_) return Status::Closed("store is closed");
    if (restoring_) return Status::Busy("a restore is already in progress");
    restoring_ = true;  // no new cuts from here
  }
  stop_compaction_ = true;
  std::lock_guard<std::mutex> no_compaction(compaction_mu_);
  stop_compaction_ = false;
  uint64_t pending_until = 0;
  {
    Lock lock = LockForeground();
    pending_until = next_version_;
  }
  {
    std::unique_lock<std::mutex> ck(ckpt_mu_);
    ckpt_cv_.wait(ck, [&] { return next_to_write_ == pending_until; });
  }
  Lock lock = LockBackground();
  std::lock_guard<std::mutex> ck(ckpt_mu_);
  Status s = [&]() -> Status {
    auto target = std::find_if(retained_.begin(), retained_.end(),
                               [&](const Retained& r) { return r.manifest.info.version == version; });
    if (target == retained_.end()) {
      return Status::VersionNotFound("checkpoint version " + std::to_string(version) + " is not retained");
    }
    // Newer checkpoints go first (durably), so a crash from here on recovers `version`.
    for (auto it = retained_.end(); it-- != target + 1;) {
      TIDEKV_RETURN_IF_ERROR(options_.env->DeleteFile(JoinPath(dir_, ManifestFileName(it->manifest.info.version))));
    }
    TIDEKV_RETURN_IF_ERROR(options_.env->SyncDir(dir_));
    retained_.erase(target + 1, retained_.end());
    const Retained chosen = retained_.back();
    TIDEKV_RETURN_IF_ERROR(log_->Close());
    Status load = LoadCheckpoint(chosen.manifest, chosen.state);
    if (!load.ok()) {
      closing_ = true;  // the live state is gone and the checkpoint did not load
      return Status(load.code(), "restore failed, the store is closed: " + std::string(load.message()));
    }
    next_version_ = next_to_write_ = version + 1;
    carry_index_.clear();
    carry_index_base_ = false;
    force_full_ = false;
    // No cut can exist during a restore; calls are refused meanwhile anyway.
    GarbagePlan garbage;
    PlanGarbageLocked(UINT64_MAX, &garbage);
    RemoveGarbage(garbage);
    return Status::OK();
  }();
  restoring_ = false;
  return s;
}

}  // namespace tidekv::hlog
