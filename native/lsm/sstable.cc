#include "lsm/sstable.h"

#include <algorithm>
#include <cstring>

#include "common/crc32c.h"
#include "common/hash.h"
#include "common/record_format.h"
#include "common/varint.h"
#include "lsm/block_cache.h"
#include "lsm/bloom.h"

namespace tidekv::lsm {

namespace {

constexpr uint64_t kFooterBytes = 48;
constexpr uint64_t kFooterMagic = 0x6c6274737376746bULL;  // "tkvsstbl" little-endian
constexpr size_t kCrcBytes = 4;
// Header args[1]: how data blocks are laid out (sstable.h).
constexpr uint64_t kLayoutPlain = 0;
constexpr uint64_t kLayoutRestarts = 1;
// Bytes gathered before a write: tables are written sequentially in large
// writes rather than a syscall per block.
constexpr size_t kWriteBufferBytes = 1u << 20;

}  // namespace

bool IsValidEntryKind(uint8_t kind) { return kind >= 1 && kind <= 4; }

// ---------------------------------------------------------------------------
// Builder

SSTableBuilder::~SSTableBuilder() {
  if (file_ != nullptr && !finished_) Abandon();
}

Status SSTableBuilder::Open(Env* env, const std::string& path, uint64_t file_number, const SSTableOptions& options) {
  if (options.block_bytes < 64 || options.block_bytes > (64u << 20) || options.bloom_bits_per_key < 0 ||
      options.bloom_bits_per_key > 64) {
    return Status::InvalidArgument("sstable: block_bytes or bloom_bits_per_key out of range");
  }
  env_ = env;
  options_ = options;
  props_ = SSTableProperties{};
  props_.file_number = file_number;
  TIDEKV_RETURN_IF_ERROR(env->OpenFile(path, OpenMode::kCreateTruncate, &file_));
  FileHeader header;
  header.type = FileType::kSSTable;
  header.args[0] = file_number;
  header.args[1] = options.restart_interval > 0 ? kLayoutRestarts : kLayoutPlain;
  char encoded[kFileHeaderBytes];
  EncodeFileHeader(header, encoded);
  pending_.assign(encoded, sizeof encoded);
  offset_ = 0;
  return Status::OK();
}

Status SSTableBuilder::Write(Slice bytes) {
  pending_.append(bytes.data(), bytes.size());
  if (pending_.size() < kWriteBufferBytes) return Status::OK();
  TIDEKV_RETURN_IF_ERROR(file_->WriteAt(offset_, pending_));
  offset_ += pending_.size();
  pending_.clear();
  return Status::OK();
}

Status SSTableBuilder::Add(Slice key, EntryKind kind, Slice value) {
  if (file_ == nullptr || finished_) return Status::InvalidArgument("sstable: Add on a builder that is not open");
  if (props_.entries > 0 && !(Slice(last_key_) < key)) {
    return Status::InvalidArgument("sstable: keys must be added in strictly increasing order");
  }
  if (!IsValidEntryKind(static_cast<uint8_t>(kind))) return Status::InvalidArgument("sstable: bad entry kind");
  if (props_.entries == 0) props_.smallest.assign(key.data(), key.size());
  if (options_.restart_interval > 0 && block_entries_ % options_.restart_interval == 0) {
    restarts_.push_back(static_cast<uint32_t>(block_.size()));
  }
  ++block_entries_;
  PutVarint64(&block_, key.size());
  PutVarint64(&block_, value.size());
  block_.push_back(static_cast<char>(kind));
  block_.append(key.data(), key.size());
  block_.append(value.data(), value.size());
  last_key_.assign(key.data(), key.size());
  if (options_.bloom_bits_per_key > 0) filter_keys_.push_back(last_key_);
  ++props_.entries;
  if (block_.size() >= options_.block_bytes) return FlushBlock();
  return Status::OK();
}

Status SSTableBuilder::FlushBlock() {
  if (block_.empty()) return Status::OK();
  if (options_.restart_interval > 0) {
    for (uint32_t r : restarts_) PutFixed32(&block_, r);
    PutFixed32(&block_, static_cast<uint32_t>(restarts_.size()));
  }
  restarts_.clear();
  block_entries_ = 0;
  const uint64_t block_offset = offset_ + pending_.size();
  PutVarint64(&index_, last_key_.size());
  index_.append(last_key_);
  PutVarint64(&index_, block_offset);
  PutVarint64(&index_, block_.size());
  PutFixed32(&block_, crc32c::Value(block_.data(), block_.size()));
  ++props_.data_blocks;
  Status s = Write(block_);
  block_.clear();
  return s;
}

Status SSTableBuilder::Finish(SSTableProperties* properties) {
  if (file_ == nullptr || finished_) return Status::InvalidArgument("sstable: Finish on a builder that is not open");
  TIDEKV_RETURN_IF_ERROR(FlushBlock());
  props_.largest = last_key_;

  // Filter.
  std::string filter;
  if (options_.bloom_bits_per_key > 0) {
    BloomBuilder bloom(options_.bloom_bits_per_key);
    for (const std::string& k : filter_keys_) bloom.AddKey(k);
    filter = bloom.Finish();
  }
  filter_keys_.clear();
  const uint64_t filter_offset = offset_ + pending_.size();
  const uint64_t filter_size = filter.size();
  PutFixed32(&filter, crc32c::Value(filter.data(), filter.size()));
  TIDEKV_RETURN_IF_ERROR(Write(filter));

  // Index: entry count and smallest key first, then the fences.
  std::string index;
  PutVarint64(&index, props_.entries);
  PutVarint64(&index, props_.smallest.size());
  index.append(props_.smallest);
  index.append(index_);
  const uint64_t index_offset = offset_ + pending_.size();
  const uint64_t index_size = index.size();
  PutFixed32(&index, crc32c::Value(index.data(), index.size()));
  TIDEKV_RETURN_IF_ERROR(Write(index));

  char footer[kFooterBytes] = {};
  StoreFixed64(footer, index_offset);
  StoreFixed64(footer + 8, index_size);
  StoreFixed64(footer + 16, filter_offset);
  StoreFixed64(footer + 24, filter_size);
  StoreFixed64(footer + 32, kFooterMagic);
  StoreFixed32(footer + 40, crc32c::Value(footer, 40));
  pending_.append(footer, sizeof footer);
  TIDEKV_RETURN_IF_ERROR(file_->WriteAt(offset_, pending_));
  offset_ += pending_.size();
  pending_.clear();
  TIDEKV_RETURN_IF_ERROR(file_->Sync());
  props_.file_bytes = offset_;
  finished_ = true;
  file_.reset();
  if (properties != nullptr) *properties = props_;
  return Status::OK();
}

void SSTableBuilder::Abandon() {
  if (file_ == nullptr) return;
  const std::string path = file_->path();
  file_.reset();
  (void)env_->DeleteFile(path);
}

// ---------------------------------------------------------------------------
// Reader

namespace {

// Decodes the entry at p (varint key length, varint value length, kind,
// key, value); the position after it, or nullptr when malformed.
// One-byte varints (lengths under 128, the common case for keys and small
// values) are decoded inline: this runs for every entry a point read scans.
inline const char* DecodeLength(const char* p, const char* end, uint64_t* v) {
  if (p < end && static_cast<unsigned char>(*p) < 0x80) {
    *v = static_cast<unsigned char>(*p);
    return p + 1;
  }
  return DecodeVarint64(p, end, v);
}

inline const char* DecodeEntry(const char* p, const char* end, Slice* key, EntryKind* kind, Slice* value) {
  uint64_t key_len = 0, value_len = 0;
  p = DecodeLength(p, end, &key_len);
  if (p != nullptr) p = DecodeLength(p, end, &value_len);
  if (p == nullptr || p >= end || key_len > static_cast<uint64_t>(end - p - 1) ||
      value_len > static_cast<uint64_t>(end - p - 1) - key_len || !IsValidEntryKind(static_cast<uint8_t>(*p))) {
    return nullptr;
  }
  *kind = static_cast<EntryKind>(*p++);
  *key = Slice(p, key_len);
  *value = Slice(p + key_len, value_len);
  return p + key_len + value_len;
}

// Reads a varint-length-prefixed slice; nullptr on malformed input.
const char* GetLengthPrefixed(const char* p, const char* end, Slice* out) {
  uint64_t n = 0;
  p = DecodeVarint64(p, end, &n);
  if (p == nullptr || n > static_cast<uint64_t>(end - p)) return nullptr;
  *out = Slice(p, n);
  return p + n;
}

}  // namespace

Status SSTableReader::Open(Env* env, const std::string& path, std::unique_ptr<SSTableReader>* out) {
  std::unique_ptr<SSTableReader> r(new SSTableReader());
  r->path_ = path;
  Status s = env->OpenFile(path, OpenMode::kReadOnly, &r->file_);
  if (s.IsNotFound()) return Status::Corruption(path + ": sstable file is missing");
  TIDEKV_RETURN_IF_ERROR(s);
  uint64_t size = 0;
  TIDEKV_RETURN_IF_ERROR(r->file_->Size(&size));
  if (size < kFileHeaderBytes + kFooterBytes) return Status::Corruption(path + ": sstable truncated");
  TIDEKV_RETURN_IF_ERROR(r->file_->Map(0, size, &r->map_));
  const char* base = r->map_->data();
  FileHeader header;
  TIDEKV_RETURN_IF_ERROR(DecodeFileHeader(Slice(base, kFileHeaderBytes), FileType::kSSTable, path, &header));
  if (header.args[1] != kLayoutPlain && header.args[1] != kLayoutRestarts) {
    return Status::Corruption(path + ": unknown sstable block layout " + std::to_string(header.args[1]));
  }
  r->block_layout_ = header.args[1];
  const char* footer = base + size - kFooterBytes;
  if (LoadFixed64(footer + 32) != kFooterMagic || LoadFixed32(footer + 40) != crc32c::Value(footer, 40) ||
      LoadFixed32(footer + 44) != 0) {
    return Status::Corruption(path + ": sstable footer missing or damaged (truncated?)");
  }
  const uint64_t index_offset = LoadFixed64(footer), index_size = LoadFixed64(footer + 8);
  const uint64_t filter_offset = LoadFixed64(footer + 16), filter_size = LoadFixed64(footer + 24);
  const uint64_t body_end = size - kFooterBytes;
  auto in_body = [&](uint64_t offset, uint64_t n) {
    return offset >= kFileHeaderBytes && offset <= body_end && n + kCrcBytes <= body_end - offset;
  };
  if (!in_body(index_offset, index_size) || !in_body(filter_offset, filter_size)) {
    return Status::Corruption(path + ": sstable footer points outside the file");
  }
  const char* index = base + index_offset;
  const char* filter = base + filter_offset;
  if (LoadFixed32(index + index_size) != crc32c::Value(index, index_size)) {
    return Status::Corruption(path + ": sstable index block checksum mismatch");
  }
  if (LoadFixed32(filter + filter_size) != crc32c::Value(filter, filter_size)) {
    return Status::Corruption(path + ": sstable filter block checksum mismatch");
  }
  r->filter_ = Slice(filter, filter_size);

  const char* p = index;
  const char* end = index + index_size;
  Slice smallest;
  p = DecodeVarint64(p, end, &r->props_.entries);
  if (p != nullptr) p = GetLengthPrefixed(p, end, &smallest);
  // Fence keys are copied into one buffer: a binary search over them then
  // touches a few cache lines instead of a page of the mapping per step.
  Slice previous_key;
  while (p != nullptr && p < end) {
    Fence f;
    Slice last_key;
    p = GetLengthPrefixed(p, end, &last_key);
    if (p != nullptr) p = DecodeVarint64(p, end, &f.offset);
    if (p != nullptr) p = DecodeVarint64(p, end, &f.size);
    if (p == nullptr || !in_body(f.offset, f.size) || f.offset + f.size + kCrcBytes > filter_offset ||
        (!r->fences_.empty() && !KeyLess(previous_key, last_key)) || index_size > UINT32_MAX) {
      return Status::Corruption(path + ": sstable index block is malformed");
    }
    previous_key = last_key;
    f.key_offset = static_cast<uint32_t>(r->fence_keys_.size());
    f.key_size = static_cast<uint32_t>(last_key.size());
    r->fence_keys_.append(last_key.data(), last_key.size());
    r->fences_.push_back(f);
  }
  if (p == nullptr) return Status::Corruption(path + ": sstable index block is malformed");
  r->props_.file_number = header.args[0];
  r->props_.file_bytes = size;
  r->props_.data_blocks = r->fences_.size();
  r->props_.smallest.assign(smallest.data(), smallest.size());
  if (!r->fences_.empty()) {
    const Slice smallest_fence = r->FenceKey(0), largest = r->FenceKey(r->fences_.size() - 1);
    r->props_.largest.assign(largest.data(), largest.size());
    // Sorted keys share what their first and last share.
    const size_t shared = SharedPrefixLength(smallest_fence, largest);
    r->fence_shared_ = shared;
    r->fence_words_.reserve(r->fences_.size());
    for (size_t i = 0; i < r->fences_.size(); ++i) r->fence_words_.push_back(KeyWordAt(r->FenceKey(i), shared));
  }
  *out = std::move(r);
  return Status::OK();
}

bool SSTableReader::MayContain(Slice key) const { return MayContainHash(HashKey(key)); }

void SSTableReader::Prefetch(uint64_t key_hash) const { BloomPrefetch(filter_, key_hash); }

bool SSTableReader::MayContainHash(uint64_t key_hash) const {
  return filter_.empty() || BloomMayContainHash(filter_, key_hash);
}

void SSTableReader::PrefetchBlock(Slice key, const BlockCache* cache) const {
  const size_t block = FindBlock(key);
  if (block == fences_.size()) return;
  const Slice cached = cache != nullptr ? cache->Peek(props_.file_number, block) : Slice();
  const char* p = cached.data() != nullptr ? cached.data() : map_->data() + fences_[block].offset;
  const size_t size = cached.data() != nullptr ? cached.size() : fences_[block].size;
  // The trailer (restart count and offsets) and the middle restart's entry
  // are what the search reads first.
  __builtin_prefetch(p + size - 1);
  if (size > 128) __builtin_prefetch(p + size - 65);
  __builtin_prefetch(p + size / 2);
}

size_t SSTableReader::FindBlock(Slice key) const {
  if (fences_.empty()) return 0;
  // Below or above the prefix every fence key shares: before all blocks, or after.
  const Slice shared = FenceKey(0).substr(0, fence_shared_);
  const size_t n = std::min(key.size(), shared.size());
  const int order = n == 0 ? 0 : std::memcmp(key.data(), shared.data(), n);
  if (order < 0 || (order == 0 && key.size() < shared.size())) return 0;
  if (order > 0) return fences_.size();
  // The first fence >= key: words decide, and whole keys break ties.
  const uint64_t word = KeyWordAt(key, fence_shared_);
  const auto first = std::lower_bound(fence_words_.begin(), fence_words_.end(), word);
  size_t lo = static_cast<size_t>(first - fence_words_.begin());
  size_t hi = static_cast<size_t>(std::upper_bound(first, fence_words_.end(), word) - fence_words_.begin());
  while (lo < hi) {
    const size_t mid = lo + (hi - lo) / 2;
    if (KeyLess(FenceKey(mid), key)) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

Status SSTableReader::CheckBlock(size_t block, Slice* bytes) const {
  const Fence& f = fences_[block];
  const char* p = map_->data() + f.offset;
  if (LoadFixed32(p + f.size) != crc32c::Value(p, f.size)) {
    return Status::Corruption(path_ + ": sstable data block checksum mismatch at offset " + std::to_string(f.offset));
  }
  *bytes = Slice(p, f.size);
  return Status::OK();
}

Status SSTableReader::ParseBlock(Slice bytes, Block* block) const {
  block->entries = bytes.data();
  block->entries_size = bytes.size();
  block->restarts = nullptr;
  block->restart_count = 0;
  if (block_layout_ == kLayoutPlain) return Status::OK();
  if (bytes.size() < 4) return Status::Corruption(path_ + ": sstable data block has no restart count");
  const uint32_t count = LoadFixed32(bytes.data() + bytes.size() - 4);
  if (count > (bytes.size() - 4) / 4) return Status::Corruption(path_ + ": sstable data block restart count is malformed");
  block->entries_size = bytes.size() - 4 - 4 * static_cast<size_t>(count);
  block->restarts = bytes.data() + block->entries_size;
  block->restart_count = count;
  return Status::OK();
}

const char* SSTableReader::SeekInBlock(const Block& block, Slice key) const {
  // The first restart whose key is > key; the search starts at the one before.
  uint32_t lo = 0, hi = block.restart_count;
  const char* const end = block.entries + block.entries_size;
  while (lo < hi) {
    const uint32_t mid = lo + (hi - lo) / 2;
    const uint32_t offset = LoadFixed32(block.restarts + 4 * static_cast<size_t>(mid));
    if (offset >= block.entries_size) return nullptr;
    Slice k, v;
    EntryKind kind;
    if (DecodeEntry(block.entries + offset, end, &k, &kind, &v) == nullptr) return nullptr;
    if (CompareKeys(k, key) > 0) {
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  if (lo == 0) return block.entries;
  return block.entries + LoadFixed32(block.restarts + 4 * static_cast<size_t>(lo - 1));
}

Status SSTableReader::VerifyBlocks() const {
  Slice entries;
  for (size_t i = 0; i < fences_.size(); ++i) TIDEKV_RETURN_IF_ERROR(CheckBlock(i, &entries));
  return Status::OK();
}

Status SSTableReader::Get(Slice key, bool* found, EntryKind* kind, std::string* value) const {
  Slice view;
  TIDEKV_RETURN_IF_ERROR(Find(key, HashKey(key), found, kind, &view));
  if (*found) value->assign(view.data(), view.size());
  return Status::OK();
}

Status SSTableReader::Find(Slice key, uint64_t key_hash, bool* found, EntryKind* kind, Slice* value,
                           BlockCache* cache) const {
  *found = false;
  if (!MayContainHash(key_hash)) return Status::OK();
  const size_t block = FindBlock(key);
  if (block == fences_.size()) return Status::OK();
  Slice bytes;
  const Slice cached = cache != nullptr ? cache->Lookup(props_.file_number, block) : Slice();
  if (cached.data() != nullptr) {
    bytes = cached;
  } else {
    TIDEKV_RETURN_IF_ERROR(CheckBlock(block, &bytes));
    if (cache != nullptr) {
      if (const Slice copy = cache->Insert(props_.file_number, block, bytes); copy.data() != nullptr) bytes = copy;
    }
  }
  Block b;
  TIDEKV_RETURN_IF_ERROR(ParseBlock(bytes, &b));
  // The key, if the table has it, is in this block (its last key is >= key),
  // at or after the last restart whose key is <= key.
  const char* const end = b.entries + b.entries_size;
  const char* p = SeekInBlock(b, key);
  if (p == nullptr) return Status::Corruption(path_ + ": sstable restart offset is malformed");
  while (p < end) {
    Slice k, v;
    EntryKind kd;
    p = DecodeEntry(p, end, &k, &kd, &v);
    if (p == nullptr) return Status::Corruption(path_ + ": sstable entry is malformed");
    const int order = CompareKeys(k, key);
    if (order == 0) {
      *found = true;
      *kind = kd;
      *value = v;
      return Status::OK();
    }
    if (order > 0) break;  // past where key would be
  }
  return Status::OK();
}

// ---------------------------------------------------------------------------
// Iterator

bool SSTableReader::Iterator::EnterBlock(size_t block, const Slice* target) {
  valid_ = false;
  block_ = block;
  if (block >= table_->fences_.size()) return false;
  Slice bytes;
  status_ = table_->CheckBlock(block, &bytes);
  Block b;
  if (status_.ok()) status_ = table_->ParseBlock(bytes, &b);
  if (!status_.ok()) return false;
  pos_ = b.entries;
  end_ = b.entries + b.entries_size;
  if (target != nullptr) {
    pos_ = table_->SeekInBlock(b, *target);
    if (pos_ == nullptr) {
      status_ = Status::Corruption(table_->path_ + ": sstable restart offset is malformed");
      return false;
    }
  }
  return ParseEntry();
}

bool SSTableReader::Iterator::ParseEntry() {
  valid_ = false;
  if (pos_ >= end_) return false;
  pos_ = DecodeEntry(pos_, end_, &key_, &kind_, &value_);
  if (pos_ == nullptr) {
    status_ = Status::Corruption(table_->path_ + ": sstable entry is malformed");
    return false;
  }
  valid_ = true;
  return true;
}

void SSTableReader::Iterator::SeekToFirst() {
  status_ = Status::OK();
  EnterBlock(0);
}

void SSTableReader::Iterator::Seek(Slice target) {
  status_ = Status::OK();
  if (!EnterBlock(table_->FindBlock(target), &target)) return;
  while (valid_ && KeyLess(key_, target)) Next();
}

bool SSTableReader::Iterator::LastInBlockBefore(size_t block, const Slice* limit) {
  if (!EnterBlock(block)) return false;
  // Entries are only readable front to back: walk the block, remembering
  // where the last entry below the limit starts, then parse it again.
  const char* start = table_->map_->data() + table_->fences_[block].offset;
  const char* last_start = nullptr;
  while (valid_) {
    if (limit != nullptr && !KeyLess(key_, *limit)) break;
    last_start = start;
    start = pos_;
    if (pos_ >= end_) break;
    ParseEntry();  // valid_ false with status_ set when malformed
  }
  if (!status_.ok() || last_start == nullptr) {
    valid_ = false;
    return false;
  }
  pos_ = last_start;
  return ParseEntry();
}

void SSTableReader::Iterator::SeekToLast() {
  status_ = Status::OK();
  valid_ = false;
  if (table_->fences_.empty()) return;
  LastInBlockBefore(table_->fences_.size() - 1, nullptr);
}

void SSTableReader::Iterator::SeekBefore(Slice target) {
  status_ = Status::OK();
  valid_ = false;
  size_t block = table_->FindBlock(target);
  if (block == table_->fences_.size()) {
    SeekToLast();
    return;
  }
  if (LastInBlockBefore(block, &target) || !status_.ok()) return;
  if (block > 0) LastInBlockBefore(block - 1, nullptr);
}

void SSTableReader::Iterator::Next() {
  if (!valid_) return;
  if (pos_ < end_) {
    ParseEntry();
    return;
  }
  EnterBlock(block_ + 1);
}

}  // namespace tidekv::lsm
