// BlockCache: verified copies of SSTable data blocks, kept within a byte
// budget (the part of memoryBudgetBytes the memtables leave). A hit skips the
// block's CRC check and reads memory the engine owns instead of a page of the
// mapping, which the OS may have dropped. Table files are never renumbered, so
// blocks of a deleted table are never looked up again and simply age out.
//
// Eviction is CLOCK (second chance), which approximates LRU without touching
// a list on every hit. The index is open addressing over slots that hold
// the block's address as well as its name, so a hit costs one probe and
// then the block itself (no hop through an entry): this sits on every point
// read's path, where each hop is a cache miss.
//
// Not thread-safe: the LSM engine uses it under its lock. A returned block
// stays valid until the next Insert (which may evict it).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/slice.h"

namespace tidekv::lsm {

class BlockCache {
 public:
  explicit BlockCache(size_t capacity_bytes) : capacity_(capacity_bytes) {}
  BlockCache(const BlockCache&) = delete;
  BlockCache& operator=(const BlockCache&) = delete;

  // The cached copy of block `block` of table `table`; data() is nullptr
  // when the cache does not hold it.
  Slice Lookup(uint64_t table, uint64_t block);
  // The same without counting a hit or a miss or marking the block used:
  // for prefetching what a lookup will soon read.
  Slice Peek(uint64_t table, uint64_t block) const;
  // Copies bytes in (evicting as needed) and returns the copy. A block larger
  // than the whole budget is not kept: data() nullptr.
  Slice Insert(uint64_t table, uint64_t block, Slice bytes);
  void Clear();

  size_t bytes() const { return bytes_; }
  size_t capacity() const { return capacity_; }
  uint64_t hits() const { return hits_; }
  uint64_t misses() const { return misses_; }

 private:
  struct Entry {
    uint64_t table = 0, block = 0;
    std::unique_ptr<char[]> bytes;  // never moves while cached
    size_t size = 0;
    bool referenced = false;  // looked up since the clock hand last passed
    bool live = false;
  };
  struct Slot {
    uint64_t table = 0, block = 0;
    const char* data = nullptr;
    uint32_t size = 0;
    uint32_t entry = 0;  // entry number + 1; 0 = empty
  };
  // Fixed overhead per entry (the entry and its index slots), counted against the budget.
  static constexpr size_t kEntryOverhead = 64;

  static uint64_t Hash(uint64_t table, uint64_t block) {
    return (table * 0x9E3779B97F4A7C15ull) ^ (block * 0xC2B2AE3D27D4EB4Full);
  }
  // The index slot holding (table, block), or the empty slot where it would go.
  size_t FindSlot(uint64_t table, uint64_t block) const;
  void Place(uint32_t number);  // entries_[number] into the index
  void EraseSlot(size_t slot);
  void EvictOne();
  void GrowIndex();

  size_t capacity_;
  size_t bytes_ = 0;
  uint64_t hits_ = 0, misses_ = 0;
  std::vector<Entry> entries_;
  std::vector<uint32_t> free_;   // dead entry numbers to reuse
  std::vector<Slot> index_;      // a power of two in size, at most half full
  size_t index_used_ = 0;
  size_t hand_ = 0;  // the clock
};

}  // namespace tidekv::lsm
