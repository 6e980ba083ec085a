#include "lsm/block_cache.h"

namespace tidekv::lsm {

const std::string* BlockCache::Lookup(uint64_t table, uint64_t block) {
  auto it = map_.find(Key{table, block});
  if (it == map_.end()) {
    ++misses_;
    return nullptr;
  }
  ++hits_;
  lru_.splice(lru_.begin(), lru_, it->second);
  return &it->second->bytes;
}

const std::string* BlockCache::Insert(uint64_t table, uint64_t block, Slice bytes) {
  const size_t cost = bytes.size() + kEntryOverhead;
  if (cost > capacity_) return nullptr;
  const Key key{table, block};
  if (auto it = map_.find(key); it != map_.end()) return &it->second->bytes;
  while (bytes_ + cost > capacity_ && !lru_.empty()) {
    bytes_ -= lru_.back().bytes.size() + kEntryOverhead;
    map_.erase(lru_.back().key);
    lru_.pop_back();
  }
  lru_.push_front(Entry{key, std::string(bytes.data(), bytes.size())});
  map_.emplace(key, lru_.begin());
  bytes_ += cost;
  return &lru_.front().bytes;
}

void BlockCache::Clear() {
  lru_.clear();
  map_.clear();
  bytes_ = 0;
}

}  // namespace tidekv::lsm
