// Checkpoints, recovery and restore of the append log (the protocol is in
// append_log_impl.h; the formats in docs/formats/appendlog.md).
//
// Engine state in a manifest: varint format (1), next sequence number, next
// segment number, next hint number, the active segment's number (0: none),
// the segment count, then per segment: number, length, smallest sequence
// number, hint file count and their numbers. The file list names every
// segment and hint file.
#include <algorithm>
#include <chrono>
#include <cstring>
#include <set>
#include <thread>

#include "appendlog/append_log_impl.h"
#include "common/hash.h"
#include "common/large_array.h"
#include "common/varint.h"

namespace tidekv::appendlog {

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

}  // namespace

struct AppendLogEngine::LoadedState {
  KeyDir keydir{16};
  std::vector<uint64_t> live_bytes;  // per segment of the Retained, in its order
};

class AppendLogEngine::Ticket final : public CheckpointTicket {
 public:
  std::vector<SegmentCut> segments;
  uint32_t active = 0;
  uint64_t next_seq = 0;
  CheckpointRequest request;
  uint64_t created_at_micros = 0;
  uint64_t pause_micros = 0;
  Clock::time_point cut_time;
};

Status AppendLogEngine::BeginCheckpoint(const CheckpointRequest& request, std::shared_ptr<CheckpointTicket>* out) {
  const auto start = Clock::now();
  auto t = std::make_shared<Ticket>();
  {
    Lock lock(mu_);
    TIDEKV_RETURN_IF_ERROR(CheckOpen());
    if (restoring_) return Status::Busy("a restore is in progress");
    // The cut: every record appended so far, written out of the buffer so the
    // checkpoint writer reads it through the mapping.
    TIDEKV_RETURN_IF_ERROR(writer_.Flush());
    for (const SegmentRef& s : live_) t->segments.push_back(SegmentCut{s, s->length, s->min_seq, {}});
    t->active = writer_.active() ? writer_.segment()->number() : 0;
    t->next_seq = next_seq_;
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

Status AppendLogEngine::FinishCheckpoint(const std::shared_ptr<CheckpointTicket>& ticket, CheckpointInfo* info) {
  auto* t = static_cast<Ticket*>(ticket.get());
  {
    std::unique_lock<std::mutex> ck(ckpt_mu_);
    ckpt_cv_.wait(ck, [&] { return next_to_write_ == t->version; });
  }
  uint64_t new_bytes = 0, total_bytes = 0;
  std::set<std::string> previous;  // files of the previous checkpoint
  {
    std::lock_guard<std::mutex> ck(ckpt_mu_);
    if (!retained_.empty()) previous.insert(retained_.back().manifest.files.begin(), retained_.back().manifest.files.end());
  }
  // Each segment: its bytes up to the cut made durable, and hints for the
  // records no hint file covers yet.
  Status s;
  for (SegmentCut& cut : t->segments) {
    Segment& seg = *cut.segment;
    uint64_t synced = 0, hinted_end = 0;
    std::shared_ptr<const MappedRegion> region;
    {
      Lock lock(mu_);
      synced = seg.synced;
      hinted_end = seg.hinted_end;
      cut.hints = seg.hints;
      region = seg.region();
    }
    if (synced < cut.length) {
      s = seg.file()->Sync();
      if (!s.ok()) break;
      Lock lock(mu_);
      seg.synced = std::max(seg.synced, cut.length);
    }
    if (hinted_end < cut.length) {
      uint64_t number = 0;
      {
        Lock lock(mu_);
        number = next_hint_++;
      }
      uint64_t bytes = 0;
      s = WriteHintFile(env_, dir_, number, seg.number(), region->data(), hinted_end, cut.length, &bytes, nullptr);
      if (!s.ok()) break;
      auto hint = std::make_shared<HintFile>(number, bytes, janitor_);
      cut.hints.push_back(hint);
      Lock lock(mu_);
      if (seg.hinted_end == hinted_end) {
        seg.hints.push_back(hint);
        seg.hinted_end = cut.length;
        if (seg.sealed && seg.hinted_end == seg.length) {  // now whole: the merge thread may consolidate it
          merge_wanted_ = true;
          merge_cv_.notify_one();
        }
      }
    }
  }
  auto finish_turn = [&] {
    {
      std::lock_guard<std::mutex> ck(ckpt_mu_);
      ++next_to_write_;
      --outstanding_cuts_;
    }
    ckpt_cv_.notify_all();
  };
  if (!s.ok()) {
    t->segments.clear();
    finish_turn();
    janitor_->Drain();
    return Status(s.code(), "checkpoint failed: " + std::string(s.message()));
  }

  CheckpointManifest manifest;
  manifest.engine = EngineKind::kAppendLog;
  std::string& state = manifest.engine_state;
  PutVarint64(&state, kStateFormat);
  {
    Lock lock(mu_);
    PutVarint64(&state, t->next_seq);
    PutVarint64(&state, next_segment_);
    PutVarint64(&state, next_hint_);
  }
  PutVarint64(&state, t->active);
  PutVarint64(&state, t->segments.size());
  for (const SegmentCut& cut : t->segments) {
    PutVarint64(&state, cut.segment->number());
    PutVarint64(&state, cut.length);
    PutVarint64(&state, cut.min_seq == UINT64_MAX ? 0 : cut.min_seq + 1);  // 0: no records
    PutVarint64(&state, cut.hints.size());
    const std::string name = cut.segment->name();
    manifest.files.push_back(name);
    total_bytes += cut.length;
    // A segment's bytes are new unless the previous checkpoint had it; then
    // only what it gained since is (approximated by its hint coverage).
    if (!previous.count(name)) new_bytes += cut.length;
    for (const HintFileRef& h : cut.hints) {
      PutVarint64(&state, h->number);
      manifest.files.push_back(h->name());
      total_bytes += h->bytes;
      if (!previous.count(h->name())) new_bytes += h->bytes;
    }
  }
  // Bytes appended to segments the previous checkpoint already had.
  {
    std::lock_guard<std::mutex> ck(ckpt_mu_);
    if (!retained_.empty()) {
      for (const SegmentCut& cut : t->segments) {
        for (const SegmentCut& old : retained_.back().segments) {
          if (old.segment == cut.segment && cut.length > old.length) new_bytes += cut.length - old.length;
        }
      }
    }
  }
  CheckpointInfo& i = manifest.info;
  i.version = t->version;
  i.created_at_micros = t->created_at_micros;
  i.pause_micros = t->pause_micros;
  i.meta = t->request.meta;
  i.meta_kind = t->request.meta_kind;
  i.duration_micros = MicrosSince(t->cut_time);
  CountManifestItself(&manifest, new_bytes, total_bytes);
  uint64_t written = 0;
  // New segments' and hint files' directory entries are durable before a manifest names them.
  s = env_->SyncDir(dir_);
  if (s.ok()) s = WriteManifest(env_, dir_, manifest, &written);
  if (!s.ok()) {
    // A manifest this engine does not retain must not stay (its files may go).
    if (env_->DeleteFile(JoinPath(dir_, ManifestFileName(t->version))).ok()) (void)env_->SyncDir(dir_);
  }
  std::vector<std::string> drop_manifests;
  std::vector<Retained> dropped;
  if (s.ok()) {
    Lock lock(mu_);
    std::lock_guard<std::mutex> ck(ckpt_mu_);
    Retained r;
    r.manifest = manifest;
    r.segments = std::move(t->segments);
    r.active = t->active;
    r.next_seq = t->next_seq;
    retained_.push_back(std::move(r));
    DropOldestRetained(&retained_, options_.retain_checkpoints, &drop_manifests, &dropped);
  }
  // Manifests first: a crash after this leaves files no manifest names
  // (deleted at the next open), never a manifest without its files.
  for (const std::string& name : drop_manifests) (void)env_->DeleteFile(JoinPath(dir_, name));
  if (!drop_manifests.empty()) (void)env_->SyncDir(dir_);
  dropped.clear();
  t->segments.clear();
  janitor_->Drain();
  finish_turn();
  if (s.ok()) *info = manifest.info;
  return s;
}

void AppendLogEngine::ListCheckpoints(std::vector<CheckpointInfo>* checkpoints) {
  std::lock_guard<std::mutex> ck(ckpt_mu_);
  RetainedInfos(retained_, checkpoints);
}

uint64_t AppendLogEngine::LastCheckpointVersion() {
  std::lock_guard<std::mutex> ck(ckpt_mu_);
  return NewestRetainedVersion(retained_);
}

// ---------------------------------------------------------------------------
// Loading a checkpoint

Status AppendLogEngine::LoadManifest(const CheckpointManifest& manifest, std::map<uint32_t, SegmentRef>* segments,
                                     std::map<uint64_t, HintFileRef>* hints, Retained* out) {
  const std::string where = JoinPath(dir_, ManifestFileName(manifest.info.version));
  const char* p = manifest.engine_state.data();
  const char* end = p + manifest.engine_state.size();
  auto next = [&](uint64_t* v) {
    if (p != nullptr) p = DecodeVarint64(p, end, v);
    return p != nullptr;
  };
  uint64_t format = 0, next_seq = 0, next_segment = 0, next_hint = 0, active = 0, count = 0;
  if (!next(&format)) return Status::Corruption(where + ": checkpoint state is malformed");
  if (format != kStateFormat) {
    return Status::Corruption(where + ": checkpoint state format " + std::to_string(format) +
                              " is not one this version reads (" + std::to_string(kStateFormat) + ")");
  }
  if (!next(&next_seq) || !next(&next_segment) || !next(&next_hint) || !next(&active) || !next(&count) ||
      active > UINT32_MAX || count > manifest.files.size()) {
    return Status::Corruption(where + ": checkpoint state is malformed");
  }
  const std::set<std::string> listed(manifest.files.begin(), manifest.files.end());
  Retained r;
  r.manifest = manifest;
  r.active = static_cast<uint32_t>(active);
  r.next_seq = next_seq;
  bool active_found = active == 0;
  for (uint64_t k = 0; k < count; ++k) {
    uint64_t number = 0, length = 0, min_seq1 = 0, n_hints = 0;
    if (!next(&number) || !next(&length) || !next(&min_seq1) || !next(&n_hints) || number == 0 ||
        number > UINT32_MAX || length < kFileHeaderBytes || n_hints > manifest.files.size()) {
      return Status::Corruption(where + ": checkpoint state is malformed");
    }
    const uint32_t n = static_cast<uint32_t>(number);
    if (!listed.count(SegmentFileName(n))) return Status::Corruption(where + ": a segment is not in the file list");
    SegmentCut cut;
    auto it = segments->find(n);
    if (it != segments->end()) {
      cut.segment = it->second;
      if (cut.segment->capacity() < length) {
        return Status::Corruption(JoinPath(dir_, SegmentFileName(n)) + ": shorter than a checkpoint needs");
      }
    } else {
      TIDEKV_RETURN_IF_ERROR(Segment::Open(env_, dir_, n, length, janitor_, &cut.segment));
      segments->emplace(n, cut.segment);
    }
    cut.length = length;
    cut.min_seq = min_seq1 == 0 ? UINT64_MAX : min_seq1 - 1;
    for (uint64_t h = 0; h < n_hints; ++h) {
      uint64_t hn = 0;
      if (!next(&hn) || hn == 0) return Status::Corruption(where + ": checkpoint state is malformed");
      if (!listed.count(HintFileName(hn))) return Status::Corruption(where + ": a hint file is not in the file list");
      auto hit = hints->find(hn);
      if (hit == hints->end()) {
        uint64_t bytes = 0;
        TIDEKV_RETURN_IF_ERROR(env_->FileSize(JoinPath(dir_, HintFileName(hn)), &bytes));
        hit = hints->emplace(hn, std::make_shared<HintFile>(hn, bytes, janitor_)).first;
      }
      cut.hints.push_back(hit->second);
    }
    active_found |= n == active;
    r.segments.push_back(std::move(cut));
  }
  if (!active_found || p != end) return Status::Corruption(where + ": checkpoint state is malformed");
  next_segment_ = std::max<uint64_t>(next_segment_, next_segment);
  next_hint_ = std::max(next_hint_, next_hint);
  *out = std::move(r);
  return Status::OK();
}

Status AppendLogEngine::LoadState(const Retained& r, LoadedState* state) {
  // Every hint entry of the checkpoint, then per key the highest sequence.
  struct Entry {
    uint64_t hash;
    uint64_t seq;
    const char* key;  // in its hint file's mapping
    Location loc;
    uint32_t frame8;
    uint32_t segment_index;  // in r.segments
    uint16_t key_bytes;
    bool tombstone;
    bool superseded;         // a newer entry of its key was seen
  };
  struct Job {
    size_t segment_index;
    const HintFile* hint;
  };
  std::vector<Job> jobs;
  uint64_t hint_bytes = 0;
  for (size_t si = 0; si < r.segments.size(); ++si) {
    for (const HintFileRef& h : r.segments[si].hints) {
      jobs.push_back(Job{si, h.get()});
      hint_bytes += h->bytes;
    }
  }
  // Reading, checking and decoding the hint files is most of the work: two
  // threads share it, each taking files worth about half the bytes.
  struct Part {
    std::vector<MappedHints> files;  // keep the mappings the entries' keys point into
    LargeArray<Entry> entries;
    size_t count = 0;
    Status status;
  };
  Part parts[2];
  size_t split = 0;
  for (uint64_t bytes = 0; split < jobs.size() && bytes * 2 < hint_bytes; ++split) bytes += jobs[split].hint->bytes;
  auto parse = [&](Part* part, size_t from, size_t to) {
    uint64_t bytes = 0;
    for (size_t k = from; k < to; ++k) bytes += jobs[k].hint->bytes;
    // An entry takes at least 6 bytes of a hint file: room for the most there
    // can be costs only address space (pages are touched as entries arrive).
    if (!part->entries.Allocate(bytes / 6 + 1)) {
      part->status = Status::Limit("out of memory reading hint files");
      return;
    }
    part->files.resize(to - from);
    for (size_t k = from; k < to && part->status.ok(); ++k) {
      const SegmentCut& cut = r.segments[jobs[k].segment_index];
      MappedHints& file = part->files[k - from];
      const std::string where = JoinPath(dir_, jobs[k].hint->name());
      Status s = MapHintFile(env_, dir_, jobs[k].hint->number, &file);
      if (s.ok() && file.segment_number != cut.segment->number()) {
        s = Status::Corruption(where + ": hints of segment " + std::to_string(file.segment_number) +
                               " listed for segment " + std::to_string(cut.segment->number()));
      }
      for (size_t b = 0; s.ok() && b < file.blocks.size(); ++b) {
        s = ForEachHint(file.blocks[b], where, [&](const HintEntry& e) -> Status {
          if (e.offset < kFileHeaderBytes) return Status::Corruption(where + ": hint entry before the segment's records");
          // Records past the checkpoint's length came later: not part of it.
          if (e.offset + e.frame_bytes > cut.length) return Status::OK();
          if (part->count == part->entries.size()) {
            return Status::Corruption(where + ": more hint entries than its bytes can hold");
          }
          part->entries[part->count++] =
              Entry{HashKey(e.key), e.seq, e.key.data(), MakeLocation(file.segment_number, e.offset),
                    static_cast<uint32_t>(e.frame_bytes >> 3), static_cast<uint32_t>(jobs[k].segment_index),
                    static_cast<uint16_t>(e.key.size()), e.type == RecordType::kTombstone, false};
          return Status::OK();
        });
      }
      part->status = s;
    }
  };
  if (split < jobs.size() && hint_bytes >= (1u << 20)) {
    std::thread helper(parse, &parts[1], split, jobs.size());
    parse(&parts[0], 0, split);
    helper.join();
  } else {
    parse(&parts[0], 0, jobs.size());
  }
  TIDEKV_RETURN_IF_ERROR(parts[0].status);
  TIDEKV_RETURN_IF_ERROR(parts[1].status);
  const size_t first = parts[0].count;
  const size_t count = first + parts[1].count;
  auto entry = [&](size_t i) -> Entry& { return i < first ? parts[0].entries[i] : parts[1].entries[i - first]; };
  if (count >= UINT32_MAX) return Status::Unsupported("more than 4G hint entries in one checkpoint");
  // The directory itself does the deduplication: while loading, a slot's loc
  // holds 1 + the index of its key's newest entry so far.
  KeyDir& dir = state->keydir;
  dir = KeyDir(16);
  if (!dir.Reserve(count)) return Status::Limit("out of memory for the key directory");
  constexpr size_t kAhead = 16;  // slots fetched ahead: the probes' cache misses overlap
  for (size_t i = 0; i < count; ++i) {
    if (i + kAhead < count) dir.Prefetch(entry(i + kAhead).hash);
    const Entry& e = entry(i);
    KeyDir::Slot* slot = dir.Find(e.hash, [&](Location l) {
      const Entry& o = entry(l - 1);
      return o.key_bytes == e.key_bytes && std::memcmp(o.key, e.key, e.key_bytes) == 0;
    });
    if (slot == nullptr) {
      (void)dir.Insert(e.hash, i + 1);  // reserved: cannot fail
    } else if (e.seq > entry(slot->loc - 1).seq) {
      entry(slot->loc - 1).superseded = true;
      slot->loc = i + 1;
    } else {
      entry(i).superseded = true;
    }
  }
  // Each winner's slot takes its location (entries in order, their slots
  // fetched ahead); a winning tombstone means the key is absent.
  // Neither an entry index + 1 (fewer than 2^32 - 1 entries) nor a real location (segment 0).
  constexpr Location kDeleted = UINT32_MAX;
  state->live_bytes.assign(r.segments.size(), 0);
  bool deleted = false;
  for (size_t i = 0; i < count; ++i) {
    if (i + kAhead < count) dir.Prefetch(entry(i + kAhead).hash);
    const Entry& e = entry(i);
    if (e.superseded) continue;
    KeyDir::Slot* slot = dir.FindLocation(e.hash, i + 1);
    if (e.tombstone) {
      slot->loc = kDeleted;
      deleted = true;
      // Counted live, as a merge counts the tombstones it keeps: the newest
      // record of a deleted key may still be needed.
      state->live_bytes[e.segment_index] += uint64_t{e.frame8} << 3;
      continue;
    }
    slot->loc = e.loc;
    state->live_bytes[e.segment_index] += uint64_t{e.frame8} << 3;
  }
  if (deleted) dir.RemoveIf([](const KeyDir::Slot& slot) { return slot.loc == kDeleted; });
  return Status::OK();
}

Status AppendLogEngine::InstallStateLocked(const Retained& r, LoadedState* state) {
  std::vector<SegmentRef> live, table;
  SegmentRef active;
  for (size_t i = 0; i < r.segments.size(); ++i) {
    const SegmentCut& cut = r.segments[i];
    Segment& s = *cut.segment;
    if (s.number() == r.active) {
      // Appends resume here: whatever followed the checkpoint is cut off.
      TIDEKV_RETURN_IF_ERROR(s.Resize(cut.length));
      TIDEKV_RETURN_IF_ERROR(s.Resize(std::max<uint64_t>(options_.segment_bytes, cut.length)));
      active = cut.segment;
    } else if (s.capacity() != cut.length) {
      TIDEKV_RETURN_IF_ERROR(s.Resize(cut.length));
    }
    s.length = cut.length;
    s.synced = cut.length;
    s.sealed = s.number() != r.active;
    s.min_seq = cut.min_seq;
    s.hints = cut.hints;
    s.hinted_end = cut.length;
    s.live_bytes = state->live_bytes[i];
    s.dead_bytes = cut.length - kFileHeaderBytes - std::min(cut.length - kFileHeaderBytes, s.live_bytes);
    live.push_back(cut.segment);
    if (table.size() <= s.number()) table.resize(s.number() + 1);
    table[s.number()] = cut.segment;
  }
  keydir_ = std::move(state->keydir);
  live_ = std::move(live);
  seg_table_ = std::move(table);
  writer_.Reset(active);
  next_seq_ = r.next_seq;
  return Status::OK();
}

Status AppendLogEngine::Recover() {
  std::vector<std::string> names;
  TIDEKV_RETURN_IF_ERROR(env_->ListDir(dir_, &names));
  const std::vector<uint64_t> versions = ManifestVersionsNewestFirst(names);
  // File numbers are never reused, not even those of orphans.
  for (const std::string& name : names) {
    uint32_t seg = 0;
    uint64_t hint = 0;
    if (ParseSegmentFileName(name, &seg)) next_segment_ = std::max<uint32_t>(next_segment_, seg + 1);
    if (ParseHintFileName(name, &hint)) next_hint_ = std::max(next_hint_, hint + 1);
  }
  std::map<uint32_t, SegmentRef> segments;
  std::map<uint64_t, HintFileRef> hints;
  std::vector<Retained> retained;
  if (!versions.empty()) {
    size_t chosen = 0;
    LoadedState state;
    TIDEKV_RETURN_IF_ERROR(LoadNewestCheckpoint(
        env_, dir_, versions, EngineKind::kAppendLog, options_.recover_latest_valid,
        [&](uint64_t, CheckpointManifest* manifest) -> Status {
          Retained r;
          Status s = LoadManifest(*manifest, &segments, &hints, &r);
          if (s.ok()) s = LoadState(r, &state);
          if (!s.ok()) {
            segments.clear();
            hints.clear();
            return s;
          }
          retained.push_back(std::move(r));
          return Status::OK();
        },
        &chosen));
    // Older ones stay retained if their files are there.
    for (size_t i = chosen + 1; i < versions.size(); ++i) {
      CheckpointManifest manifest;
      Retained r;
      if (ReadManifest(env_, dir_, versions[i], &manifest).ok() && manifest.engine == EngineKind::kAppendLog &&
          LoadManifest(manifest, &segments, &hints, &r).ok()) {
        retained.insert(retained.begin(), std::move(r));
      } else {
        (void)env_->DeleteFile(JoinPath(dir_, ManifestFileName(versions[i])));
      }
    }
    while (retained.size() > options_.retain_checkpoints) {
      (void)env_->DeleteFile(JoinPath(dir_, ManifestFileName(retained.front().manifest.info.version)));
      retained.erase(retained.begin());
    }
    {
      Lock lock(mu_);
      TIDEKV_RETURN_IF_ERROR(InstallStateLocked(retained.back(), &state));
      next_version_ = retained.back().manifest.info.version + 1;
    }
    std::lock_guard<std::mutex> ck(ckpt_mu_);
    next_to_write_ = next_version_;
    retained_ = std::move(retained);
  }
  // Files no retained checkpoint names: segments and hints written after the
  // last checkpoint, half-written manifests, the files of dropped manifests.
  std::set<std::string> needed;
  {
    std::lock_guard<std::mutex> ck(ckpt_mu_);
    for (const Retained& r : retained_) needed.insert(r.manifest.files.begin(), r.manifest.files.end());
  }
  for (const std::string& name : names) {
    uint32_t seg = 0;
    uint64_t hint = 0;
    const bool temp = name.size() > 4 && name.compare(name.size() - 4, 4, ".tmp") == 0;
    const bool ours = ParseSegmentFileName(name, &seg) || ParseHintFileName(name, &hint);
    if ((ours && !needed.count(name)) || temp) (void)env_->DeleteFile(JoinPath(dir_, name));
  }
  return Status::OK();
}

Status AppendLogEngine::Restore(uint64_t version) {
  {
    Lock lock(mu_);
    TIDEKV_RETURN_IF_ERROR(CheckOpen());
    if (restoring_) return Status::Busy("a restore is already in progress");
    restoring_ = true;  // no new cuts, no new merges from here
  }
  {
    // Cuts taken before are written first (they may become the version restored).
    std::unique_lock<std::mutex> ck(ckpt_mu_);
    ckpt_cv_.wait(ck, [&] { return outstanding_cuts_ == 0; });
  }
  Retained target;
  {
    std::lock_guard<std::mutex> ck(ckpt_mu_);
    auto it = std::find_if(retained_.begin(), retained_.end(),
                           [&](const Retained& r) { return r.manifest.info.version == version; });
    if (it != retained_.end()) target = *it;
  }
  if (target.manifest.info.version != version) {
    Lock lock(mu_);
    restoring_ = false;
    merge_cv_.notify_one();
    return Status::VersionNotFound("checkpoint version " + std::to_string(version) + " is not retained");
  }
  // A running merge stops at its next batch (leaving a whole state).
  ++interrupt_merge_;
  std::unique_lock<std::mutex> merging(merge_mu_);
  --interrupt_merge_;
  // The target's key directory is read before anything is discarded, so a
  // damaged hint file fails the restore and leaves the store as it was.
  LoadedState state;
  Status s = LoadState(target, &state);
  std::vector<Retained> dropped;
  std::vector<SegmentRef> old_live, old_table;
  Lock lock(mu_);
  if (s.ok() && closing_) s = Status::Closed("store closed during restore");
  if (s.ok()) {
    s = [&]() -> Status {
      std::lock_guard<std::mutex> ck(ckpt_mu_);
      auto it = std::find_if(retained_.begin(), retained_.end(),
                             [&](const Retained& r) { return r.manifest.info.version == version; });
      // Newer checkpoints go first (durably), so a crash from here on recovers
      // `version`. Newest first: one whose manifest is gone leaves the list
      // at once, so a failure part-way leaves a list that matches the disk
      // (a manifest already missing counts as deleted).
      while (retained_.size() > static_cast<size_t>(it - retained_.begin()) + 1) {
        Status d = env_->DeleteFile(JoinPath(dir_, ManifestFileName(retained_.back().manifest.info.version)));
        if (!d.ok() && !d.IsNotFound()) return d;
        dropped.push_back(std::move(retained_.back()));
        retained_.pop_back();
        next_version_ = next_to_write_ = retained_.back().manifest.info.version + 1;
      }
      TIDEKV_RETURN_IF_ERROR(env_->SyncDir(dir_));
      next_version_ = next_to_write_ = version + 1;
      return Status::OK();
    }();
  }
  if (s.ok()) {
    old_live = std::move(live_);
    old_table = std::move(seg_table_);
    writer_.Reset(nullptr);
    Status installed = InstallStateLocked(target, &state);
    if (!installed.ok()) {
      broken_ = Status(installed.code(), "restore failed half-way, reopen the store: " + std::string(installed.message()));
      s = installed;
    }
    merge_wanted_ = true;
    merge_cv_.notify_one();
  }
  restoring_ = false;
  merge_cv_.notify_one();
  lock.unlock();
  merging.unlock();
  // The discarded state's files go once nothing holds them.
  dropped.clear();
  old_live.clear();
  old_table.clear();
  target = Retained();
  janitor_->Drain();
  return s;
}

}  // namespace tidekv::appendlog
