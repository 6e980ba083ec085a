// KeyDir: the append log's in-memory key directory, key -> where the key's
// newest record is (segment number, offset).
//
// Compact on purpose: a slot is 16 bytes (the key's 64-bit hash and its
// location) in one open-addressing table with linear probing, and nothing
// is allocated per key. The key bytes are not kept in memory: they are in
// the record the slot points to, and a lookup confirms a hash match by
// comparing them there (the caller's `same_key`), which a read does anyway
// on its way to the value. A full 64-bit hash makes a match of two different
// keys rare enough that the comparison almost never fails.
//
// The table doubles when it is three quarters full (all at once: a rehash of
// n keys moves 16n bytes). Erase shifts the following slots back (no
// tombstone slots), so probes stay short under deletes.
//
// Not thread-safe: the engine's lock guards it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "common/large_array.h"

namespace tidekv::appendlog {

// A record's place: segment number in the high 32 bits, offset / 8 in the
// low 32 (records are 8-byte aligned, so a segment may reach 32 GiB). 0 is
// never a location (segment numbers start at 1): it marks an empty slot.
using Location = uint64_t;
inline constexpr Location MakeLocation(uint32_t segment, uint64_t offset) {
  return (static_cast<uint64_t>(segment) << 32) | (offset >> 3);
}
inline constexpr uint32_t LocationSegment(Location loc) { return static_cast<uint32_t>(loc >> 32); }
inline constexpr uint64_t LocationOffset(Location loc) { return (loc & 0xffffffffull) << 3; }

class KeyDir {
 public:
  struct Slot {
    uint64_t hash;
    Location loc;  // 0: empty
  };

  // min_slots is rounded up to a power of two (at least 16).
  explicit KeyDir(size_t min_slots = 1024);
  KeyDir(KeyDir&&) noexcept = default;
  KeyDir& operator=(KeyDir&&) noexcept = default;

  // The slot of the key with this hash for which same_key(loc) is true, or
  // nullptr. The pointer is valid until the next Insert or Erase.
  template <class SameKey>
  Slot* Find(uint64_t hash, SameKey&& same_key) {
    for (size_t i = hash & mask_;; i = (i + 1) & mask_) {
      Slot& s = slots_[i];
      if (s.loc == 0) return nullptr;
      if (s.hash == hash && same_key(s.loc)) return &s;
    }
  }
  // The slot that points at exactly loc (the key hashing to hash), or nullptr.
  // For the merge: "is this record still the newest of its key?"
  Slot* FindLocation(uint64_t hash, Location loc) {
    return Find(hash, [loc](Location l) { return l == loc; });
  }
  // Adds a key known to be absent (Find returned nullptr). Grows the table
  // first when needed; false only when memory for the growth is refused.
  bool Insert(uint64_t hash, Location loc);
  void Erase(Slot* slot);
  void Prefetch(uint64_t hash) const { __builtin_prefetch(&slots_[hash & mask_]); }
  // Makes room for n keys in all without growing again. False when refused.
  bool Reserve(size_t n);

  size_t size() const { return count_; }
  size_t capacity() const { return mask_ + 1; }
  size_t MemoryBytes() const { return capacity() * sizeof(Slot); }

  // Erases every slot for which pred(slot) is true.
  template <class Pred>
  void RemoveIf(Pred&& pred) {
    // An erase shifts later slots back into the hole, so the same index is
    // looked at again; a slot shifted across the table's end was seen already.
    for (size_t i = 0; i <= mask_;) {
      if (slots_[i].loc != 0 && pred(slots_[i])) {
        Erase(&slots_[i]);
      } else {
        ++i;
      }
    }
  }

  // Calls fn(slot) for every occupied slot, in table order. fn may change
  // slot.loc (not to 0) but not insert or erase.
  template <class Fn>
  void ForEach(Fn&& fn) {
    for (size_t i = 0; i <= mask_; ++i) {
      if (slots_[i].loc != 0) fn(slots_[i]);
    }
  }

 private:
  bool Grow(size_t new_capacity);

  LargeArray<Slot> slots_;  // huge pages where offered: random probes miss the TLB less
  size_t mask_ = 0;
  size_t count_ = 0;
};

}  // namespace tidekv::appendlog
