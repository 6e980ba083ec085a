// Checkpoints, recovery and restore of the LSM engine (the protocol is in
// lsm_engine_impl.h; the manifest format in docs/formats/checkpoint.md).
//
// Engine state in a manifest: varint format (1), varint live keys, varint
// next file number, then the version's shape (version.h): which tables, in
// which runs of which levels. The manifest's file list names every table.
#include <algorithm>
#include <chrono>
#include <set>

#include "common/varint.h"
#include "lsm/lsm_engine_impl.h"

namespace tidekv::lsm {

namespace {

using Clock = std::chrono::steady_clock;
constexpr uint64_t kStateFormat = 1;

uint64_t MicrosSince(Clock::time_point t) {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t).count());
}

uint64_t WallMicros() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

std::string EncodeState(uint64_t live_keys, uint64_t next_file_number, const Version& v) {
  std::string out;
  PutVarint64(&out, kStateFormat);
  PutVarint64(&out, live_keys);
  PutVarint64(&out, next_file_number);
  out += EncodeVersionShape(v);
  return out;
}

}  // namespace

class LsmEngine::Ticket final : public CheckpointTicket {
 public:
  VersionRef tables;                            // the runs older than the frozen memtables
  std::vector<std::shared_ptr<Frozen>> frozen;  // oldest first; flushed before the manifest
  uint64_t live_keys = 0;
  uint64_t next_file_number = 0;
  CheckpointRequest request;
  uint64_t created_at_micros = 0;
  uint64_t pause_micros = 0;
  Clock::time_point cut_time;
};

Status LsmEngine::BeginCheckpoint(const CheckpointRequest& request, std::shared_ptr<CheckpointTicket>* out) {
  const auto start = Clock::now();
  auto t = std::make_shared<Ticket>();
  {
    Lock lock(mu_);
    TIDEKV_RETURN_IF_ERROR(CheckOpen());
    if (restoring_) return Status::Busy("a restore is in progress");
    // The cut: from here the active memtable is immutable. It joins the flush
    // queue without waiting for room (a checkpoint never stalls on the tree).
    if (mem_->entries() > 0) FreezeMemtableLocked();
    t->frozen.assign(frozen_.begin(), frozen_.end());
    t->tables = version_;
    t->live_keys = live_keys_;
    t->version = next_version_++;
    std::lock_guard<std::mutex> ck(ckpt_mu_);
    ++outstanding_cuts_;
  }
  t->request = request;
  t->created_at_micros = WallMicros();
  t->cut_time = Clock::now();
  t->pause_micros = MicrosSince(start);
  *out = std::move(t);
  return Status::OK();
}

Status LsmEngine::FinishCheckpoint(const std::shared_ptr<CheckpointTicket>& ticket, CheckpointInfo* info) {
  auto* t = static_cast<Ticket*>(ticket.get());
  {
    std::unique_lock<std::mutex> ck(ckpt_mu_);
    ckpt_cv_.wait(ck, [&] { return next_to_write_ == t->version; });
  }
  auto finish_turn = [&] {
    {
      std::lock_guard<std::mutex> ck(ckpt_mu_);
      ++next_to_write_;
      --outstanding_cuts_;
    }
    ckpt_cv_.notify_all();
  };
  // The frozen memtables of the cut become level-0 tables (newest first).
  auto v = std::make_shared<Version>(*t->tables);
  {
    Lock lock(mu_);
    const uint64_t failures_before = flush_failures_;
    flush_cv_.notify_one();  // a flush waiting to retry after an error tries now
    progress_cv_.wait(lock, [&] {
      return flush_failures_ > failures_before ||
             std::all_of(t->frozen.begin(), t->frozen.end(), [](const auto& f) { return f->flushed; });
    });
    if (!std::all_of(t->frozen.begin(), t->frozen.end(), [](const auto& f) { return f->flushed; })) {
      const Status e = flush_error_;
      lock.unlock();
      finish_turn();
      return Status(e.code(), "checkpoint failed writing a memtable: " + std::string(e.message()));
    }
    t->next_file_number = next_file_number_;
  }
  if (v->levels.empty() && !t->frozen.empty()) v->levels.resize(1);
  for (const auto& f : t->frozen) v->levels[0].insert(v->levels[0].begin(), Run{{f->table}});

  CheckpointManifest manifest;
  manifest.engine = EngineKind::kLsm;
  manifest.engine_state = EncodeState(t->live_keys, t->next_file_number, *v);
  std::set<uint64_t> previous;
  {
    std::lock_guard<std::mutex> ck(ckpt_mu_);
    if (!retained_.empty()) {
      for (const TableRef& table : retained_.back().version->AllTables()) previous.insert(table->number());
    }
  }
  uint64_t table_bytes = 0, new_bytes = 0;
  for (const TableRef& table : v->AllTables()) {
    manifest.files.push_back(table->name());
    table_bytes += table->bytes();
    if (!previous.count(table->number())) new_bytes += table->bytes();
  }
  CheckpointInfo& i = manifest.info;
  i.version = t->version;
  i.created_at_micros = t->created_at_micros;
  i.pause_micros = t->pause_micros;
  i.meta = t->request.meta;
  i.meta_kind = t->request.meta_kind;
  i.duration_micros = MicrosSince(t->cut_time);
  CountManifestItself(&manifest, new_bytes, table_bytes);
  uint64_t written = 0;
  // The new tables' directory entries must be durable before a manifest names them.
  Status s = new_bytes > 0 ? env_->SyncDir(dir_) : Status::OK();
  if (s.ok()) s = WriteManifest(env_, dir_, manifest, &written);
  if (!s.ok()) {
    // The rename may have happened before the failure (a failed directory
    // fsync): a manifest this engine does not retain would name tables it
    // goes on to delete, so it must not stay.
    if (env_->DeleteFile(JoinPath(dir_, ManifestFileName(t->version))).ok()) (void)env_->SyncDir(dir_);
  }
  std::vector<std::string> drop_manifests;
  std::vector<Retained> dropped;
  if (s.ok()) {
    Lock lock(mu_);
    std::lock_guard<std::mutex> ck(ckpt_mu_);
    retained_.push_back(Retained{manifest, v, t->live_keys});
    DropOldestRetained(&retained_, options_.retain_checkpoints, &drop_manifests, &dropped);
  }
  // Manifests first: a crash after this leaves tables no manifest names
  // (deleted at the next open), never a manifest without its tables.
  for (const std::string& name : drop_manifests) (void)env_->DeleteFile(JoinPath(dir_, name));
  if (!drop_manifests.empty()) (void)env_->SyncDir(dir_);
  dropped.clear();
  t->frozen.clear();
  t->tables.reset();
  v.reset();
  janitor_->Drain();
  finish_turn();
  if (s.ok()) *info = manifest.info;
  return s;
}

void LsmEngine::ListCheckpoints(std::vector<CheckpointInfo>* checkpoints) {
  std::lock_guard<std::mutex> ck(ckpt_mu_);
  RetainedInfos(retained_, checkpoints);
}

uint64_t LsmEngine::LastCheckpointVersion() {
  std::lock_guard<std::mutex> ck(ckpt_mu_);
  return NewestRetainedVersion(retained_);
}

// ---------------------------------------------------------------------------
// Recovery and restore

Status LsmEngine::LoadManifest(const CheckpointManifest& manifest, std::map<uint64_t, TableRef>* opened,
                               Retained* out) {
  const std::string where = JoinPath(dir_, ManifestFileName(manifest.info.version));
  const Slice state(manifest.engine_state);
  const char* p = state.data();
  const char* end = p + state.size();
  uint64_t format = 0, live_keys = 0, next_file = 0;
  p = DecodeVarint64(p, end, &format);
  if (p != nullptr && format != kStateFormat) {
    return Status::Corruption(where + ": checkpoint state format " + std::to_string(format) +
                              " is not one this version reads (" + std::to_string(kStateFormat) + ")");
  }
  if (p != nullptr) p = DecodeVarint64(p, end, &live_keys);
  if (p != nullptr) p = DecodeVarint64(p, end, &next_file);
  if (p == nullptr) return Status::Corruption(where + ": checkpoint state is malformed");
  auto v = std::make_shared<Version>();
  TIDEKV_RETURN_IF_ERROR(DecodeVersionShape(
      Slice(p, static_cast<size_t>(end - p)), where,
      [&](uint64_t number, TableRef* table) -> Status {
        auto it = opened->find(number);
        if (it != opened->end()) {
          *table = it->second;
          return Status::OK();
        }
        TIDEKV_RETURN_IF_ERROR(OpenTable(number, table));
        // Every data block's CRC once, when the table is first opened: a
        // damaged table fails open (naming it) instead of a later read.
        TIDEKV_RETURN_IF_ERROR((*table)->reader->VerifyBlocks());
        opened->emplace(number, *table);
        return Status::OK();
      },
      v.get()));
  std::set<std::string> listed(manifest.files.begin(), manifest.files.end());
  for (const TableRef& t : v->AllTables()) {
    if (!listed.count(t->name())) return Status::Corruption(where + ": a table is not in the file list");
  }
  TIDEKV_RETURN_IF_ERROR(v->Check(/*leveled=*/false));
  if (leveled_) {
    // Written by size-tiered compaction (several runs in a level): the runs,
    // newest first, become level 0, which leveled compaction then merges down.
    bool several = false;
    for (size_t l = 1; l < v->levels.size(); ++l) several |= v->levels[l].size() > 1;
    if (several) {
      std::vector<Run> all;
      for (auto& level : v->levels) all.insert(all.end(), level.begin(), level.end());
      v->levels.assign(1, std::move(all));
    }
  }
  next_file_number_ = std::max(next_file_number_, next_file);
  out->manifest = manifest;
  out->version = std::move(v);
  out->live_keys = live_keys;
  return Status::OK();
}

Status LsmEngine::Recover() {
  std::vector<std::string> names;
  TIDEKV_RETURN_IF_ERROR(env_->ListDir(dir_, &names));
  const std::vector<uint64_t> versions = ManifestVersionsNewestFirst(names);
  uint64_t max_table = 0;
  for (const std::string& name : names) {
    uint64_t n = 0;
    if (ParseTableFileName(name, &n)) max_table = std::max(max_table, n);
  }
  // File numbers are never reused, not even those of orphans.
  next_file_number_ = max_table + 1;
  std::map<uint64_t, TableRef> opened;
  std::vector<Retained> retained;

  if (!versions.empty()) {
    size_t chosen = 0;
    TIDEKV_RETURN_IF_ERROR(LoadNewestCheckpoint(
        env_, dir_, versions, EngineKind::kLsm, options_.recover_latest_valid,
        [&](uint64_t, CheckpointManifest* manifest) -> Status {
          Retained r;
          Status s = LoadManifest(*manifest, &opened, &r);
          if (!s.ok()) {
            opened.clear();
            return s;
          }
          retained.push_back(std::move(r));
          return Status::OK();
        },
        &chosen));
    // Older ones stay retained if they load (their tables checked too).
    for (size_t i = chosen + 1; i < versions.size(); ++i) {
      CheckpointManifest manifest;
      Retained r;
      std::map<uint64_t, TableRef> before = opened;
      if (ReadManifest(env_, dir_, versions[i], &manifest).ok() && manifest.engine == EngineKind::kLsm &&
          LoadManifest(manifest, &opened, &r).ok()) {
        retained.insert(retained.begin(), std::move(r));
      } else {
        opened = std::move(before);
        (void)env_->DeleteFile(JoinPath(dir_, ManifestFileName(versions[i])));
      }
    }
    while (retained.size() > options_.retain_checkpoints) {
      (void)env_->DeleteFile(JoinPath(dir_, ManifestFileName(retained.front().manifest.info.version)));
      retained.erase(retained.begin());
    }
    const Retained& newest = retained.back();
    version_ = newest.version;
    live_keys_ = newest.live_keys;
    next_version_ = newest.manifest.info.version + 1;
    {
      std::lock_guard<std::mutex> ck(ckpt_mu_);
      next_to_write_ = next_version_;
      retained_ = std::move(retained);
    }
  }
  // Files no retained checkpoint names: tables flushed or compacted after the
  // last checkpoint, half-written manifests, the tables of dropped manifests.
  std::set<std::string> needed;
  {
    std::lock_guard<std::mutex> ck(ckpt_mu_);
    for (const Retained& r : retained_) needed.insert(r.manifest.files.begin(), r.manifest.files.end());
  }
  for (const std::string& name : names) {
    uint64_t n = 0;
    const bool temp = name.size() > 4 && name.compare(name.size() - 4, 4, ".tmp") == 0;
    if ((ParseTableFileName(name, &n) && !needed.count(name)) || temp) (void)env_->DeleteFile(JoinPath(dir_, name));
  }
  return Status::OK();
}

Status LsmEngine::Restore(uint64_t version) {
  {
    Lock lock(mu_);
    TIDEKV_RETURN_IF_ERROR(CheckOpen());
    if (restoring_) return Status::Busy("a restore is already in progress");
    restoring_ = true;  // no new cuts from here
  }
  {
    // Cuts taken before are written first (they may become the version restored).
    std::unique_lock<std::mutex> ck(ckpt_mu_);
    ckpt_cv_.wait(ck, [&] { return outstanding_cuts_ == 0; });
  }
  std::vector<Retained> dropped;
  VersionRef old_version;
  std::shared_ptr<MemTable> old_mem;
  std::deque<std::shared_ptr<Frozen>> old_frozen;
  Lock lock(mu_);
  if (closing_) {
    restoring_ = false;
    return Status::Closed("store closed during restore");
  }
  PauseBackgroundLocked(lock);
  Status s = [&]() -> Status {
    std::lock_guard<std::mutex> ck(ckpt_mu_);
    auto target = std::find_if(retained_.begin(), retained_.end(),
                               [&](const Retained& r) { return r.manifest.info.version == version; });
    if (target == retained_.end()) {
      return Status::VersionNotFound("checkpoint version " + std::to_string(version) + " is not retained");
    }
    // Newer checkpoints go first (durably), so a crash from here on recovers `version`.
    for (auto it = retained_.end(); it-- != target + 1;) {
      TIDEKV_RETURN_IF_ERROR(env_->DeleteFile(JoinPath(dir_, ManifestFileName(it->manifest.info.version))));
    }
    TIDEKV_RETURN_IF_ERROR(env_->SyncDir(dir_));
    for (auto it = target + 1; it != retained_.end(); ++it) dropped.push_back(std::move(*it));
    retained_.erase(target + 1, retained_.end());
    const Retained& chosen = retained_.back();
    old_version = std::move(version_);
    old_mem = std::move(mem_);
    old_frozen.swap(frozen_);
    version_ = chosen.version;
    mem_.reset(NewMemTable());
    live_keys_ = chosen.live_keys;
    live_keys_stale_ = false;
    next_version_ = next_to_write_ = version + 1;
    return Status::OK();
  }();
  if (manual_requested_ > manual_done_) {
    // A Compact() waiting on the discarded state: it ends, reporting why.
    manual_done_ = manual_requested_;
    manual_status_ = Status::Busy("compaction stopped: the store was restored");
  }
  restoring_ = false;
  ResumeBackgroundLocked();
  progress_cv_.notify_all();
  lock.unlock();
  // The discarded state's files go once nothing (a range cursor) holds them.
  dropped.clear();
  old_version.reset();
  old_mem.reset();
  old_frozen.clear();
  janitor_->Drain();
  return s;
}

}  // namespace tidekv::lsm
