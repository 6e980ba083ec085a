// BlockCache: verified copies of SSTable data blocks, evicted least recently
// used first once they exceed a byte budget (the part of memoryBudgetBytes
// the memtables leave). A hit skips the block's CRC check and reads memory
// the engine owns instead of a page of the mapping, which the OS may have
// dropped. Table files are never renumbered, so blocks of a deleted table are
// never looked up again and simply age out.
//
// Not thread-safe: the LSM engine uses it under its lock. A returned block
// stays valid until the next Insert (which may evict it).
#pragma once

#include <cstdint>
#include <list>
#include <string>
#include <unordered_map>

#include "common/slice.h"

namespace tidekv::lsm {

class BlockCache {
 public:
  explicit BlockCache(size_t capacity_bytes) : capacity_(capacity_bytes) {}
  BlockCache(const BlockCache&) = delete;
  BlockCache& operator=(const BlockCache&) = delete;

  // The cached copy of block `block` of table `table`, or nullptr.
  const std::string* Lookup(uint64_t table, uint64_t block);
  // Copies bytes in (evicting as needed) and returns the copy. A block larger
  // than the whole budget is not kept: nullptr.
  const std::string* Insert(uint64_t table, uint64_t block, Slice bytes);
  void Clear();

  size_t bytes() const { return bytes_; }
  size_t capacity() const { return capacity_; }
  uint64_t hits() const { return hits_; }
  uint64_t misses() const { return misses_; }

 private:
  struct Key {
    uint64_t table, block;
    bool operator==(const Key& o) const { return table == o.table && block == o.block; }
  };
  struct KeyHash {
    size_t operator()(const Key& k) const { return static_cast<size_t>(k.table * 0x9E3779B97F4A7C15ull ^ k.block); }
  };
  struct Entry {
    Key key;
    std::string bytes;
  };
  // Fixed overhead per entry (list and map nodes), counted against the budget.
  static constexpr size_t kEntryOverhead = 96;

  size_t capacity_;
  size_t bytes_ = 0;
  uint64_t hits_ = 0, misses_ = 0;
  std::list<Entry> lru_;  // most recently used first
  std::unordered_map<Key, std::list<Entry>::iterator, KeyHash> map_;
};

}  // namespace tidekv::lsm
