// KeyDir against a std::unordered_map model: random inserts, updates and
// erases, with hashes squeezed into a few values so that clusters, wrap
// around the table's end and backward-shift deletes are exercised.
#include <string>
#include <unordered_map>
#include <vector>

#include "appendlog/keydir.h"
#include "common/testing.h"

namespace tidekv::appendlog {
namespace {

// Keys are small integers; a key's "record" is its value in `records`,
// located by Location = MakeLocation(1, 8 * slot_in_records).
struct Harness {
  std::vector<uint64_t> records;  // loc offset / 8 -> key id
  Location Add(uint64_t key) {
    records.push_back(key);
    return MakeLocation(1, 8 * (records.size() - 1));
  }
  uint64_t KeyAt(Location loc) const { return records[LocationOffset(loc) / 8]; }
};

TEST(KeyDir, LocationsPackSegmentAndOffset) {
  const Location l = MakeLocation(7, 8 * 123456789ull);
  EXPECT_EQ(LocationSegment(l), 7u);
  EXPECT_EQ(LocationOffset(l), 8 * 123456789ull);
  EXPECT_EQ(LocationOffset(MakeLocation(UINT32_MAX, (uint64_t{1} << 35) - 8)), (uint64_t{1} << 35) - 8);
  EXPECT_TRUE(MakeLocation(1, 0) != 0);
}

TEST(KeyDir, MatchesAModelUnderRandomOps) {
  uint64_t rng = testing::TestSeed();
  for (int round = 0; round < 6; ++round) {
    const uint64_t hash_values = round < 3 ? 7 : (uint64_t{1} << 40);  // few hashes: long clusters
    KeyDir dir(16);
    Harness h;
    std::unordered_map<uint64_t, Location> model;
    auto hash_of = [&](uint64_t key) { return (key * 0x9E3779B97F4A7C15ull) % hash_values; };
    for (int op = 0; op < 20000; ++op) {
      const uint64_t key = testing::SplitMix(&rng) % 3000;
      const uint64_t hash = hash_of(key);
      auto same = [&](Location loc) { return h.KeyAt(loc) == key; };
      KeyDir::Slot* slot = dir.Find(hash, same);
      auto it = model.find(key);
      if ((slot != nullptr) != (it != model.end())) {
        testing::ReportFailure(__FILE__, __LINE__, "presence differs for key " + std::to_string(key));
        return;
      }
      if (slot != nullptr && slot->loc != it->second) {
        testing::ReportFailure(__FILE__, __LINE__, "location differs for key " + std::to_string(key));
        return;
      }
      const uint64_t action = testing::SplitMix(&rng) % 10;
      if (action < 5) {  // put
        const Location loc = h.Add(key);
        if (slot != nullptr) {
          slot->loc = loc;
        } else {
          ASSERT_TRUE(dir.Insert(hash, loc));
        }
        model[key] = loc;
      } else if (action < 9 && slot != nullptr) {  // delete
        dir.Erase(slot);
        model.erase(key);
      }
      if (slot != nullptr && action == 9) {
        EXPECT_TRUE(dir.FindLocation(hash, it->second) == slot);
        EXPECT_TRUE(dir.FindLocation(hash, MakeLocation(2, LocationOffset(it->second))) == nullptr);  // never used
      }
    }
    EXPECT_EQ(dir.size(), model.size());
    size_t seen = 0;
    dir.ForEach([&](KeyDir::Slot& s) {
      ++seen;
      auto m = model.find(h.KeyAt(s.loc));
      if (m == model.end() || m->second != s.loc) testing::ReportFailure(__FILE__, __LINE__, "stray slot");
    });
    EXPECT_EQ(seen, model.size());
    EXPECT_TRUE(dir.size() * 4 <= dir.capacity() * 3);
  }
}

TEST(KeyDir, ReserveAvoidsGrowthAndKeepsSixteenBytesASlot) {
  KeyDir dir(16);
  ASSERT_TRUE(dir.Reserve(1000));
  const size_t capacity = dir.capacity();
  EXPECT_TRUE(capacity * 3 >= 1000 * 4);
  for (uint64_t k = 0; k < 1000; ++k) ASSERT_TRUE(dir.Insert(k * 0x9E3779B97F4A7C15ull, MakeLocation(1, 8 * k)));
  EXPECT_EQ(dir.capacity(), capacity);
  EXPECT_EQ(dir.MemoryBytes(), capacity * 16);
  EXPECT_EQ(sizeof(KeyDir::Slot), 16u);
}

TEST(KeyDir, RemoveIfErasesExactlyTheMatchingSlots) {
  uint64_t rng = testing::TestSeed() + 3;
  for (int round = 0; round < 20; ++round) {
    // Few distinct hashes: long clusters that wrap around the table's end.
    KeyDir dir(64);
    std::unordered_map<uint64_t, uint64_t> model;  // loc -> hash
    const uint64_t n = 10 + testing::SplitMix(&rng) % 40;
    for (uint64_t k = 0; k < n; ++k) {
      const uint64_t hash = (round % 2 == 0) ? 60 + testing::SplitMix(&rng) % 6 : testing::SplitMix(&rng);
      const Location loc = MakeLocation(1, 8 * k);
      ASSERT_TRUE(dir.Insert(hash, loc));
      model[loc] = hash;
    }
    const uint64_t modulus = 2 + testing::SplitMix(&rng) % 3;
    auto doomed = [&](Location loc) { return (LocationOffset(loc) / 8) % modulus == 0; };
    dir.RemoveIf([&](const KeyDir::Slot& s) { return doomed(s.loc); });
    for (auto it = model.begin(); it != model.end();) it = doomed(it->first) ? model.erase(it) : std::next(it);
    EXPECT_EQ(dir.size(), model.size());
    // Every kept slot is still found by its hash (no probe chain was broken).
    for (const auto& [loc, hash] : model) EXPECT_TRUE(dir.FindLocation(hash, loc) != nullptr);
  }
}

}  // namespace
}  // namespace tidekv::appendlog
