// HashIndex: maps a key's hash to the newest record of its hash chain.
//
// Layout (after FASTER): a power-of-two array of 64-byte buckets, each with 7
// entry slots and a link to an overflow bucket. An entry is one 64-bit word:
//
//   bits 0..47   log address of the newest record in the chain
//   bits 48..63  tag field: a tag of `len` bits (0..15) under a marker bit at
//                position len, i.e. (1 << len) | tag. 0 = empty slot.
//
// A key with hash h belongs to bucket h & (buckets - 1); its tag is the 15 bits
// of h just above the bucket bits. All keys whose tag matches an entry share
// that entry's chain, linked through the records' `link` fields in the log,
// newest first; lookups walk the chain comparing keys.
//
// Why variable-length tags: doubling the index must split every chain between
// bucket b and bucket b + N by one more hash bit. FASTER reads the chain's
// records to learn that bit, which for a larger-than-memory log means a random
// disk read per entry while the index is frozen. Because our tag sits directly
// above the bucket bits, the split bit is the tag's lowest bit: the entry
// moves to its new bucket with its tag shifted down by one, no record read.
// The tag loses a bit per doubling and never gains it back while the entry
// lives (keys that match it keep joining its chain); it ends when compaction
// reclaims the whole chain and the slot is reused with a full tag. A shorter
// tag only means more chain walking: a 0-bit tag matches every key in its
// bucket and is copied into both halves at the next doubling, which stays
// correct because chains may share their older records. From the default
// 16384 buckets that takes 15 doublings (2^29 buckets, a 32 GiB index).
//
// Invariants:
//   1. No two live entries of a bucket (and its overflow buckets) match each
//      other on the shorter of their tag lengths, so every key has at most one
//      live entry: FindOrCreate creates an entry only when none matches.
//   2. An entry whose address is below the log's begin address is dead: its
//      whole chain was reclaimed. Dead and empty slots are free for reuse.
//   3. Splitting preserves 1: two entries that differed on min(len) bits and
//      share the split bit differ on the remaining min(len) - 1 bits.
//
// Checkpoints. Every write to a slot marks its bucket dirty (SetAddress,
// FindOrCreate). A cut copies the dirty buckets as images: runs of
// consecutive buckets, id = the first main bucket, or kOverflowChunkId + the
// first overflow bucket (0-based; runs stay inside one allocation chunk). So a checkpoint writes what changed, at
// 64 bytes per changed bucket. Recovery loads a base (images of everything)
// and the deltas after it in order, later images overriding earlier ones,
// and checks that every bucket was loaded.
//
// Threading: none inside; the engine's lock guards every call. Slot pointers
// returned by Find/FindOrCreate are valid until the next Grow or
// FindOrCreate (which may add an overflow bucket).
#pragma once

#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/limits.h"
#include "common/slice.h"
#include "common/status.h"

namespace tidekv::hlog {

class HashIndex {
 public:
  static constexpr int kSlotsPerBucket = 7;
  static constexpr int kTagBits = 15;
  static constexpr uint64_t kAddressMask = (uint64_t{1} << kAddressBits) - 1;
  // Grow when live entries exceed this many per bucket (of 7 slots): at 4 a
  // Poisson-distributed bucket overflows about 5% of the time.
  static constexpr uint64_t kGrowEntriesPerBucket = 4;

  struct alignas(64) Bucket {
    uint64_t slots[kSlotsPerBucket];
    uint64_t overflow;  // 1-based index into the overflow pool; 0 = none
  };
  static_assert(sizeof(Bucket) == 64);

  HashIndex() = default;
  ~HashIndex();
  HashIndex(const HashIndex&) = delete;
  HashIndex& operator=(const HashIndex&) = delete;

  // REQUIRES: not yet initialized. bucket_bits in [1, kMaxIndexBucketBits].
  Status Init(int bucket_bits, bool bulk = false);  // bulk: about to be filled whole (recovery)

  static uint64_t Address(uint64_t entry) { return entry & kAddressMask; }
  // Points the entry at address (and marks its chunk dirty).
  void SetAddress(uint64_t* slot, uint64_t address) {
    *slot = (*slot & ~kAddressMask) | address;
    MarkDirty(slot);
  }

  static constexpr uint64_t kOverflowChunkId = uint64_t{1} << 40;
  // Overflow buckets are allocated (and saved) this many at a time.
  static constexpr uint64_t kOverflowChunk = 1024;
  // Longest run of main buckets in one image (1 MiB).
  static constexpr uint64_t kMaxRunBuckets = 16384;
  // Copies of buckets, in one allocation: image i is bytes[offsets[i], offsets[i + 1]).
  struct ChunkImages {
    std::vector<uint64_t> ids;
    std::vector<uint64_t> offsets{0};
    std::string bytes;
    size_t size() const { return ids.size(); }
    Slice image(size_t i) const { return Slice(bytes.data() + offsets[i], offsets[i + 1] - offsets[i]); }
  };
  // Appends a copy of every bucket written since the last call and forgets
  // that they were dirty. Returns true when that was every bucket and
  // overflow chunk (the images are a base).
  bool TakeDirtyChunks(ChunkImages* images);
  void MarkAllDirty();
  // Recovery: an empty index of this shape, then images in order (LoadChunk);
  // FullyLoaded tells whether every bucket was in one of them.
  Status InitForRecovery(int bucket_bits, uint64_t overflow_used, uint64_t live_entries);
  Status LoadChunk(uint64_t id, Slice bytes);
  bool FullyLoaded() const;
  int bucket_bits() const { return bucket_bits_; }
  uint64_t overflow_chunk_count() const { return overflow_chunks_.size(); }

  // The live entry for hash, or nullptr.
  uint64_t* Find(uint64_t hash, uint64_t begin_address) {
    const uint64_t tag = FullTag(hash);
    Bucket* b = &buckets_[hash & bucket_mask_];
    for (;;) {
      for (uint64_t& slot : b->slots) {
        if (IsLiveMatch(slot, tag, begin_address)) return &slot;
      }
      if (b->overflow == 0) return nullptr;
      b = OverflowBucket(b->overflow);
    }
  }
  // Starts loading the bucket of hash into cache (batched lookups overlap
  // their misses: see HybridLogEngine::PrefetchGroup).
  void PrefetchBucket(uint64_t hash) const { __builtin_prefetch(&buckets_[hash & bucket_mask_]); }

  // The live entry for hash, or a new one (address kInvalidAddress) with a
  // full tag. Fails only when memory for an overflow bucket cannot be had.
  Status FindOrCreate(uint64_t hash, uint64_t begin_address, uint64_t** slot);

  bool NeedsGrow() const {
    return live_entries_ > kGrowEntriesPerBucket * bucket_count() && bucket_bits_ < kMaxIndexBucketBits;
  }
  // Doubles the bucket count; drops dead entries.
  Status Grow(uint64_t begin_address);

  uint64_t bucket_count() const { return uint64_t{1} << bucket_bits_; }
  uint64_t overflow_bucket_count() const { return overflow_used_; }
  uint64_t live_entries() const { return live_entries_; }
  size_t MemoryBytes() const {
    return bucket_count() * sizeof(Bucket) + overflow_chunks_.size() * kOverflowChunk * sizeof(Bucket);
  }

  // Calls fn(slot) for every used slot (for tests and invariant checks).
  template <typename Fn>
  void ForEachEntry(Fn&& fn) const {
    for (uint64_t i = 0; i < bucket_count(); ++i) {
      const Bucket* b = &buckets_[i];
      for (;;) {
        for (uint64_t slot : b->slots) {
          if (slot != 0) fn(i, slot);
        }
        if (b->overflow == 0) break;
        b = OverflowBucket(b->overflow);
      }
    }
  }
  // The bucket index a hash maps to (tests).
  uint64_t BucketOf(uint64_t hash) const { return hash & bucket_mask_; }
  // True when entry's tag accepts hash (tests, invariant checks).
  bool EntryAcceptsHash(uint64_t entry, uint64_t hash) const { return TagMatches(entry, FullTag(hash)); }

 private:

  uint64_t FullTag(uint64_t hash) const { return (hash >> bucket_bits_) & ((1u << kTagBits) - 1); }
  static bool TagMatches(uint64_t entry, uint64_t full_tag) {
    const uint32_t field = static_cast<uint32_t>(entry >> kAddressBits);
    const int len = 31 - __builtin_clz(field);  // field != 0 for used slots
    return ((field ^ full_tag) & ((1u << len) - 1)) == 0;
  }
  static bool IsLiveMatch(uint64_t entry, uint64_t full_tag, uint64_t begin_address) {
    return entry != 0 && Address(entry) >= begin_address && TagMatches(entry, full_tag);
  }
  Bucket* OverflowBucket(uint64_t index) const {
    return &overflow_chunks_[(index - 1) / kOverflowChunk][(index - 1) % kOverflowChunk];
  }
  Status NewOverflowBucket(uint64_t* index);
  void MarkDirty(const uint64_t* slot);
  // Puts entry in the first empty slot of bucket (adding an overflow bucket if full).
  Status InsertIntoBucket(uint64_t bucket, uint64_t entry);

  int bucket_bits_ = 0;
  uint64_t bucket_mask_ = 0;
  Bucket* buckets_ = nullptr;  // AllocateLargeBlock'd
  std::vector<std::unique_ptr<Bucket[]>> overflow_chunks_;
  uint64_t overflow_used_ = 0;
  uint64_t live_entries_ = 0;  // used slots, counting dead ones until Grow drops them
  // A bit per bucket.
  class BucketBits {
   public:
    void Assign(uint64_t n, bool value);
    void Grow(uint64_t n, bool value);  // to n bits, new ones = value
    void Set(uint64_t i) { words_[i >> 6] |= uint64_t{1} << (i & 63); }
    bool Test(uint64_t i) const { return (words_[i >> 6] >> (i & 63) & 1) != 0; }
    uint64_t Count() const;
    // The first set bit at or after i (size() when none).
    uint64_t NextSet(uint64_t i) const;
    uint64_t size() const { return n_; }

   private:
    std::vector<uint64_t> words_;
    uint64_t n_ = 0;
  };
  // Appends runs of the set bits of `dirty` (clearing them) as images, not
  // crossing a multiple of `split` (an allocation boundary).
  void TakeRuns(BucketBits* dirty, uint64_t split, uint64_t id_base, ChunkImages* images);
  const Bucket* BucketAt(uint64_t id) const;  // main bucket id or kOverflowChunkId + overflow bucket

  BucketBits dirty_main_;      // main buckets written since the last cut
  BucketBits dirty_overflow_;  // overflow buckets (0-based) likewise
  // Recovery only: which buckets an image has filled.
  BucketBits loaded_main_;
  BucketBits loaded_overflow_;
  std::map<uintptr_t, uint64_t> overflow_chunk_of_;  // chunk start address -> chunk number
};

}  // namespace tidekv::hlog
