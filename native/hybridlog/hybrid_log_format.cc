#include "hybridlog/hybrid_log_format.h"

#include <array>
#include <vector>

#include "common/varint.h"

namespace tidekv::hlog {

std::string EncodeCheckpointState(const CheckpointState& s) {
  std::string out;
  for (uint64_t v : {s.page_bytes, s.segment_bytes, s.begin, s.flushed, s.tail, s.keys, s.bucket_bits, s.overflow_used,
                     s.live_entries}) {
    PutVarint64(&out, v);
  }
  // Runs of consecutive chunk ids with one version: (gap from the previous
  // run's end, length, version). A base checkpoint is one run; scattered
  // updates split it where they land.
  std::vector<std::array<uint64_t, 3>> runs;  // first id, length, version
  for (const auto& [id, version] : s.chunk_versions) {
    if (!runs.empty() && runs.back()[0] + runs.back()[1] == id && runs.back()[2] == version) {
      ++runs.back()[1];
    } else {
      runs.push_back({id, 1, version});
    }
  }
  PutVarint64(&out, runs.size());
  uint64_t end = 0;
  for (const auto& [first, length, version] : runs) {
    PutVarint64(&out, first - end);
    PutVarint64(&out, length);
    PutVarint64(&out, version);
    end = first + length;
  }
  PutVarint64(&out, s.chain.size());
  for (const SnapshotRef& r : s.chain) {
    PutVarint64(&out, r.version);
    PutVarint64(&out, r.tail);
    PutVarint64(&out, r.bytes);
  }
  return out;
}

Status DecodeCheckpointState(Slice bytes, const std::string& where, CheckpointState* s) {
  const char* p = bytes.data();
  const char* end = p + bytes.size();
  auto next = [&](uint64_t* v) {
    if (p != nullptr) p = DecodeVarint64(p, end, v);
  };
  for (uint64_t* v : {&s->page_bytes, &s->segment_bytes, &s->begin, &s->flushed, &s->tail, &s->keys, &s->bucket_bits,
                      &s->overflow_used, &s->live_entries}) {
    next(v);
  }
  if (p == nullptr || s->bucket_bits == 0 || s->bucket_bits > 40) {
    return Status::Corruption(where + ": hybrid-log checkpoint state is malformed");
  }
  // No more chunks than buckets: a damaged run cannot make a map larger than the index.
  uint64_t chunks_left = (uint64_t{1} << s->bucket_bits) + s->overflow_used + 1;
  uint64_t runs = 0;
  next(&runs);
  s->chunk_versions.clear();
  uint64_t run_end = 0;
  for (uint64_t i = 0; i < runs && p != nullptr; ++i) {
    uint64_t gap = 0, length = 0, version = 0;
    next(&gap);
    next(&length);
    next(&version);
    // Chunk ids stay below 2^42 (overflow ids start at 2^40).
    if (p == nullptr || length == 0 || length > chunks_left || gap > (uint64_t{1} << 42) ||
        run_end + gap + length > (uint64_t{1} << 42)) {
      return Status::Corruption(where + ": hybrid-log checkpoint state has a bad index chunk run");
    }
    chunks_left -= length;
    const uint64_t first = run_end + gap;
    for (uint64_t id = first; id < first + length; ++id) s->chunk_versions.emplace_hint(s->chunk_versions.end(), id, version);
    run_end = first + length;
  }
  uint64_t snapshots = 0;
  next(&snapshots);
  s->chain.clear();
  for (uint64_t i = 0; i < snapshots && p != nullptr; ++i) {
    SnapshotRef r;
    next(&r.version);
    next(&r.tail);
    next(&r.bytes);
    s->chain.push_back(r);
  }
  if (p == nullptr || p != end || s->bucket_bits == 0 || s->bucket_bits > 63) {
    return Status::Corruption(where + ": hybrid-log checkpoint state is malformed");
  }
  return Status::OK();
}

}  // namespace tidekv::hlog
