#include "checkpoint_format.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "crc32c.h"
#include "varint.h"

namespace tidekv {

namespace {

bool ParseNumbered(const std::string& name, const std::string& prefix, const std::string& suffix, uint64_t* n) {
  const size_t digits = 20;
  if (name.size() != prefix.size() + digits + suffix.size()) return false;
  if (name.compare(0, prefix.size(), prefix) != 0) return false;
  if (name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) return false;
  uint64_t value = 0;
  for (size_t i = prefix.size(); i < prefix.size() + digits; ++i) {
    const char c = name[i];
    if (c < '0' || c > '9') return false;
    value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  *n = value;
  return true;
}

std::string Numbered(const std::string& prefix, uint64_t n, const std::string& suffix) {
  char digits[32];
  std::snprintf(digits, sizeof digits, "%020llu", static_cast<unsigned long long>(n));
  return prefix + digits + suffix;
}

// Reads varints/bytes from a body, remembering the first failure.
class Reader {
 public:
  Reader(const char* p, const char* end) : p_(p), end_(end) {}
  uint64_t Varint() {
    uint64_t v = 0;
    if (p_ != nullptr) p_ = DecodeVarint64(p_, end_, &v);
    return v;
  }
  std::string Bytes() {
    const uint64_t n = Varint();
    if (p_ == nullptr || n > static_cast<uint64_t>(end_ - p_)) {
      p_ = nullptr;
      return std::string();
    }
    std::string s(p_, n);
    p_ += n;
    return s;
  }
  bool ok() const { return p_ != nullptr; }
  bool at_end() const { return p_ == end_; }

 private:
  const char* p_;
  const char* end_;
};

}  // namespace

std::string ManifestFileName(uint64_t version) { return Numbered("checkpoint-", version, ".manifest"); }

bool ParseManifestFileName(const std::string& name, uint64_t* version) {
  return ParseNumbered(name, "checkpoint-", ".manifest", version);
}

std::string CheckpointDataFileName(const char* prefix, uint64_t version) {
  return Numbered(std::string(prefix) + "-", version, ".dat");
}

bool ParseCheckpointDataFileName(const std::string& name, const char* prefix, uint64_t* version) {
  return ParseNumbered(name, std::string(prefix) + "-", ".dat", version);
}

std::string EncodeManifest(const CheckpointManifest& m) {
  FileHeader header;
  header.type = FileType::kManifest;
  header.args[0] = m.info.version;
  std::string out(kFileHeaderBytes, '\0');
  EncodeFileHeader(header, out.data());
  const CheckpointInfo& i = m.info;
  PutVarint64(&out, i.version);
  PutVarint64(&out, i.created_at_micros);
  PutVarint64(&out, i.pause_micros);
  PutVarint64(&out, i.duration_micros);
  PutVarint64(&out, i.bytes_written);
  PutVarint64(&out, i.total_bytes);
  PutVarint64(&out, static_cast<uint64_t>(i.meta_kind));
  PutVarint64(&out, i.meta.size());
  out.append(i.meta);
  PutVarint64(&out, static_cast<uint64_t>(m.engine));
  PutVarint64(&out, m.engine_state.size());
  out.append(m.engine_state);
  PutVarint64(&out, m.files.size());
  for (const std::string& f : m.files) {
    PutVarint64(&out, f.size());
    out.append(f);
  }
  PutFixed32(&out, crc32c::Value(out.data(), out.size()));
  return out;
}

Status DecodeManifest(Slice bytes, const std::string& path, CheckpointManifest* m) {
  FileHeader header;
  TIDEKV_RETURN_IF_ERROR(DecodeFileHeader(bytes, FileType::kManifest, path, &header));
  if (bytes.size() < kFileHeaderBytes + 4) return Status::Corruption(path + ": manifest truncated");
  const size_t body_end = bytes.size() - 4;
  if (LoadFixed32(bytes.data() + body_end) != crc32c::Value(bytes.data(), body_end)) {
    return Status::Corruption(path + ": manifest checksum mismatch");
  }
  Reader r(bytes.data() + kFileHeaderBytes, bytes.data() + body_end);
  CheckpointInfo& i = m->info;
  i.version = r.Varint();
  i.created_at_micros = r.Varint();
  i.pause_micros = r.Varint();
  i.duration_micros = r.Varint();
  i.bytes_written = r.Varint();
  i.total_bytes = r.Varint();
  const uint64_t meta_kind = r.Varint();
  if (meta_kind > static_cast<uint64_t>(MetaKind::kText)) return Status::Corruption(path + ": unknown meta kind");
  i.meta_kind = static_cast<MetaKind>(meta_kind);
  i.meta = r.Bytes();
  m->engine = static_cast<EngineKind>(r.Varint());
  m->engine_state = r.Bytes();
  const uint64_t files = r.Varint();
  m->files.clear();
  for (uint64_t f = 0; f < files && r.ok(); ++f) m->files.push_back(r.Bytes());
  if (!r.ok() || !r.at_end() || i.version != header.args[0]) {
    return Status::Corruption(path + ": manifest body is malformed");
  }
  return Status::OK();
}

void CountManifestItself(CheckpointManifest* manifest, uint64_t bytes_written, uint64_t total_bytes) {
  CheckpointInfo& info = manifest->info;
  uint64_t manifest_bytes = 0;
  for (int round = 0; round < 8; ++round) {
    info.bytes_written = bytes_written + manifest_bytes;
    info.total_bytes = total_bytes + manifest_bytes;
    const uint64_t size = EncodeManifest(*manifest).size();
    if (size == manifest_bytes) return;
    manifest_bytes = size;
  }
  info.bytes_written = bytes_written + manifest_bytes;
  info.total_bytes = total_bytes + manifest_bytes;
}

Status WriteManifest(Env* env, const std::string& dir, const CheckpointManifest& manifest, uint64_t* bytes) {
  const std::string encoded = EncodeManifest(manifest);
  *bytes = encoded.size();
  return WriteFileAtomic(env, dir, ManifestFileName(manifest.info.version), encoded);
}

Status ReadManifest(Env* env, const std::string& dir, uint64_t version, CheckpointManifest* manifest) {
  const std::string path = JoinPath(dir, ManifestFileName(version));
  std::string bytes;
  TIDEKV_RETURN_IF_ERROR(ReadFileToString(env, path, &bytes));
  return DecodeManifest(bytes, path, manifest);
}

// ---------------------------------------------------------------------------

namespace {
constexpr size_t kWriteBufferBytes = 1u << 20;
}

Status BlockFileWriter::Open(Env* env, const std::string& path, FileHeader header) {
  TIDEKV_RETURN_IF_ERROR(env->OpenFile(path, OpenMode::kCreateTruncate, &file_));
  header.type = FileType::kCheckpointBlocks;
  buffer_.assign(kFileHeaderBytes, '\0');
  EncodeFileHeader(header, buffer_.data());
  offset_ = 0;
  blocks_ = 0;
  payload_bytes_ = 0;
  return Status::OK();
}

Status BlockFileWriter::FlushBuffer() {
  if (buffer_.empty()) return Status::OK();
  TIDEKV_RETURN_IF_ERROR(file_->WriteAt(offset_, buffer_));
  offset_ += buffer_.size();
  buffer_.clear();
  return Status::OK();
}

Status BlockFileWriter::Add(uint64_t key, Slice bytes) {
  if (bytes.size() > UINT32_MAX) return Status::InvalidArgument("block larger than 4 GiB");
  char head[kBlockHeaderBytes];
  StoreFixed64(head, key);
  StoreFixed32(head + 8, static_cast<uint32_t>(bytes.size()));
  StoreFixed32(head + 12, crc32c::Value(bytes.data(), bytes.size()));
  buffer_.append(head, sizeof head);
  buffer_.append(bytes);
  buffer_.append((8 - bytes.size() % 8) % 8, '\0');
  ++blocks_;
  payload_bytes_ += bytes.size();
  return buffer_.size() >= kWriteBufferBytes ? FlushBuffer() : Status::OK();
}

Status BlockFileWriter::Finish(uint64_t* bytes) {
  char footer[kBlockFooterBytes] = {};
  StoreFixed64(footer, kBlockFooterMagic);
  StoreFixed64(footer + 8, blocks_);
  StoreFixed64(footer + 16, payload_bytes_);
  StoreFixed32(footer + 24, crc32c::Value(footer, 24));
  buffer_.append(footer, sizeof footer);
  TIDEKV_RETURN_IF_ERROR(FlushBuffer());
  TIDEKV_RETURN_IF_ERROR(file_->Sync());
  *bytes = offset_;
  file_.reset();
  return Status::OK();
}

Status ReadBlockFile(Env* env, const std::string& path, BlockFileKind kind, FileHeader* header,
                     const std::function<Status(uint64_t key, Slice bytes)>& fn,
                     std::unique_ptr<MappedRegion>* keep_mapping) {
  std::unique_ptr<File> file;
  Status s = env->OpenFile(path, OpenMode::kReadOnly, &file);
  if (s.IsNotFound()) return Status::Corruption(path + ": checkpoint file is missing");
  TIDEKV_RETURN_IF_ERROR(s);
  uint64_t size = 0;
  TIDEKV_RETURN_IF_ERROR(file->Size(&size));
  if (size < kFileHeaderBytes + kBlockFooterBytes) return Status::Corruption(path + ": block file truncated");
  std::unique_ptr<MappedRegion> map;
  TIDEKV_RETURN_IF_ERROR(file->Map(0, size, &map));
  const char* base = map->data();
  TIDEKV_RETURN_IF_ERROR(DecodeFileHeader(Slice(base, kFileHeaderBytes), FileType::kCheckpointBlocks, path, header));
  if (header->args[1] != static_cast<uint64_t>(kind)) {
    return Status::Corruption(path + ": block file holds another kind of data");
  }
  const char* footer = base + size - kBlockFooterBytes;
  // The reserved u32 and the padding after each block are written as zeros
  // and are not under a CRC: anything else there is damage too.
  if (LoadFixed64(footer) != kBlockFooterMagic || LoadFixed32(footer + 24) != crc32c::Value(footer, 24) ||
      LoadFixed32(footer + 28) != 0) {
    return Status::Corruption(path + ": block file footer missing or damaged (truncated?)");
  }
  const uint64_t expected_blocks = LoadFixed64(footer + 8);
  const uint64_t expected_payload = LoadFixed64(footer + 16);
  // First pass: every block sound and the footer consistent.
  auto walk = [&](bool apply) -> Status {
    uint64_t offset = kFileHeaderBytes, blocks = 0, payload = 0;
    const uint64_t end = size - kBlockFooterBytes;
    while (offset < end) {
      if (end - offset < kBlockHeaderBytes) return Status::Corruption(path + ": block header truncated");
      const char* p = base + offset;
      const uint64_t key = LoadFixed64(p);
      const uint32_t length = LoadFixed32(p + 8);
      const uint64_t padded = (uint64_t{length} + 7) & ~uint64_t{7};
      if (padded > end - offset - kBlockHeaderBytes) return Status::Corruption(path + ": block overruns the file");
      const Slice bytes(p + kBlockHeaderBytes, length);
      if (!apply && LoadFixed32(p + 12) != crc32c::Value(bytes.data(), bytes.size())) {
        return Status::Corruption(path + ": block checksum mismatch at offset " + std::to_string(offset));
      }
      for (uint64_t pad = length; !apply && pad < padded; ++pad) {
        if (bytes.data()[pad] != 0) return Status::Corruption(path + ": damaged padding at offset " + std::to_string(offset));
      }
      if (apply) TIDEKV_RETURN_IF_ERROR(fn(key, bytes));
      offset += kBlockHeaderBytes + padded;
      ++blocks;
      payload += length;
    }
    if (!apply && (blocks != expected_blocks || payload != expected_payload)) {
      return Status::Corruption(path + ": block file does not match its footer");
    }
    return Status::OK();
  };
  TIDEKV_RETURN_IF_ERROR(walk(false));
  TIDEKV_RETURN_IF_ERROR(walk(true));
  if (keep_mapping != nullptr) *keep_mapping = std::move(map);
  return Status::OK();
}

}  // namespace tidekv

namespace tidekv {

const char* EngineKindName(EngineKind kind) {
  switch (kind) {
    case EngineKind::kHybridLog:
      return "hybridlog";
    case EngineKind::kLsm:
      return "lsm";
    case EngineKind::kAppendLog:
      return "appendlog";
  }
  return "unknown";
}

std::vector<uint64_t> ManifestVersionsNewestFirst(const std::vector<std::string>& names) {
  std::vector<uint64_t> versions;
  for (const std::string& name : names) {
    uint64_t version = 0;
    if (ParseManifestFileName(name, &version)) versions.push_back(version);
  }
  std::sort(versions.rbegin(), versions.rend());
  return versions;
}

Status CheckManifestEngine(const CheckpointManifest& manifest, EngineKind expected, const std::string& dir) {
  if (manifest.engine == expected) return Status::OK();
  return Status::InvalidArgument(dir + " holds a store of engine '" + EngineKindName(manifest.engine) +
                                 "'; open it with that engine");
}

Status LoadNewestCheckpoint(Env* env, const std::string& dir, const std::vector<uint64_t>& versions,
                            EngineKind expected, bool latest_valid,
                            const std::function<Status(uint64_t version, CheckpointManifest* manifest)>& load, size_t* chosen) {
  Status first_error;
  for (size_t i = 0; i < versions.size(); ++i) {
    CheckpointManifest manifest;
    Status s = ReadManifest(env, dir, versions[i], &manifest);
    if (s.ok()) TIDEKV_RETURN_IF_ERROR(CheckManifestEngine(manifest, expected, dir));
    if (s.ok()) s = load(versions[i], &manifest);
    if (s.ok()) {
      *chosen = i;
      // Newer manifests that failed (recover: 'latest-valid') are dropped.
      for (size_t j = 0; j < i; ++j) (void)env->DeleteFile(JoinPath(dir, ManifestFileName(versions[j])));
      return Status::OK();
    }
    if (s.code() == StatusCode::kIoError || s.code() == StatusCode::kInvalidArgument || !latest_valid) return s;
    if (first_error.ok()) first_error = s;
  }
  return Status::Corruption("no checkpoint in " + dir + " verifies; the newest failed with: " +
                            std::string(first_error.message()));
}

}  // namespace tidekv
