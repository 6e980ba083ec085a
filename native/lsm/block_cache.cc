#include "lsm/block_cache.h"

#include <cstring>
#include <new>

namespace tidekv::lsm {

size_t BlockCache::FindSlot(uint64_t table, uint64_t block) const {
  const size_t mask = index_.size() - 1;
  for (size_t i = Hash(table, block) & mask;; i = (i + 1) & mask) {
    const Slot& slot = index_[i];
    if (slot.entry == 0 || (slot.table == table && slot.block == block)) return i;
  }
}

Slice BlockCache::Lookup(uint64_t table, uint64_t block) {
  if (index_.empty()) {
    ++misses_;
    return Slice();
  }
  const Slot& slot = index_[FindSlot(table, block)];
  if (slot.entry == 0) {
    ++misses_;
    return Slice();
  }
  ++hits_;
  entries_[slot.entry - 1].referenced = true;  // a store: the read does not wait for it
  return Slice(slot.data, slot.size);
}

Slice BlockCache::Peek(uint64_t table, uint64_t block) const {
  if (index_.empty()) return Slice();
  const Slot& slot = index_[FindSlot(table, block)];
  return slot.entry == 0 ? Slice() : Slice(slot.data, slot.size);
}

// Backward-shift deletion keeps every key reachable from its home slot
// without tombstones.
void BlockCache::EraseSlot(size_t slot) {
  const size_t mask = index_.size() - 1;
  size_t hole = slot;
  for (size_t i = (slot + 1) & mask; index_[i].entry != 0; i = (i + 1) & mask) {
    const size_t home = Hash(index_[i].table, index_[i].block) & mask;
    // Move i into the hole when its home is not in (hole, i] (cyclically).
    const bool home_after_hole = hole <= i ? (home > hole && home <= i) : (home > hole || home <= i);
    if (!home_after_hole) {
      index_[hole] = index_[i];
      hole = i;
    }
  }
  index_[hole] = Slot{};
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
    bytes_ -= entry.size + kEntryOverhead;
    entry.live = false;
    entry.bytes.reset();
    entry.size = 0;
    free_.push_back(number);
    return;
  }
}

void BlockCache::Place(uint32_t number) {
  const Entry& entry = entries_[number];
  Slot& slot = index_[FindSlot(entry.table, entry.block)];
  slot = Slot{entry.table, entry.block, entry.bytes.get(), static_cast<uint32_t>(entry.size), number + 1};
  ++index_used_;
}

void BlockCache::GrowIndex() {
  std::vector<Slot> old;
  old.swap(index_);
  index_.assign(old.empty() ? 1024 : 2 * old.size(), Slot{});
  index_used_ = 0;
  for (const Slot& slot : old) {
    if (slot.entry != 0) Place(slot.entry - 1);
  }
}

Slice BlockCache::Insert(uint64_t table, uint64_t block, Slice bytes) {
  const size_t cost = bytes.size() + kEntryOverhead;
  if (cost > capacity_ || bytes.size() > UINT32_MAX) return Slice();
  if (!index_.empty()) {
    const Slot& slot = index_[FindSlot(table, block)];
    if (slot.entry != 0) return Slice(slot.data, slot.size);
  }
  std::unique_ptr<char[]> copy(new (std::nothrow) char[bytes.size() == 0 ? 1 : bytes.size()]);
  if (copy == nullptr) return Slice();  // no memory: the read goes on from the mapping
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
  if (!bytes.empty()) std::memcpy(copy.get(), bytes.data(), bytes.size());
  entry.bytes = std::move(copy);
  entry.size = bytes.size();
  entry.referenced = false;
  entry.live = true;
  Place(number);
  bytes_ += cost;
  return Slice(entry.bytes.get(), entry.size);
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
