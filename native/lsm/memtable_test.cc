#include "lsm/memtable.h"

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <mutex>
#include <thread>
#include <vector>

#include "common/testing.h"

namespace tidekv::lsm {
namespace {

using testing::SplitMix;

std::string Counter(int64_t v) {
  std::string s(8, '\0');
  StoreFixed64(s.data(), static_cast<uint64_t>(v));
  return s;
}

int64_t CounterOf(Slice s) { return static_cast<int64_t>(LoadFixed64(s.data())); }

MemEntry MustGet(const MemTable& table, Slice key) {
  MemEntry e{};
  if (!table.Get(key, &e)) testing::ReportFailure(__FILE__, __LINE__, "no entry for " + testing::Show(key));
  return e;
}

TEST(Arena, AlignedDistinctAllocations) {
  Arena arena;
  std::vector<char*> seen;
  for (size_t bytes : {size_t{0}, size_t{1}, size_t{7}, size_t{8}, size_t{13}, Arena::kBlockBytes / 4 + 1,
                       size_t{3}, Arena::kBlockBytes - 8, size_t{1}}) {
    char* p = arena.Allocate(bytes);
    ASSERT_TRUE(p != nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 8, uintptr_t{0});
    if (bytes > 0) std::memset(p, 0xAB, bytes);  // ASan checks the whole range is ours
    for (char* q : seen) EXPECT_TRUE(p != q);
    seen.push_back(p);
  }
  EXPECT_TRUE(arena.UsedBytes() >= Arena::kBlockBytes / 4 + Arena::kBlockBytes);
}

TEST(MemTable, Empty) {
  MemTable table;
  MemEntry e{};
  EXPECT_FALSE(table.Get("a", &e));
  EXPECT_EQ(table.entries(), size_t{0});
  MemTable::Iterator it(&table);
  it.SeekToFirst();
  EXPECT_FALSE(it.Valid());
  it.Seek("");
  EXPECT_FALSE(it.Valid());
}

TEST(MemTable, PutGetOverwriteDelete) {
  MemTable table;
  ASSERT_OK(table.Put("k", "v1"));
  MemEntry e = MustGet(table, "k");
  EXPECT_EQ(e.kind, MemEntryKind::kValue);
  EXPECT_EQ(e.bytes, Slice("v1"));
  const Slice old_value = e.bytes;
  ASSERT_OK(table.Put("k", ""));
  e = MustGet(table, "k");
  EXPECT_EQ(e.kind, MemEntryKind::kValue);
  EXPECT_EQ(e.bytes, Slice(""));
  EXPECT_EQ(old_value, Slice("v1"));  // an old entry's bytes outlive the overwrite
  ASSERT_OK(table.Delete("k"));
  EXPECT_EQ(MustGet(table, "k").kind, MemEntryKind::kTombstone);
  ASSERT_OK(table.Delete("never-written"));  // shadows older tables
  EXPECT_EQ(MustGet(table, "never-written").kind, MemEntryKind::kTombstone);
  EXPECT_EQ(table.entries(), size_t{2});
  MemEntry absent{};
  EXPECT_FALSE(table.Get("j", &absent));
  EXPECT_FALSE(table.Get(Slice("k\0", 2), &absent));
}

TEST(MemTable, ArgumentChecks) {
  MemTable table(/*max_value_bytes=*/10);
  EXPECT_STATUS(table.Put("", "v"), kInvalidArgument);
  EXPECT_STATUS(table.Put(std::string(kMaxKeyBytes + 1, 'k'), "v"), kInvalidArgument);
  EXPECT_OK(table.Put(std::string(kMaxKeyBytes, 'k'), "v"));
  EXPECT_STATUS(table.Put("k", std::string(11, 'v')), kInvalidArgument);
  EXPECT_OK(table.Put("k", std::string(10, 'v')));
  EXPECT_STATUS(table.Delete(""), kInvalidArgument);
  MergeOutcome outcome{};
  EXPECT_STATUS(table.Merge("", MergeOp::kAppend, "x", &outcome), kInvalidArgument);
  EXPECT_STATUS(table.Merge("c", MergeOp::kAddInt64, "1234567", &outcome), kInvalidArgument);
  EXPECT_STATUS(table.Merge("c", static_cast<MergeOp>(9), "x", &outcome), kInvalidArgument);
  EXPECT_STATUS(table.Merge("a", MergeOp::kAppend, std::string(11, 'x'), &outcome), kInvalidArgument);
  MemEntry e{};
  EXPECT_FALSE(table.Get("c", &e));
  EXPECT_FALSE(table.Get("a", &e));
  EXPECT_EQ(table.entries(), size_t{2});
}

TEST(MemTable, MergeOnAbsentKeysStacks) {
  MemTable table;
  MergeOutcome outcome{};
  ASSERT_OK(table.Merge("n", MergeOp::kAddInt64, Counter(5), &outcome));
  EXPECT_EQ(outcome, MergeOutcome::kStacked);
  ASSERT_OK(table.Merge("n", MergeOp::kAddInt64, Counter(-7), &outcome));
  EXPECT_EQ(outcome, MergeOutcome::kStacked);
  MemEntry e = MustGet(table, "n");
  EXPECT_EQ(e.kind, MemEntryKind::kMerge);
  EXPECT_EQ(e.merge_op, MergeOp::kAddInt64);
  EXPECT_EQ(CounterOf(e.bytes), -2);

  ASSERT_OK(table.Merge("s", MergeOp::kAppend, "ab", &outcome));
  ASSERT_OK(table.Merge("s", MergeOp::kAppend, "", &outcome));
  ASSERT_OK(table.Merge("s", MergeOp::kAppend, Slice("c\0", 2), &outcome));
  EXPECT_EQ(outcome, MergeOutcome::kStacked);
  e = MustGet(table, "s");
  EXPECT_EQ(e.kind, MemEntryKind::kMerge);
  EXPECT_EQ(e.merge_op, MergeOp::kAppend);
  EXPECT_EQ(e.bytes, Slice("abc\0", 4));

  // The stacked operand resolves against an older table's value like the sequence would.
  std::string resolved;
  const std::string hundred = Counter(100);
  const Slice base = hundred;
  ASSERT_OK(ResolveMerge(&base, MergeOp::kAddInt64, MustGet(table, "n").bytes, kMaxValueBytes, &resolved));
  EXPECT_EQ(CounterOf(resolved), 98);
  ASSERT_OK(ResolveMerge(nullptr, MergeOp::kAddInt64, MustGet(table, "n").bytes, kMaxValueBytes, &resolved));
  EXPECT_EQ(CounterOf(resolved), -2);
  const Slice text = "xy";
  ASSERT_OK(ResolveMerge(&text, MergeOp::kAppend, MustGet(table, "s").bytes, kMaxValueBytes, &resolved));
  EXPECT_EQ(resolved, std::string("xyabc\0", 6));
  EXPECT_STATUS(ResolveMerge(&text, MergeOp::kAddInt64, Counter(1), kMaxValueBytes, &resolved), kTypeMismatch);
  EXPECT_STATUS(ResolveMerge(&text, MergeOp::kAppend, "abc", 4, &resolved), kInvalidArgument);
}

TEST(MemTable, MergeResolvesAgainstValueAndTombstone) {
  MemTable table;
  MergeOutcome outcome{};
  Slice resolved;
  ASSERT_OK(table.Put("n", Counter(40)));
  ASSERT_OK(table.Merge("n", MergeOp::kAddInt64, Counter(2), &outcome, &resolved));
  EXPECT_EQ(outcome, MergeOutcome::kResolved);
  EXPECT_EQ(CounterOf(resolved), 42);
  MemEntry e = MustGet(table, "n");
  EXPECT_EQ(e.kind, MemEntryKind::kValue);
  EXPECT_EQ(CounterOf(e.bytes), 42);

  ASSERT_OK(table.Put("s", "ab"));
  ASSERT_OK(table.Merge("s", MergeOp::kAppend, "cd", &outcome, &resolved));
  EXPECT_EQ(outcome, MergeOutcome::kResolved);
  EXPECT_EQ(resolved, Slice("abcd"));
  // An 8-byte value is a counter to add and bytes to append to alike.
  ASSERT_OK(table.Merge("n", MergeOp::kAppend, "!", &outcome, &resolved));
  EXPECT_EQ(resolved.size(), size_t{9});

  // A tombstone is an absent key: a counter from 0, an append to nothing.
  ASSERT_OK(table.Delete("t1"));
  ASSERT_OK(table.Merge("t1", MergeOp::kAddInt64, Counter(-3), &outcome, &resolved));
  EXPECT_EQ(outcome, MergeOutcome::kResolved);
  EXPECT_EQ(CounterOf(MustGet(table, "t1").bytes), -3);
  ASSERT_OK(table.Delete("t2"));
  ASSERT_OK(table.Merge("t2", MergeOp::kAppend, "x", &outcome, &resolved));
  EXPECT_EQ(MustGet(table, "t2").kind, MemEntryKind::kValue);
  EXPECT_EQ(MustGet(table, "t2").bytes, Slice("x"));
  // A value written over a stacked merge replaces it.
  ASSERT_OK(table.Merge("m", MergeOp::kAddInt64, Counter(1), &outcome));
  ASSERT_OK(table.Put("m", "plain"));
  EXPECT_EQ(MustGet(table, "m").kind, MemEntryKind::kValue);
}

TEST(MemTable, FailedMergeLeavesEntryUnchanged) {
  MemTable table(/*max_value_bytes=*/6);
  MergeOutcome outcome = MergeOutcome::kStacked;
  ASSERT_OK(table.Put("text", "abc"));
  EXPECT_STATUS(table.Merge("text", MergeOp::kAddInt64, Counter(1), &outcome), kTypeMismatch);
  EXPECT_EQ(MustGet(table, "text").bytes, Slice("abc"));
  EXPECT_STATUS(table.Merge("text", MergeOp::kAppend, "defg", &outcome), kInvalidArgument);
  EXPECT_EQ(MustGet(table, "text").bytes, Slice("abc"));

  MemTable counters;
  ASSERT_OK(counters.Put("max", Counter(INT64_MAX)));
  EXPECT_STATUS(counters.Merge("max", MergeOp::kAddInt64, Counter(1), &outcome), kOverflow);
  EXPECT_EQ(CounterOf(MustGet(counters, "max").bytes), INT64_MAX);
  ASSERT_OK(counters.Put("min", Counter(INT64_MIN)));
  EXPECT_STATUS(counters.Merge("min", MergeOp::kAddInt64, Counter(-1), &outcome), kOverflow);
  EXPECT_EQ(CounterOf(MustGet(counters, "min").bytes), INT64_MIN);

  // Stacked operands that cannot be combined are left for the caller to resolve.
  ASSERT_OK(counters.Merge("mix", MergeOp::kAddInt64, Counter(1), &outcome));
  ASSERT_OK(counters.Merge("mix", MergeOp::kAppend, "x", &outcome));
  EXPECT_EQ(outcome, MergeOutcome::kNeedsBase);
  MemEntry e = MustGet(counters, "mix");
  EXPECT_EQ(e.merge_op, MergeOp::kAddInt64);
  EXPECT_EQ(CounterOf(e.bytes), 1);
  ASSERT_OK(counters.Merge("big", MergeOp::kAddInt64, Counter(INT64_MAX), &outcome));
  ASSERT_OK(counters.Merge("big", MergeOp::kAddInt64, Counter(1), &outcome));
  EXPECT_EQ(outcome, MergeOutcome::kNeedsBase);  // a base of -5 would make it fit
  EXPECT_EQ(CounterOf(MustGet(counters, "big").bytes), INT64_MAX);
  const size_t entries = counters.entries();
  EXPECT_EQ(entries, size_t{4});
}

TEST(MemTable, IteratorOrderAndSeek) {
  MemTable table;
  // Bytewise order: shorter prefix first, 0x00 < 'a' < 0xFF (unsigned).
  const std::vector<std::string> sorted = {std::string("\0", 1), std::string("\0\0", 2), "a", std::string("a\0", 2),
                                           "aa", "ab", "b", "\x7f", "\x80", "\xff", "\xff\xff"};
  for (size_t i = sorted.size(); i-- > 0;) ASSERT_OK(table.Put(sorted[i], std::to_string(i)));
  MemTable::Iterator it(&table);
  size_t i = 0;
  for (it.SeekToFirst(); it.Valid(); it.Next(), ++i) {
    ASSERT_TRUE(i < sorted.size());
    EXPECT_EQ(it.key(), Slice(sorted[i]));
    EXPECT_EQ(std::string(it.value()), std::to_string(i));
    EXPECT_EQ(it.kind(), MemEntryKind::kValue);
  }
  EXPECT_EQ(i, sorted.size());
  it.Seek("a");
  ASSERT_TRUE(it.Valid());
  EXPECT_EQ(it.key(), Slice("a"));
  it.Seek(Slice("a\0\0", 3));
  ASSERT_TRUE(it.Valid());
  EXPECT_EQ(it.key(), Slice("aa"));
  it.Seek("");
  ASSERT_TRUE(it.Valid());
  EXPECT_EQ(it.key(), Slice("\0", 1));
  it.Seek("\xff\xff\x01");
  EXPECT_FALSE(it.Valid());
}

TEST(MemTable, IteratorSurvivesLaterWrites) {
  MemTable table;
  for (int i = 0; i < 100; i += 2) ASSERT_OK(table.Put("k" + std::to_string(1000 + i), "old"));
  MemTable::Iterator it(&table);
  it.Seek("k1050");
  ASSERT_TRUE(it.Valid());
  EXPECT_EQ(it.value(), Slice("old"));
  // Overwrite the current key, insert before and after it, then continue.
  ASSERT_OK(table.Put("k1050", "new"));
  for (int i = 1; i < 100; i += 2) ASSERT_OK(table.Put("k" + std::to_string(1000 + i), "odd"));
  EXPECT_EQ(it.value(), Slice("old"));  // the entry as it was when positioned
  std::string last(it.key());
  int seen = 0;
  for (it.Next(); it.Valid(); it.Next(), ++seen) {
    EXPECT_TRUE(last < it.key());
    last = std::string(it.key());
  }
  // k1052..k1098: keys first written after the iterator was made are not in its view.
  EXPECT_EQ(seen, 24);
  // A new iterator sees them all.
  MemTable::Iterator fresh(&table);
  fresh.Seek("k1050");
  seen = 0;
  for (fresh.Next(); fresh.Valid(); fresh.Next()) ++seen;
  EXPECT_EQ(seen, 49);
}

TEST(MemTable, ApproximateBytesGrows) {
  MemTable table;
  EXPECT_EQ(table.ApproximateBytes(), size_t{0});
  ASSERT_OK(table.Put("key", "value"));
  const size_t one = table.ApproximateBytes();
  EXPECT_TRUE(one >= 3 + 5 && one < 1024);  // grows with use (entry, node, a small hash index), not by whole blocks
  // Overwrites cost arena bytes: the superseded entries stay allocated.
  for (int i = 0; i < 100; ++i) ASSERT_OK(table.Put("key", std::string(100, 'v')));
  const size_t overwritten = table.ApproximateBytes();
  EXPECT_TRUE(overwritten >= one + 100 * 100);
  EXPECT_EQ(table.entries(), size_t{1});
  // A large value takes a block of its own; the current block keeps serving small ones.
  ASSERT_OK(table.Put("big", std::string(Arena::kBlockBytes / 2, 'b')));
  const size_t with_big = table.ApproximateBytes();
  EXPECT_TRUE(with_big >= overwritten + Arena::kBlockBytes / 2);
  ASSERT_OK(table.Put("small", "s"));
  EXPECT_TRUE(table.ApproximateBytes() - with_big < 128);
  ASSERT_OK(table.Put("huge", std::string(3 * Arena::kBlockBytes, 'h')));
  EXPECT_EQ(MustGet(table, "huge").bytes.size(), 3 * Arena::kBlockBytes);
  const size_t with_huge = table.ApproximateBytes();
  // Filling many blocks: the total tracks the bytes written.
  size_t written = 0;
  for (int i = 0; i < 20000; ++i) {
    const std::string key = "fill" + std::to_string(i);
    ASSERT_OK(table.Put(key, std::string(200, 'f')));
    written += key.size() + 200;
  }
  const size_t total = table.ApproximateBytes() - with_huge;
  EXPECT_TRUE(total >= written && total < written * 2);
}

// ---- Model-based test against std::map ----

struct ModelEntry {
  MemEntryKind kind;
  MergeOp op;
  std::string bytes;
  bool operator==(const ModelEntry&) const = default;
};

// The expected result of a merge, written independently of the memtable's code.
StatusCode ModelMerge(std::map<std::string, ModelEntry>* model, const std::string& key, MergeOp op,
                      const std::string& operand, size_t max_value_bytes, MergeOutcome* outcome) {
  auto it = model->find(key);
  if (it == model->end()) {
    if (op == MergeOp::kAppend && operand.size() > max_value_bytes) return StatusCode::kInvalidArgument;
    (*model)[key] = ModelEntry{MemEntryKind::kMerge, op, operand};
    *outcome = MergeOutcome::kStacked;
    return StatusCode::kOk;
  }
  ModelEntry& e = it->second;
  if (e.kind == MemEntryKind::kMerge) {
    if (e.op != op) {
      *outcome = MergeOutcome::kNeedsBase;
      return StatusCode::kOk;
    }
    if (op == MergeOp::kAddInt64) {
      const __int128 sum = static_cast<__int128>(CounterOf(e.bytes)) + CounterOf(operand);
      if (sum > INT64_MAX || sum < INT64_MIN) {
        *outcome = MergeOutcome::kNeedsBase;
        return StatusCode::kOk;
      }
      e.bytes = Counter(static_cast<int64_t>(sum));
    } else {
      if (e.bytes.size() + operand.size() > max_value_bytes) return StatusCode::kInvalidArgument;
      e.bytes += operand;
    }
    *outcome = MergeOutcome::kStacked;
    return StatusCode::kOk;
  }
  const bool live = e.kind == MemEntryKind::kValue;
  if (op == MergeOp::kAddInt64) {
    if (live && e.bytes.size() != 8) return StatusCode::kTypeMismatch;
    const __int128 sum = static_cast<__int128>(live ? CounterOf(e.bytes) : 0) + CounterOf(operand);
    if (sum > INT64_MAX || sum < INT64_MIN) return StatusCode::kOverflow;
    e = ModelEntry{MemEntryKind::kValue, MergeOp{}, Counter(static_cast<int64_t>(sum))};
  } else {
    const std::string value = (live ? e.bytes : std::string()) + operand;
    if (value.size() > max_value_bytes) return StatusCode::kInvalidArgument;
    e = ModelEntry{MemEntryKind::kValue, MergeOp{}, value};
  }
  *outcome = MergeOutcome::kResolved;
  return StatusCode::kOk;
}

ModelEntry ToModel(const MemEntry& e) {
  return ModelEntry{e.kind, e.kind == MemEntryKind::kMerge ? e.merge_op : MergeOp{}, std::string(e.bytes)};
}

std::vector<std::string> KeyPool(uint64_t* rng) {
  // Shared prefixes, NUL and 0xFF bytes, and a few long keys.
  const std::string prefixes[] = {"", "a", "ab", "abc", "user:", std::string("\0", 1), "\xff", "a\xff"};
  const char alphabet[] = {'a', 'b', '\0', '\xff', 'z'};
  std::vector<std::string> keys;
  for (int i = 0; i < 400; ++i) {
    std::string key = prefixes[SplitMix(rng) % 8];
    const size_t suffix = SplitMix(rng) % 5;
    for (size_t j = 0; j < suffix; ++j) key.push_back(alphabet[SplitMix(rng) % 5]);
    if (key.empty()) key = "e";
    keys.push_back(key);
  }
  for (size_t n : {size_t{100}, size_t{1000}, kMaxKeyBytes}) keys.push_back(std::string(n - 1, 'L') + "x");
  keys.push_back(std::string(kMaxKeyBytes, 'L'));
  return keys;
}

std::string RandomValue(uint64_t* rng) {
  switch (SplitMix(rng) % 6) {
    case 0: return "";
    case 1: return Counter(static_cast<int64_t>(SplitMix(rng) % 1000) - 500);
    case 2: return Counter(SplitMix(rng) % 2 ? INT64_MAX - 3 : INT64_MIN + 3);
    default: {
      std::string v(SplitMix(rng) % 300, '\0');
      for (char& c : v) c = static_cast<char>(SplitMix(rng) % 4);  // NULs often
      return v;
    }
  }
}

void CheckIteration(const MemTable& table, const std::map<std::string, ModelEntry>& model, uint64_t* rng,
                    const std::vector<std::string>& pool) {
  MemTable::Iterator it(&table);
  it.SeekToFirst();
  for (const auto& [key, entry] : model) {
    ASSERT_TRUE(it.Valid());
    ASSERT_EQ(it.key(), Slice(key));
    EXPECT_TRUE(ToModel(it.entry()) == entry);
    EXPECT_EQ(it.kind(), entry.kind);
    EXPECT_EQ(it.value(), Slice(entry.bytes));
    it.Next();
  }
  EXPECT_FALSE(it.Valid());
  // Backwards: SeekToLast, then SeekBefore the current key.
  auto back = model.rbegin();
  for (it.SeekToLast(); it.Valid(); it.SeekBefore(std::string(it.key())), ++back) {
    ASSERT_TRUE(back != model.rend());
    ASSERT_EQ(it.key(), Slice(back->first));
  }
  EXPECT_TRUE(back == model.rend());
  for (int i = 0; i < 200; ++i) {
    std::string target = pool[SplitMix(rng) % pool.size()];
    if (SplitMix(rng) % 2) target.push_back(static_cast<char>(SplitMix(rng) % 3));  // often absent
    if (SplitMix(rng) % 4 == 0) target.pop_back();
    it.Seek(target);
    auto expected = model.lower_bound(target);
    if (expected == model.end()) {
      EXPECT_FALSE(it.Valid());
    } else {
      ASSERT_TRUE(it.Valid());
      EXPECT_EQ(it.key(), Slice(expected->first));
    }
  }
}

TEST(MemTable, MatchesModel) {
  // How often each merge result came up: the test must reach all of them.
  std::map<StatusCode, int> codes;
  std::map<MergeOutcome, int> outcomes;
  for (uint64_t round = 0; round < 4; ++round) {
    uint64_t rng = testing::TestSeed() * 31 + round;
    const size_t max_value_bytes = round % 2 ? 400 : kMaxValueBytes;
    MemTable table(max_value_bytes);
    std::map<std::string, ModelEntry> model;
    const std::vector<std::string> pool = KeyPool(&rng);
    size_t last_bytes = 0;
    for (int step = 0; step < 20000; ++step) {
      const std::string& key = pool[SplitMix(&rng) % pool.size()];
      const uint64_t dice = SplitMix(&rng) % 100;
      if (dice < 25) {
        const std::string value = RandomValue(&rng);
        const Status s = table.Put(key, value);
        if (value.size() > max_value_bytes) {
          EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
        } else {
          ASSERT_OK(s);
          model[key] = ModelEntry{MemEntryKind::kValue, MergeOp{}, value};
        }
      } else if (dice < 35) {
        ASSERT_OK(table.Delete(key));
        model[key] = ModelEntry{MemEntryKind::kTombstone, MergeOp{}, ""};
      } else if (dice < 70) {
        const bool add = dice < 55;
        const MergeOp op = add ? MergeOp::kAddInt64 : MergeOp::kAppend;
        std::string operand;
        if (add) {
          const uint64_t r = SplitMix(&rng);
          operand = Counter(r % 10 == 0 ? (r % 20 == 0 ? INT64_MAX : INT64_MIN) : static_cast<int64_t>(r % 21) - 10);
        } else {
          operand = RandomValue(&rng).substr(0, 120);
        }
        MergeOutcome outcome{}, expected_outcome{};
        Slice resolved;
        const Status s = table.Merge(key, op, operand, &outcome, &resolved);
        const StatusCode expected = ModelMerge(&model, key, op, operand, max_value_bytes, &expected_outcome);
        ASSERT_EQ(s.code(), expected);
        ++codes[s.code()];
        if (s.ok()) {
          ++outcomes[outcome];
          ASSERT_EQ(outcome, expected_outcome);
          if (outcome == MergeOutcome::kResolved) EXPECT_EQ(resolved, Slice(model[key].bytes));
        }
      } else {
        MemEntry e{};
        const bool found = table.Get(key, &e);
        auto it = model.find(key);
        ASSERT_EQ(found, it != model.end());
        if (found) EXPECT_TRUE(ToModel(e) == it->second);
      }
      EXPECT_EQ(table.entries(), model.size());
      EXPECT_TRUE(table.ApproximateBytes() >= last_bytes);
      last_bytes = table.ApproximateBytes();
      if (step % 5000 == 4999) CheckIteration(table, model, &rng, pool);
    }
    for (const auto& [key, entry] : model) {
      MemEntry e{};
      ASSERT_TRUE(table.Get(key, &e));
      EXPECT_TRUE(ToModel(e) == entry);
    }
  }
  for (StatusCode code : {StatusCode::kOk, StatusCode::kTypeMismatch, StatusCode::kOverflow,
                          StatusCode::kInvalidArgument}) {
    EXPECT_TRUE(codes[code] > 10);
  }
  for (MergeOutcome outcome : {MergeOutcome::kResolved, MergeOutcome::kStacked, MergeOutcome::kNeedsBase}) {
    EXPECT_TRUE(outcomes[outcome] > 10);
  }
  std::printf("    merges: %d ok (%d resolved, %d stacked, %d needs base), %d type mismatch, %d overflow, %d too long\n",
              codes[StatusCode::kOk], outcomes[MergeOutcome::kResolved], outcomes[MergeOutcome::kStacked],
              outcomes[MergeOutcome::kNeedsBase], codes[StatusCode::kTypeMismatch], codes[StatusCode::kOverflow],
              codes[StatusCode::kInvalidArgument]);
}

// A scan or a flush reads while the writer keeps writing: the iterator is
// made under the writer's lock (as the engine does), then read without it.
// Readers must see sorted keys and whole entries.
TEST(MemTable, IteratorsReadConcurrentlyWithTheWriter) {
  MemTable table;
  std::mutex writer_lock;  // the engine's lock
  constexpr int kKeys = 20000;
  std::atomic<bool> done{false};
  std::atomic<int> failures{0}, scans{0};
  auto reader = [&] {
    uint64_t rng = testing::TestSeed() + 1;
    while (!done.load(std::memory_order_acquire)) {
      std::unique_ptr<MemTable::Iterator> it;
      {
        std::lock_guard<std::mutex> lock(writer_lock);
        it = std::make_unique<MemTable::Iterator>(&table);
        const std::string probe = "key" + std::to_string(SplitMix(&rng) % kKeys);
        MemEntry e{};
        if (table.Get(probe, &e) && e.bytes.substr(0, probe.size() + 1) != probe + "#") failures.fetch_add(1);
      }
      std::string last;
      for (it->SeekToFirst(); it->Valid(); it->Next()) {
        const std::string key(it->key());
        // Every value is "<key>#<version>": a torn or misattributed entry shows.
        if (!last.empty() && !(last < key)) failures.fetch_add(1);
        if (it->value().substr(0, key.size() + 1) != key + "#") failures.fetch_add(1);
        last = key;
      }
      scans.fetch_add(1);
    }
  };
  std::thread r1(reader), r2(reader);
  uint64_t rng = testing::TestSeed();
  for (int i = 0; i < 3 * kKeys; ++i) {
    const std::string key = "key" + std::to_string(SplitMix(&rng) % kKeys);
    std::lock_guard<std::mutex> lock(writer_lock);
    if (!table.Put(key, key + "#" + std::to_string(i)).ok()) failures.fetch_add(1);
  }
  // Let each reader finish at least one scan that overlapped the writes' end.
  while (scans.load() < 2) std::this_thread::yield();
  done.store(true, std::memory_order_release);
  r1.join();
  r2.join();
  EXPECT_EQ(failures.load(), 0);
}

// Sorted views are built two ways: a full sort, and new keys sorted into a
// tail beside the old base (rebuilt once the tail grows). Rounds of every
// size, keys with long shared prefixes (the sort's 8-byte words tie) and
// short ones, each checked whole against the model, forwards, backwards and
// by seeks. Older iterators keep the view they were made with.
TEST(MemTable, SortedViewsMatchTheModelThroughTailsAndRebuilds) {
  uint64_t rng = testing::TestSeed() * 7 + 3;
  MemTable table;
  std::map<std::string, std::string> model;
  std::vector<std::pair<std::unique_ptr<MemTable::Iterator>, std::map<std::string, std::string>>> old;
  auto random_key = [&] {
    std::string key;
    switch (SplitMix(&rng) % 4) {
      case 0: key = "user:000000"; break;    // ties in the first word
      case 1: key = std::string(20, 'p'); break;
      case 2: key = std::string(SplitMix(&rng) % 3, '\0'); break;
      default: break;
    }
    const size_t n = 1 + SplitMix(&rng) % 10;
    for (size_t i = 0; i < n; ++i) key.push_back(static_cast<char>("ab\0\xff9"[SplitMix(&rng) % 5]));
    return key;
  };
  for (int round = 0; round < 40; ++round) {
    const uint64_t size = round % 10 == 9 ? 8000 : SplitMix(&rng) % (round % 3 == 0 ? 3 : 700);
    for (uint64_t i = 0; i < size; ++i) {
      const std::string key = random_key();
      const std::string value = std::to_string(round) + ":" + std::to_string(i);
      ASSERT_OK(table.Put(key, value));
      model[key] = value;
    }
    auto it = std::make_unique<MemTable::Iterator>(&table);
    auto want = model.begin();
    for (it->SeekToFirst(); it->Valid(); it->Next(), ++want) {
      ASSERT_TRUE(want != model.end());
      ASSERT_EQ(it->key(), Slice(want->first));
    }
    ASSERT_TRUE(want == model.end());
    auto back = model.rbegin();
    for (it->SeekToLast(); it->Valid(); it->SeekBefore(std::string(it->key())), ++back) {
      ASSERT_TRUE(back != model.rend());
      ASSERT_EQ(it->key(), Slice(back->first));
    }
    ASSERT_TRUE(back == model.rend());
    for (int i = 0; i < 100; ++i) {
      const std::string target = random_key();
      it->Seek(target);
      auto lb = model.lower_bound(target);
      ASSERT_EQ(it->Valid(), lb != model.end());
      if (lb != model.end()) ASSERT_EQ(it->key(), Slice(lb->first));
      if (lb != model.end() && i % 2 == 0) {  // Next after a seek continues in order
        it->Next();
        ++lb;
        ASSERT_EQ(it->Valid(), lb != model.end());
        if (lb != model.end()) ASSERT_EQ(it->key(), Slice(lb->first));
      }
      it->SeekBefore(target);
      auto before = model.lower_bound(target);
      ASSERT_EQ(it->Valid(), before != model.begin());
      if (before != model.begin()) {
        --before;
        ASSERT_EQ(it->key(), Slice(before->first));
        it->Next();  // and Next after SeekBefore
        ++before;
        ASSERT_EQ(it->Valid(), before != model.end());
        if (before != model.end()) ASSERT_EQ(it->key(), Slice(before->first));
      }
    }
    if (round % 8 == 0) old.emplace_back(std::move(it), model);
  }
  // Each older iterator: exactly the keys of its time (values are the newest).
  for (auto& [it, then] : old) {
    auto want = then.begin();
    for (it->SeekToFirst(); it->Valid(); it->Next(), ++want) {
      ASSERT_TRUE(want != then.end());
      ASSERT_EQ(it->key(), Slice(want->first));
      EXPECT_EQ(std::string(it->value()), model[want->first]);
    }
    EXPECT_TRUE(want == then.end());
  }
}

}  // namespace
}  // namespace tidekv::lsm

namespace tidekv::lsm {
namespace {

// An iterator made at a sequence sees the table as it was then, forwards and
// backwards, while later writes overwrite, delete and add keys.
TEST(MemTable, SnapshotIteratorsIgnoreLaterWrites) {
  MemTable table;
  std::map<std::string, std::string> then;
  for (int i = 0; i < 200; i += 2) {
    const std::string key = "k" + std::to_string(1000 + i);
    ASSERT_OK(table.Put(key, "old" + std::to_string(i)));
    then[key] = "old" + std::to_string(i);
  }
  const uint64_t snapshot = table.LastSequence();
  for (int i = 0; i < 200; ++i) {
    const std::string key = "k" + std::to_string(1000 + i);
    if (i % 3 == 0) {
      ASSERT_OK(table.Delete(key));
    } else {
      ASSERT_OK(table.Put(key, "new"));
    }
  }
  std::vector<std::pair<std::string, std::string>> forward, backward;
  MemTable::Iterator it(&table, snapshot);
  for (it.SeekToFirst(); it.Valid(); it.Next()) {
    EXPECT_TRUE(it.kind() == MemEntryKind::kValue);
    forward.emplace_back(std::string(it.key()), std::string(it.value()));
  }
  for (it.SeekToLast(); it.Valid(); it.SeekBefore(std::string(it.key()))) {
    backward.emplace_back(std::string(it.key()), std::string(it.value()));
  }
  std::vector<std::pair<std::string, std::string>> want(then.begin(), then.end());
  EXPECT_TRUE(forward == want);
  std::reverse(want.begin(), want.end());
  EXPECT_TRUE(backward == want);
  // Seek to a key first written after the snapshot: it is skipped.
  it.Seek("k1001");
  ASSERT_TRUE(it.Valid());
  EXPECT_EQ(std::string(it.key()), std::string("k1002"));
  it.SeekBefore("k1003");
  ASSERT_TRUE(it.Valid());
  EXPECT_EQ(std::string(it.key()), std::string("k1002"));
  // Without a snapshot the newest state shows: deleted keys as tombstones.
  MemTable::Iterator now(&table);
  now.Seek("k1000");
  ASSERT_TRUE(now.Valid());
  EXPECT_TRUE(now.kind() == MemEntryKind::kTombstone);
}

}  // namespace
}  // namespace tidekv::lsm
