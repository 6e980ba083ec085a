#include "appendlog/keydir.h"

#include <cstdlib>

namespace tidekv::appendlog {

namespace {
constexpr size_t kMinSlots = 16;
size_t RoundUpPowerOfTwo(size_t n) {
  size_t p = kMinSlots;
  while (p < n) p <<= 1;
  return p;
}
// A table holds at most 3/4 of its capacity.
size_t SlotsFor(size_t keys) { return RoundUpPowerOfTwo(keys + keys / 3 + 1); }
}  // namespace

KeyDir::KeyDir(size_t min_slots) {
  size_t n = RoundUpPowerOfTwo(min_slots);
  // A refused mapping leaves the smallest table (the caller asked for room,
  // not for correctness; growth reports running out of memory later).
  if (!slots_.Allocate(n)) {
    n = kMinSlots;
    if (!slots_.Allocate(n)) std::abort();  // 512 bytes refused: nothing sensible is left to do
  }
  mask_ = n - 1;
}

bool KeyDir::Grow(size_t new_capacity) {
  LargeArray<Slot> fresh;
  if (!fresh.Allocate(new_capacity)) return false;
  const size_t mask = new_capacity - 1;
  // The old slots are read in order; the new home of a slot some way ahead is
  // fetched early, so the scattered writes' cache misses overlap.
  constexpr size_t kAhead = 16;
  for (size_t i = 0; i <= mask_; ++i) {
    if (i + kAhead <= mask_) __builtin_prefetch(&fresh[slots_[i + kAhead].hash & mask], 1);
    const Slot& s = slots_[i];
    if (s.loc == 0) continue;
    size_t j = s.hash & mask;
    while (fresh[j].loc != 0) j = (j + 1) & mask;
    fresh[j] = s;
  }
  slots_ = std::move(fresh);
  mask_ = mask;
  return true;
}

bool KeyDir::Reserve(size_t n) {
  const size_t want = SlotsFor(n);
  return want <= capacity() || Grow(want);
}

bool KeyDir::Insert(uint64_t hash, Location loc) {
  if ((count_ + 1) * 4 > capacity() * 3 && !Grow(capacity() * 2)) return false;
  size_t i = hash & mask_;
  while (slots_[i].loc != 0) i = (i + 1) & mask_;
  slots_[i] = Slot{hash, loc};
  ++count_;
  return true;
}

void KeyDir::Erase(Slot* slot) {
  // Backward shift: walk the cluster after the hole and move back every
  // slot whose home position lies cyclically at or before the hole, so no
  // probe sequence crosses an empty slot it did not cross before.
  size_t hole = static_cast<size_t>(slot - slots_.data());
  for (size_t i = (hole + 1) & mask_;; i = (i + 1) & mask_) {
    Slot& s = slots_[i];
    if (s.loc == 0) break;
    const size_t home = s.hash & mask_;
    // Distance from home to i vs from home to hole (cyclic).
    if (((i - home) & mask_) >= ((i - hole) & mask_)) {
      slots_[hole] = s;
      hole = i;
    }
  }
  slots_[hole] = Slot{0, 0};
  --count_;
}

}  // namespace tidekv::appendlog
