// The append log's merge: rewriting the live records of mostly-dead sealed
// segments into new ones (the protocol is in append_log_impl.h).
#include <algorithm>
#include <chrono>
#include <set>

#include "appendlog/append_log_impl.h"
#include "common/hash.h"

namespace tidekv::appendlog {

namespace {

using Clock = std::chrono::steady_clock;

uint64_t MicrosSince(Clock::time_point t) {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t).count());
}

// A record of an input segment on its way through a merge batch.
struct Candidate {
  uint64_t offset;      // in the input
  const char* frame;    // in the input's mapping
  uint64_t frame_bytes;
  uint64_t hash;
  bool tombstone;
  bool keep = false;
  Segment* output = nullptr;
  uint64_t new_offset = 0;
};

}  // namespace

bool AppendLogEngine::WantsMergeLocked(const Segment& s) const {
  const uint64_t bytes = s.length > kFileHeaderBytes ? s.length - kFileHeaderBytes : 0;
  return bytes > 0 && static_cast<double>(s.dead_bytes) >= options_.merge_dead_ratio * static_cast<double>(bytes);
}

std::vector<SegmentRef> AppendLogEngine::PickMergeLocked(bool manual) const {
  std::vector<SegmentRef> inputs;
  for (const SegmentRef& s : live_) {
    if (s->sealed && (manual ? s->dead_bytes > 0 : WantsMergeLocked(*s))) inputs.push_back(s);
  }
  std::sort(inputs.begin(), inputs.end(), [](const SegmentRef& a, const SegmentRef& b) { return a->number() < b->number(); });
  return inputs;
}

void AppendLogEngine::MergeLoop() {
  while (true) {
    {
      Lock lock(mu_);
      merge_cv_.wait(lock, [&] { return stop_merge_ || (merge_wanted_ && !restoring_); });
      if (stop_merge_) return;
      merge_wanted_ = false;
    }
    // Inputs are picked with merge_mu_ held, so no restore or Compact runs
    // between the pick and the merge.
    Status s;
    {
      std::lock_guard<std::mutex> merging(merge_mu_);
      std::vector<SegmentRef> inputs;
      {
        Lock lock(mu_);
        if (stop_merge_) return;
        if (!restoring_) inputs = PickMergeLocked(/*manual=*/false);
      }
      CompactionResult ignored;
      if (!inputs.empty()) s = RunMerge(std::move(inputs), &ignored);
      if (s.ok()) s = ConsolidateHints();
    }
    janitor_->Drain();
    // A failure is not retried until something changes (a seal, a write that
    // kills a record of a sealed segment, a Compact): no busy loop on a bad disk.
    if (!s.ok() && s.code() != StatusCode::kBusy) {
      Lock lock(mu_);
      ++merge_failures_;
    }
  }
}

Status AppendLogEngine::ConsolidateHints() {
  // A sealed segment collects a hint delta per checkpoint of its active
  // life; recovery reads them all. Once it has several, one file covering the
  // whole segment replaces them (retained checkpoints keep the old ones).
  constexpr size_t kMostHintFiles = 4;
  while (true) {
    SegmentRef seg;
    std::vector<HintFileRef> replaced;
    uint64_t number = 0;
    {
      Lock lock(mu_);
      if (interrupted_merge()) return Status::Busy("merge interrupted");
      for (const SegmentRef& s : live_) {
        if (s->sealed && s->hints.size() > kMostHintFiles && s->hinted_end == s->length) {
          seg = s;
          break;
        }
      }
      if (seg == nullptr) return Status::OK();
      replaced = seg->hints;
      number = next_hint_++;
    }
    uint64_t bytes = 0;
    // Sealed: its bytes and length are fixed; the mapping is held for the walk.
    std::shared_ptr<const MappedRegion> region = seg->region();
    TIDEKV_RETURN_IF_ERROR(
        WriteHintFile(env_, dir_, number, seg->number(), region->data(), kFileHeaderBytes, seg->length, &bytes, nullptr));
    auto whole = std::make_shared<HintFile>(number, bytes, janitor_);
    Lock lock(mu_);
    if (seg->hints == replaced) {
      seg->hints = {whole};
      ++hint_consolidations_;
    }
  }
}

Status AppendLogEngine::Compact(CompactionResult* result) {
  std::lock_guard<std::mutex> merging(merge_mu_);
  std::vector<SegmentRef> inputs;
  {
    Lock lock(mu_);
    TIDEKV_RETURN_IF_ERROR(CheckOpen());
    if (restoring_) return Status::Busy("a restore is in progress");
    // The active segment joins when it holds dead bytes: sealing it lets a
    // compaction reclaim everything reclaimable now.
    if (writer_.active() && writer_.segment()->dead_bytes > 0) TIDEKV_RETURN_IF_ERROR(SealActiveLocked());
    inputs = PickMergeLocked(/*manual=*/true);
  }
  Status s = inputs.empty() ? Status::OK() : RunMerge(std::move(inputs), result);
  janitor_->Drain();
  if (s.code() == StatusCode::kBusy) {  // interrupted: say by what
    Lock lock(mu_);
    return closing_ ? Status::Closed("store closed during compaction")
                    : Status::Busy("compaction stopped: the store was restored");
  }
  return s;
}

Status AppendLogEngine::RunMerge(std::vector<SegmentRef> inputs, CompactionResult* result) {
  std::set<uint32_t> input_numbers;
  {
    Lock lock(mu_);
    // Only sealed live segments, never the one appends go to (a restore may
    // have made a sealed segment active again).
    inputs.erase(std::remove_if(inputs.begin(), inputs.end(),
                                [&](const SegmentRef& s) {
                                  return !s->sealed || s == writer_.segment() || SegmentLocked(s->number()) != s.get() ||
                                         std::find(live_.begin(), live_.end(), s) == live_.end();
                                }),
                 inputs.end());
    if (inputs.empty()) return Status::OK();
    for (const SegmentRef& s : inputs) input_numbers.insert(s->number());
  }
  SegmentWriter out(write_buffer_bytes_, /*publish_length=*/false);
  std::vector<SegmentRef> outputs;
  uint64_t longest_pause = 0, scanned = 0, moved = 0, dropped_tombstones = 0, bytes_in = 0;
  std::vector<Candidate> batch;
  batch.reserve(kMergeBatchRecords);

  // Closes the current output: written out, cut to its length.
  auto finish_output = [&]() -> Status {
    if (!out.active()) return Status::OK();
    SegmentRef s = out.segment();
    TIDEKV_RETURN_IF_ERROR(out.Flush());
    const uint64_t length = out.length();
    out.Reset(nullptr);
    Lock lock(mu_);
    s->length = length;
    return s->Resize(length);
  };
  auto interrupted = [&] { return interrupted_merge(); };

  // One batch: which records live (locked), copy them out (unlocked), point
  // the directory at the copies (locked).
  auto run_batch = [&](Segment* input) -> Status {
    if (batch.empty()) return Status::OK();
    {
      Lock lock(mu_);
      if (interrupted()) return Status::Busy("merge interrupted");
      const auto start = Clock::now();
      // A tombstone may go when no segment outside the merge holds a record
      // older than it (so no older value of its key can surface on recovery).
      uint64_t oldest_outside = UINT64_MAX;
      for (const SegmentRef& s : live_) {
        if (!input_numbers.count(s->number())) oldest_outside = std::min(oldest_outside, s->min_seq);
      }
      for (Candidate& c : batch) {
        const RecordView r(c.frame);
        if (!c.tombstone) {
          c.keep = keydir_.FindLocation(c.hash, MakeLocation(input->number(), c.offset)) != nullptr;
        } else {
          KeyDir::Slot* live_slot = nullptr;
          TIDEKV_RETURN_IF_ERROR(FindLocked(r.key(), c.hash, &live_slot));
          const bool key_live = live_slot != nullptr;
          c.keep = !key_live && oldest_outside < r.link();
          if (!c.keep) ++dropped_tombstones;
        }
      }
      longest_pause = std::max(longest_pause, MicrosSince(start));
    }
    for (Candidate& c : batch) {
      if (!c.keep) continue;
      if (out.active() && !out.Fits(c.frame_bytes)) TIDEKV_RETURN_IF_ERROR(finish_output());
      if (!out.active()) {
        SegmentRef s;
        Lock lock(mu_);
        const uint64_t capacity = std::max<uint64_t>(options_.segment_bytes, kFileHeaderBytes + c.frame_bytes);
        TIDEKV_RETURN_IF_ERROR(Segment::Create(env_, dir_, next_segment_++, capacity, janitor_, &s));  // never reused
        s->sealed = true;  // never appended to by writes
        RegisterLocked(s);
        outputs.push_back(s);
        out.Reset(s);
      }
      TIDEKV_RETURN_IF_ERROR(out.AppendFrame(c.frame, c.frame_bytes, &c.new_offset));
      c.output = out.segment().get();
      // At the append, not the install: a failure in between leaves the copy
      // in the output, and a tombstone elsewhere must still see it as older.
      // (Outputs are not live yet: nothing else reads their figures.)
      c.output->min_seq = std::min(c.output->min_seq, RecordView(c.frame).link());
    }
    // The copies must be readable through the mapping before the directory points at them.
    TIDEKV_RETURN_IF_ERROR(out.Flush());
    Lock lock(mu_);
    const auto start = Clock::now();
    if (out.active()) out.segment()->length = out.flushed();  // what readers may now reach
    for (Candidate& c : batch) {
      if (!c.keep) continue;
      if (c.tombstone) {
        c.output->live_bytes += c.frame_bytes;  // kept because it is needed
        continue;
      }
      KeyDir::Slot* slot = keydir_.FindLocation(c.hash, MakeLocation(input->number(), c.offset));
      if (slot != nullptr) {
        slot->loc = MakeLocation(c.output->number(), c.new_offset);
        c.output->live_bytes += c.frame_bytes;
        input->live_bytes -= std::min(input->live_bytes, c.frame_bytes);
        input->dead_bytes += c.frame_bytes;
        ++moved;
      } else {
        c.output->dead_bytes += c.frame_bytes;  // overwritten while it was copied
      }
    }
    longest_pause = std::max(longest_pause, MicrosSince(start));
    batch.clear();
    return Status::OK();
  };

  Status s;
  for (const SegmentRef& input : inputs) {
    std::shared_ptr<const MappedRegion> region = input->region();  // sealed: length and bytes are fixed
    const uint64_t length = input->length;
    bytes_in += length;
    s = ForEachRecord(region->data(), kFileHeaderBytes, length, input->path(), /*check_crc=*/true,
                      [&](uint64_t offset, RecordView r) -> Status {
                        ++scanned;
                        batch.push_back(Candidate{offset, r.data(), r.frame_bytes(), HashKey(r.key()),
                                                  r.type() == RecordType::kTombstone});
                        return batch.size() >= kMergeBatchRecords ? run_batch(input.get()) : Status::OK();
                      });
    if (s.ok()) s = run_batch(input.get());
    batch.clear();
    if (!s.ok()) break;
  }
  if (s.ok()) s = finish_output();
  // Outputs are durable and hinted before they replace their inputs.
  std::vector<std::pair<HintFileRef, uint64_t>> output_hints(outputs.size());
  for (size_t i = 0; s.ok() && i < outputs.size(); ++i) {
    Segment& o = *outputs[i];
    s = o.file()->Sync();
    uint64_t number = 0;
    {
      Lock lock(mu_);
      number = next_hint_++;
    }
    uint64_t bytes = 0;
    if (s.ok()) s = WriteHintFile(env_, dir_, number, o.number(), o.base(), kFileHeaderBytes, o.length, &bytes, nullptr);
    if (s.ok()) output_hints[i] = {std::make_shared<HintFile>(number, bytes, janitor_), o.length};
  }

  Lock lock(mu_);
  longest_merge_pause_micros_ = std::max(longest_merge_pause_micros_, longest_pause);
  if (!s.ok()) {
    // A failure, or a restore or close interrupting (kBusy). The directory
    // may already point into the outputs: they join the live state beside
    // their inputs (whose moved records now count as dead), so the state
    // stays whole whatever follows. A later checkpoint writes their hints.
    if (out.active()) {
      SegmentRef o = out.segment();
      o->length = out.flushed();
      out.Reset(nullptr);
      (void)o->Resize(o->length);
    }
    for (const SegmentRef& o : outputs) {
      if (o->live_bytes == 0) {
        // Nothing points into it and it keeps no tombstone: it goes (its file
        // with it, through the janitor).
        if (SegmentLocked(o->number()) == o.get()) seg_table_[o->number()].reset();
        continue;
      }
      o->synced = 0;
      // Copies written but never pointed at (the batch that failed) are dead.
      const uint64_t bytes = o->length - kFileHeaderBytes;
      o->dead_bytes = bytes - std::min(bytes, o->live_bytes);
      live_.push_back(o);
    }
    records_moved_ += moved;
    return s;
  }
  uint64_t bytes_out = 0;
  for (size_t i = 0; i < outputs.size(); ++i) {
    Segment& o = *outputs[i];
    o.synced = o.length;
    o.hints = {output_hints[i].first};
    o.hinted_end = output_hints[i].second;
    bytes_out += o.length;
    live_.push_back(outputs[i]);
  }
  for (const SegmentRef& in : inputs) {
    live_.erase(std::remove(live_.begin(), live_.end(), in), live_.end());
    seg_table_[in->number()].reset();
  }
  ++merges_;
  records_moved_ += moved;
  merge_bytes_written_ += bytes_out;
  tombstones_dropped_ += dropped_tombstones;
  result->records_scanned += scanned;
  result->records_moved += moved;
  result->bytes_reclaimed += bytes_in > bytes_out ? bytes_in - bytes_out : 0;
  result->files_deleted += inputs.size();
  result->longest_pause_micros = std::max(result->longest_pause_micros, longest_pause);
  return Status::OK();
}

}  // namespace tidekv::appendlog
