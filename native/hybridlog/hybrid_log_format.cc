#include "hybridlog/hybrid_log_format.h"

#include "common/varint.h"

namespace tidekv::hlog {

std::string EncodeCheckpointState(const CheckpointState& s) {
  std::string out;
  PutVarint64(&out, kCheckpointStateFormat);
  for (uint64_t v : {s.page_bytes, s.segment_bytes, s.begin, s.flushed, s.tail, s.keys, s.bucket_bits, s.overflow_used,
                     s.live_entries}) {
    PutVarint64(&out, v);
  }
  PutVarint64(&out, s.index_chain.size());
  for (const IndexRef& r : s.index_chain) {
    PutVarint64(&out, r.version);
    PutVarint64(&out, r.bytes);
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
  uint64_t format = 0;
  next(&format);
  if (p != nullptr && format != kCheckpointStateFormat) {
    return Status::Corruption(where + ": hybrid-log checkpoint state format " + std::to_string(format) +
                              " is not one this build reads (" + std::to_string(kCheckpointStateFormat) + ")");
  }
  for (uint64_t* v : {&s->page_bytes, &s->segment_bytes, &s->begin, &s->flushed, &s->tail, &s->keys, &s->bucket_bits,
                      &s->overflow_used, &s->live_entries}) {
    next(v);
  }
  uint64_t indexes = 0;
  next(&indexes);
  s->index_chain.clear();
  for (uint64_t i = 0; i < indexes && p != nullptr; ++i) {
    IndexRef r;
    next(&r.version);
    next(&r.bytes);
    s->index_chain.push_back(r);
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
