// MemTable: the LSM engine's in-memory write buffer. A skiplist ordered by
// key (bytewise: memcmp, then the shorter key first) holding the newest entry
// of each key: a value, a tombstone, or a merge operand not yet resolved
// against a value.
//
// Snapshots: each write gets a sequence number and its entry keeps a pointer
// to the entry it replaced, so an iterator can read the table as it was at
// an earlier sequence (a range scan's consistent view) while writes go on.
//
// Point lookups: a hash index from key to node serves the writer (an
// overwrite finds its node without walking the skiplist) and GetLocked; the
// skiplist is still what orders keys for iterators and flushes.
//
// Memory: every node and entry lives in an Arena (blocks of 1 MiB; an
// allocation over a quarter block gets a block of its own) freed all at once
// with the memtable. Nothing is freed earlier: a new entry for an existing key
// is written to fresh arena bytes and the key's node is pointed at it, so the
// old entry's bytes stay allocated (ApproximateBytes counts them). That is
// what lets a reader keep a Slice of an entry while the key is overwritten.
//
// Merges (common/merge.h semantics). The memtable resolves a merge when the
// key's entry says what the value is:
//   value V    + add d     -> value V + d    (V must be an 8-byte counter)
//   value V    + append s  -> value V s
//   tombstone  + add d     -> value d        (an absent key counts as 0)
//   tombstone  + append s  -> value s
// Otherwise the value lives in older tables, unknown here; the operand is
// stored as a merge entry, combined with an earlier merge entry of the same
// operator (add d1 + add d2 -> add d1+d2; append s1 + append s2 -> append
// s1 s2). A merge entry can only be resolved by whoever reads the older
// tables (ResolveMerge), and only there can a type mismatch or overflow
// against the real base show: an engine that must report those at the call
// (or return the new counter) resolves the base itself and Puts the value.
// Two operators that cannot be combined (add then append), or adds whose
// combined delta leaves int64, are refused with MergeOutcome::kNeedsBase.
//
// Threading: one writer at a time (the engine's lock serializes Put, Delete
// and Merge). Readers (Get, iterators) may run concurrently with that writer
// and with each other without a lock: nodes are published with release
// stores and a key's entry is swapped by one atomic pointer, so a reader sees
// either the old or the new entry, whole. A flush thread iterating an
// immutable memtable while a new one takes writes needs nothing more.
// Iterators stay valid across later writes (nodes are never moved or freed).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/limits.h"
#include "common/merge.h"
#include "common/slice.h"
#include "common/status.h"

namespace tidekv::lsm {

// Bump allocation in large blocks, all freed by the destructor. 8-byte aligned.
class Arena {
 public:
  static constexpr size_t kBlockBytes = 1u << 20;

  Arena() = default;
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;

  // nullptr when the memory cannot be had.
  char* Allocate(size_t bytes);
  // Bytes handed out, their alignment padding, and the unused tails of blocks
  // that were abandoned as too full: what this arena has cost so far, without
  // the not-yet-used rest of the current block.
  size_t UsedBytes() const { return used_bytes_.load(std::memory_order_relaxed); }

 private:
  char* NewBlock(size_t bytes);

  std::vector<std::unique_ptr<char[]>> blocks_;
  char* cursor_ = nullptr;
  size_t remaining_ = 0;
  std::atomic<size_t> used_bytes_{0};  // read by other threads (flush decisions)
};

// The memtable's own vocabulary, in memory only (sstable.h's EntryKind is the
// file format's). A run iterator over a memtable maps kMerge with kAddInt64 /
// kAppend to EntryKind::kMergeAdd / kMergeAppend.
enum class MemEntryKind : uint8_t {
  kValue,
  kTombstone,
  kMerge,
};

// An entry as the memtable holds it. bytes views arena memory: valid for the
// memtable's lifetime, even after the key is overwritten.
struct MemEntry {
  MemEntryKind kind;
  MergeOp merge_op;  // kMerge only
  Slice bytes;       // kValue: the value; kMerge: the combined operand; kTombstone: empty
};

enum class MergeOutcome : uint8_t {
  kResolved,   // the key now holds a value (*resolved views it)
  kStacked,    // the key holds a merge entry, the operand combined into it
  kNeedsBase,  // nothing changed: the caller must resolve against older tables and Put
};

// Applies op with operand to base (nullptr = absent) into *out; the same rules
// as HybridLogEngine's merges. kTypeMismatch / kOverflow from AddInt64,
// kInvalidArgument when the result would exceed max_value_bytes.
Status ResolveMerge(const Slice* base, MergeOp op, Slice operand, size_t max_value_bytes, std::string* out);

class MemTable {
  struct Node;     // a key and its tower of next pointers
  struct Payload;  // an entry's kind, merge operator and bytes

 public:
  // seed: the skiplist's tower heights come from a PRNG seeded with it, so a
  // memtable's shape (and ApproximateBytes) is reproducible. max_value_bytes
  // is the engine's value limit (capped at kMaxValueBytes), also for appends.
  explicit MemTable(uint64_t seed = 0x5EED, size_t max_value_bytes = kMaxValueBytes);
  MemTable(const MemTable&) = delete;
  MemTable& operator=(const MemTable&) = delete;

  // Keys are 1..kMaxKeyBytes bytes; values 0..max_value_bytes. kLimit when out of memory.
  // When previous is not null it receives the kind of the entry the write
  // replaced (nullopt: the table had no entry for key): what an engine needs
  // to count live keys without a second search.
  Status Put(Slice key, Slice value, std::optional<MemEntryKind>* previous = nullptr);
  // Stores a tombstone, also for a key it has no entry for.
  Status Delete(Slice key, std::optional<MemEntryKind>* previous = nullptr);
  // kAddInt64 operands are 8-byte little-endian deltas. On error the key's
  // entry is unchanged. *resolved (may be null) views the new value when
  // *outcome is kResolved.
  Status Merge(Slice key, MergeOp op, Slice operand, MergeOutcome* outcome, Slice* resolved = nullptr);

  // InvalidArgument unless key is 1..kMaxKeyBytes bytes (what every write checks).
  static Status CheckKey(Slice key);

  // False when the memtable has no entry for key (the key may be in older tables).
  bool Get(Slice key, MemEntry* entry) const;
  // The same through the hash index: O(1) instead of a skiplist walk.
  // REQUIRES: not concurrent with a write (the engine's lock serializes both).
  bool GetLocked(Slice key, MemEntry* entry) const;

  // Arena bytes used, including superseded entries, and the hash index:
  // compare with memtableBytes.
  size_t ApproximateBytes() const {
    return arena_.UsedBytes() + hash_bytes_.load(std::memory_order_relaxed);
  }
  // Distinct keys (tombstones included).
  size_t entries() const { return entries_.load(std::memory_order_relaxed); }

  // The sequence number of the newest write: an iterator made with it as its
  // snapshot sees exactly the writes that completed before this call.
  uint64_t LastSequence() const { return last_seq_.load(std::memory_order_acquire); }

  // Walks keys in order, one entry each: the newest when it was positioned,
  // or with a snapshot, the newest whose write had sequence <= snapshot (keys
  // first written after it are skipped). The table must outlive the iterator.
  class Iterator {
   public:
    explicit Iterator(const MemTable* table, uint64_t snapshot = UINT64_MAX) : table_(table), snapshot_(snapshot) {}
    void SeekToFirst();
    void Seek(Slice target);  // the first key >= target
    void SeekToLast();
    void SeekBefore(Slice target);  // the last key < target
    bool Valid() const { return node_ != nullptr; }
    void Next();
    // REQUIRES: Valid().
    Slice key() const;
    MemEntryKind kind() const { return entry_.kind; }
    Slice value() const { return entry_.bytes; }  // the value or the merge operand
    MergeOp merge_op() const { return entry_.merge_op; }
    const MemEntry& entry() const { return entry_; }

   private:
    void Load();  // entry_ from node_, skipping forward past nodes the snapshot cannot see
    void LoadBackward();  // the same, skipping backward
    const MemTable* table_;
    uint64_t snapshot_;
    const Node* node_ = nullptr;
    MemEntry entry_{};
  };

 private:
  static constexpr int kMaxHeight = 12;  // with branching 4: good to ~16M keys

  int RandomHeight();
  // The first node with key >= key (nullptr: none); when prev is not null,
  // prev[i] = the last node before it at level i, for every level in use.
  Node* FindGreaterOrEqual(Slice key, Node** prev) const;
  // The last node with key < key (nullptr: none); the last node when key is null.
  Node* FindLessThan(const Slice* key) const;
  // A payload of first followed by second (two parts: an append writes the
  // old value and the operand without a temporary). nullptr when out of memory.
  const Payload* NewPayload(MemEntryKind kind, MergeOp op, Slice first, Slice second = Slice());
  // Points key's node at payload, linking a new node after prev when found is not key's.
  Status Install(Slice key, Node* found, Node* const* prev, const Payload* payload);
  Status Upsert(Slice key, const Payload* payload, std::optional<MemEntryKind>* previous);
  // The hash index over the nodes (key -> node), for the writer and GetLocked.
  Node* HashFind(Slice key) const;
  void HashInsert(Node* node);
  static MemEntry ToEntry(const Payload* p);
  Node* head() const;

  Arena arena_;
  const size_t max_value_bytes_;
  uint64_t rng_state_;
  std::atomic<int> max_height_{1};
  std::atomic<size_t> entries_{0};
  std::atomic<uint64_t> last_seq_{0};  // written by the writer after each publish
  // Open addressing (linear probing) over node pointers, a power of two in
  // size, at most half full. Writes and GetLocked only: iterators and Get
  // walk the skiplist, so they never see the table resize.
  std::vector<Node*> hash_slots_;
  size_t hash_used_ = 0;
  std::atomic<size_t> hash_bytes_{0};
  // The head node lives here rather than in the arena, so construction cannot fail.
  alignas(8) char head_storage_[16 + kMaxHeight * 8];
};

}  // namespace tidekv::lsm
