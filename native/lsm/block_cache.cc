#include "lsm/block_cache.h"

namespace tidekv::lsm {

size_t BlockCache::FindSlot(uint64_t table, uint64_t block) const {
  const size_t mask = index_.size() - 1;
  for (size_t i = Hash(table, block) & mask;; i = (i + 1) & mask) {
    const uint32_t e = index_[i];
    if (e == 0) return i;
    const Entry& entry = entries_[e - 1];
    if (entry.table == table && entry.block == block) return i;
  }
}

const std::string* BlockCache::Lookup(uint64_t table, uint64_t block) {
  if (index_.empty()) {
    ++misses_;
    return nullptr;
  }
  const uint32_t e = index_[FindSlot(table, block)];
  if (e == 0) {
    ++misses_;
    return nullptr;
  }
  ++hits_;
  Entry& entry = entries_[e - 1];
  entry.referenced = true;
  return &entry.bytes;
}

// Backward-shift deletion keeps every key reachable from its home slot
// without tombstones.
void BlockCache::EraseSlot(size_t slot) {
  const size_t mask = index_.size() - 1;
  size_t hole = slot;
  for (size_t i = (slot + 1) & mask; index_[i] != 0; i = (i + 1) & mask) {
    const Entry& entry = entries_[index_[i] - 1];
    const size_t home = Hash(entry.table, entry.block) & mask;
    // Move i into the hole when its home is not in (hole, i] (cyclically).
    const bool home_after_hole = hole <= i ? (home > hole && home <= i) : (home > hole || home <= i);
    if (!home_after_hole) {
      index_[hole] = index_[i];
      hole = i;
    }
  }
  index_[hole] = 0;
  --index_used_;
}

void BlockCache::EvictOne() {
  for (;;) {
    if (hand_ >= entries_.size()) hand_ = 0;
    Entry& entry = entries_[hand_];
    const uint32_t number = static_cast<uint32_t>(hand_++);
    if (!entry.live) continue;
    if (entry.referenced) {
      entry.referenced = false;  // second chance
      continue;
    }
    EraseSlot(FindSlot(entry.table, entry.block));
    bytes_ -= entry.bytes.size() + kEntryOverhead;
    entry.live = false;
    std::string().swap(entry.bytes);
    free_.push_back(number);
    return;
  }
}

void BlockCache::GrowIndex() {
  std::vector<uint32_t> old;
  old.swap(index_);
  index_.assign(old.empty() ? 1024 : 2 * old.size(), 0);
  index_used_ = 0;
  for (uint32_t e : old) {
    if (e == 0) continue;
    const Entry& entry = entries_[e - 1];
    index_[FindSlot(entry.table, entry.block)] = e;
    ++index_used_;
  }
}

const std::string* BlockCache::Insert(uint64_t table, uint64_t block, Slice bytes) {
  const size_t cost = bytes.size() + kEntryOverhead;
  if (cost > capacity_) return nullptr;
  if (!index_.empty()) {
    if (const uint32_t e = index_[FindSlot(table, block)]; e != 0) return &entries_[e - 1].bytes;
  }
  while (bytes_ + cost > capacity_) EvictOne();
  if (2 * (index_used_ + 1) > index_.size()) GrowIndex();
  uint32_t number;
  if (!free_.empty()) {
    number = free_.back();
    free_.pop_back();
  } else {
    number = static_cast<uint32_t>(entries_.size());
    entries_.emplace_back();
  }
  Entry& entry = entries_[number];
  entry.table = table;
  entry.block = block;
  entry.bytes.assign(bytes.data(), bytes.size());
  entry.referenced = false;
  entry.live = true;
  index_[FindSlot(table, block)] = number + 1;
  ++index_used_;
  bytes_ += cost;
  return &entry.bytes;
}

void BlockCache::Clear() {
  entries_.clear();
  free_.clear();
  index_.clear();
  index_used_ = 0;
  bytes_ = 0;
  hand_ = 0;
}

}  // namespace tidekv::lsm
