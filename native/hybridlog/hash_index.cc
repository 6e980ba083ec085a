#include "hash_index.h"

#include "hybridlog/paged_log.h"

#include <algorithm>
#include <cstring>
#include <iterator>
#include <new>
#include <utility>

namespace tidekv::hlog {

namespace {
HashIndex::Bucket* AllocateBuckets(uint64_t count, bool huge_pages = false) {
  const size_t bytes = count * sizeof(HashIndex::Bucket);
  return static_cast<HashIndex::Bucket*>(AllocateLargeBlock(bytes, huge_pages));  // zero
}
}  // namespace

HashIndex::~HashIndex() {
  if (buckets_ != nullptr) FreeLargeBlock(buckets_, bucket_count() * sizeof(Bucket));
}

Status HashIndex::Init(int bucket_bits, bool bulk) {
  if (bucket_bits < 1 || bucket_bits > kMaxIndexBucketBits) {
    return Status::InvalidArgument("index bucket bits out of range");
  }
  buckets_ = AllocateBuckets(uint64_t{1} << bucket_bits, bulk);
  if (buckets_ == nullptr) return Status::Limit("out of memory allocating the hash index");
  bucket_bits_ = bucket_bits;
  bucket_mask_ = (uint64_t{1} << bucket_bits) - 1;
  MarkAllDirty();  // a new index is all unsaved
  return Status::OK();
}

void HashIndex::BucketBits::Assign(uint64_t n, bool value) {
  n_ = n;
  words_.assign((n + 63) / 64, value ? ~uint64_t{0} : 0);
  if (value && n % 64 != 0) words_.back() = (uint64_t{1} << (n % 64)) - 1;
}

void HashIndex::BucketBits::Grow(uint64_t n, bool value) {
  const uint64_t old = n_;
  n_ = n;
  words_.resize((n + 63) / 64, 0);
  if (value) {
    for (uint64_t i = old; i < n; ++i) Set(i);
  }
}

uint64_t HashIndex::BucketBits::Count() const {
  uint64_t count = 0;
  for (uint64_t w : words_) count += static_cast<uint64_t>(__builtin_popcountll(w));
  return count;
}

uint64_t HashIndex::BucketBits::NextSet(uint64_t i) const {
  while (i < n_) {
    const uint64_t word = words_[i >> 6] >> (i & 63);
    if (word != 0) return std::min(n_, i + static_cast<uint64_t>(__builtin_ctzll(word)));
    i = (i | 63) + 1;  // the next word
  }
  return n_;
}

void HashIndex::MarkDirty(const uint64_t* slot) {
  const auto p = reinterpret_cast<uintptr_t>(slot);
  const auto base = reinterpret_cast<uintptr_t>(buckets_);
  if (p >= base && p < base + bucket_count() * sizeof(Bucket)) {
    dirty_main_.Set((p - base) / sizeof(Bucket));
    return;
  }
  auto it = overflow_chunk_of_.upper_bound(p);
  if (it == overflow_chunk_of_.begin()) return;
  --it;
  dirty_overflow_.Set(it->second * kOverflowChunk + (p - it->first) / sizeof(Bucket));
}

void HashIndex::MarkAllDirty() {
  dirty_main_.Assign(bucket_count(), true);
  dirty_overflow_.Assign(overflow_chunks_.size() * kOverflowChunk, true);
}

const HashIndex::Bucket* HashIndex::BucketAt(uint64_t id) const {
  if (id < kOverflowChunkId) return &buckets_[id];
  const uint64_t o = id - kOverflowChunkId;
  return &overflow_chunks_[o / kOverflowChunk][o % kOverflowChunk];
}

void HashIndex::TakeRuns(BucketBits* dirty, uint64_t split, uint64_t id_base, ChunkImages* images) {
  const uint64_t n = dirty->size();
  for (uint64_t b = dirty->NextSet(0); b < n; b = dirty->NextSet(b)) {
    const uint64_t first = b;
    const uint64_t limit = std::min({n, first + kMaxRunBuckets, (first / split + 1) * split});
    while (b < limit && dirty->Test(b)) ++b;
    images->ids.push_back(id_base + first);
    images->bytes.append(reinterpret_cast<const char*>(BucketAt(id_base + first)), (b - first) * sizeof(Bucket));
    images->offsets.push_back(images->bytes.size());
  }
  dirty->Assign(n, false);
}

bool HashIndex::TakeDirtyChunks(ChunkImages* images) {
  // When a quarter or more of the buckets changed, copying all of them in
  // long runs is faster at the cut (on the caller's thread) than gathering
  // short runs, costs at most 4x the bytes, and makes this copy a base.
  if (dirty_main_.Count() * 4 >= dirty_main_.size()) MarkAllDirty();
  // Sized once: the cut runs on the caller's thread, under the engine lock.
  const uint64_t dirty = dirty_main_.Count(), dirty_overflow = dirty_overflow_.Count();
  images->bytes.reserve(images->bytes.size() + (dirty + dirty_overflow) * sizeof(Bucket));
  const bool all = dirty == dirty_main_.size() && dirty_overflow == dirty_overflow_.size();
  TakeRuns(&dirty_main_, bucket_count(), 0, images);
  TakeRuns(&dirty_overflow_, kOverflowChunk, kOverflowChunkId, images);
  return all;
}

Status HashIndex::InitForRecovery(int bucket_bits, uint64_t overflow_used, uint64_t live_entries) {
  TIDEKV_RETURN_IF_ERROR(Init(bucket_bits, /*bulk=*/true));  // filled whole by the images
  while (overflow_used_ < overflow_used) {
    uint64_t index = 0;
    TIDEKV_RETURN_IF_ERROR(NewOverflowBucket(&index));
  }
  live_entries_ = live_entries;
  dirty_main_.Assign(bucket_count(), false);
  dirty_overflow_.Assign(overflow_chunks_.size() * kOverflowChunk, false);
  loaded_main_.Assign(bucket_count(), false);
  loaded_overflow_.Assign(overflow_chunks_.size() * kOverflowChunk, false);
  return Status::OK();
}

Status HashIndex::LoadChunk(uint64_t id, Slice bytes) {
  if (bytes.size() % sizeof(Bucket) != 0 || bytes.empty()) return Status::Corruption("index image of a partial bucket");
  const uint64_t n = bytes.size() / sizeof(Bucket);
  BucketBits* loaded = &loaded_main_;
  uint64_t first = id;
  if (id >= kOverflowChunkId) {
    first = id - kOverflowChunkId;
    if (first >= loaded_overflow_.size() || n > kOverflowChunk - first % kOverflowChunk) {
      return Status::Corruption("index overflow image out of range");
    }
    loaded = &loaded_overflow_;
  } else if (id >= bucket_count() || n > bucket_count() - id) {
    return Status::Corruption("index image out of range");
  }
  std::memcpy(const_cast<Bucket*>(BucketAt(id)), bytes.data(), bytes.size());
  for (uint64_t b = first; b < first + n; ++b) loaded->Set(b);
  return Status::OK();
}

bool HashIndex::FullyLoaded() const {
  return loaded_main_.Count() == loaded_main_.size() && loaded_overflow_.Count() == loaded_overflow_.size();
}

Status HashIndex::NewOverflowBucket(uint64_t* index) {
  if (overflow_used_ == overflow_chunks_.size() * kOverflowChunk) {
    std::unique_ptr<Bucket[]> chunk(new (std::nothrow) Bucket[kOverflowChunk]());
    if (!chunk) return Status::Limit("out of memory allocating an index overflow bucket");
    overflow_chunk_of_[reinterpret_cast<uintptr_t>(chunk.get())] = overflow_chunks_.size();
    overflow_chunks_.push_back(std::move(chunk));
    dirty_overflow_.Grow(overflow_chunks_.size() * kOverflowChunk, true);  // a new chunk is unsaved
  }
  *index = ++overflow_used_;
  return Status::OK();
}

Status HashIndex::FindOrCreate(uint64_t hash, uint64_t begin_address, uint64_t** slot_out) {
  const uint64_t tag = FullTag(hash);
  Bucket* b = &buckets_[hash & bucket_mask_];
  uint64_t* free_slot = nullptr;
  bool free_slot_was_empty = false;
  for (;;) {
    for (uint64_t& slot : b->slots) {
      if (slot == 0 || Address(slot) < begin_address) {
        if (free_slot == nullptr) {
          free_slot = &slot;
          free_slot_was_empty = slot == 0;
        }
      } else if (TagMatches(slot, tag)) {
        *slot_out = &slot;
        return Status::OK();
      }
    }
    if (b->overflow == 0) break;
    b = OverflowBucket(b->overflow);
  }
  if (free_slot == nullptr) {
    uint64_t index = 0;
    TIDEKV_RETURN_IF_ERROR(NewOverflowBucket(&index));
    b->overflow = index;
    MarkDirty(&b->overflow);
    free_slot = &OverflowBucket(index)->slots[0];
    free_slot_was_empty = true;
  }
  if (free_slot_was_empty) ++live_entries_;
  *free_slot = ((uint64_t{1} << kTagBits) | tag) << kAddressBits;  // address kInvalidAddress
  MarkDirty(free_slot);
  *slot_out = free_slot;
  return Status::OK();
}

Status HashIndex::InsertIntoBucket(uint64_t bucket, uint64_t entry) {
  Bucket* b = &buckets_[bucket];
  for (;;) {
    for (uint64_t& slot : b->slots) {
      if (slot == 0) {
        slot = entry;
        ++live_entries_;
        return Status::OK();
      }
    }
    if (b->overflow == 0) break;
    b = OverflowBucket(b->overflow);
  }
  uint64_t index = 0;
  TIDEKV_RETURN_IF_ERROR(NewOverflowBucket(&index));
  b->overflow = index;
  OverflowBucket(index)->slots[0] = entry;
  ++live_entries_;
  return Status::OK();
}

Status HashIndex::Grow(uint64_t begin_address) {
  if (bucket_bits_ >= kMaxIndexBucketBits) return Status::Limit("hash index at its maximum size");
  const uint64_t old_count = bucket_count();
  Bucket* new_buckets = AllocateBuckets(old_count * 2);
  if (new_buckets == nullptr) return Status::Limit("out of memory growing the hash index");

  HashIndex grown;
  grown.buckets_ = new_buckets;
  grown.bucket_bits_ = bucket_bits_ + 1;
  grown.bucket_mask_ = (uint64_t{1} << grown.bucket_bits_) - 1;

  Status status;
  ForEachEntry([&](uint64_t bucket, uint64_t entry) {
    if (!status.ok() || Address(entry) < begin_address) return;
    const uint32_t field = static_cast<uint32_t>(entry >> kAddressBits);
    const int len = 31 - __builtin_clz(field);
    const uint64_t address = Address(entry);
    if (len == 0) {  // no bit left to split by: both halves share the chain
      status = grown.InsertIntoBucket(bucket, entry);
      if (status.ok()) status = grown.InsertIntoBucket(bucket + old_count, entry);
      return;
    }
    const uint32_t bits = field & ((1u << len) - 1);
    const uint64_t target = bucket | (uint64_t{bits & 1u} << bucket_bits_);
    const uint64_t new_field = (uint64_t{1} << (len - 1)) | (bits >> 1);
    status = grown.InsertIntoBucket(target, (new_field << kAddressBits) | address);
  });
  if (!status.ok()) return status;  // `grown` frees its memory; this index is unchanged

  std::swap(buckets_, grown.buckets_);
  std::swap(bucket_bits_, grown.bucket_bits_);
  std::swap(bucket_mask_, grown.bucket_mask_);
  std::swap(overflow_chunks_, grown.overflow_chunks_);
  std::swap(overflow_used_, grown.overflow_used_);
  std::swap(live_entries_, grown.live_entries_);
  std::swap(overflow_chunk_of_, grown.overflow_chunk_of_);
  MarkAllDirty();  // every chunk moved
  return Status::OK();
}

}  // namespace tidekv::hlog
