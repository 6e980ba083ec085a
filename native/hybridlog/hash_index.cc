#include "hash_index.h"

#include "hybridlog/paged_log.h"

#include <cstring>
#include <new>
#include <utility>

namespace tidekv::hlog {

namespace {
HashIndex::Bucket* AllocateBuckets(uint64_t count) {
  const size_t bytes = count * sizeof(HashIndex::Bucket);
  void* p = AllocateLargeBlock(bytes);
  if (p != nullptr) std::memset(p, 0, bytes);
  return static_cast<HashIndex::Bucket*>(p);
}
}  // namespace

HashIndex::~HashIndex() { std::free(buckets_); }

Status HashIndex::Init(int bucket_bits) {
  if (bucket_bits < 1 || bucket_bits > kMaxIndexBucketBits) {
    return Status::InvalidArgument("index bucket bits out of range");
  }
  buckets_ = AllocateBuckets(uint64_t{1} << bucket_bits);
  if (buckets_ == nullptr) return Status::Limit("out of memory allocating the hash index");
  bucket_bits_ = bucket_bits;
  bucket_mask_ = (uint64_t{1} << bucket_bits) - 1;
  return Status::OK();
}

Status HashIndex::NewOverflowBucket(uint64_t* index) {
  if (overflow_used_ == overflow_chunks_.size() * kOverflowChunk) {
    std::unique_ptr<Bucket[]> chunk(new (std::nothrow) Bucket[kOverflowChunk]());
    if (!chunk) return Status::Limit("out of memory allocating an index overflow bucket");
    overflow_chunks_.push_back(std::move(chunk));
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
    free_slot = &OverflowBucket(index)->slots[0];
    free_slot_was_empty = true;
  }
  if (free_slot_was_empty) ++live_entries_;
  *free_slot = ((uint64_t{1} << kTagBits) | tag) << kAddressBits;  // address kInvalidAddress
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
  return Status::OK();
}

}  // namespace tidekv::hlog
