// MemTable: the LSM engine's in-memory write buffer. One node per key
// (bytewise order: memcmp, then the shorter key first) holding the newest
// entry of the key: a value, a tombstone, or a merge operand not yet resolved
// against a value.
//
// Writes do not sort. A write finds its key's node through a hash index, or
// appends a new node; keys are put in order only when someone needs the
// order: an iterator (a flush, a range scan) takes a sorted view of the
// nodes, built on demand. A full view is a sort of (key prefix, node) pairs;
// a view of a table that has grown since the last one sorts only the new
// nodes into a small tail array beside the old base (rebuilding the base once
// the tail passes an eighth of it), so scans between writes stay cheap. A
// skiplist keeps order on every write instead, and its walk over a large
// table (a cache miss per level) was half the cost of a random insert.
//
// Snapshots: each write gets a sequence number and its entry keeps a pointer
// to the entry it replaced, so an iterator can read the table as it was at
// an earlier sequence (a range scan's consistent view) while writes go on.
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
// Threading: one writer at a time (the engine's lock serializes Put, Delete,
// Merge, Get and the making of iterators). An iterator, once made, reads its
// view without a lock while the writer goes on: nodes never move, and a key's
// entry is swapped by one atomic pointer, so the iterator sees either the old
// or the new entry, whole. Keys first written after the iterator was made are
// not in its view. A flush thread iterating an immutable memtable while a new
// one takes writes needs nothing more.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
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


class MemTable {
  struct Payload;  // an entry's kind, merge operator and bytes

 public:
  struct Node;  // a key and its newest entry (opaque)

  // max_value_bytes is the engine's value limit (capped at kMaxValueBytes), also for appends.
  explicit MemTable(size_t max_value_bytes = kMaxValueBytes);
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

  // False when the memtable has no entry for key (the key may be in older
  // tables). REQUIRES: not concurrent with a write.
  bool Get(Slice key, MemEntry* entry) const;
  // The same for a key whose HashKey (common/hash.h) is key_hash.
  bool Get(Slice key, uint64_t key_hash, MemEntry* entry) const;
  // Starts bringing key's hash slot into the cache, for a Get or write soon
  // after (batches prefetch a few keys ahead). A hint: no effect on results.
  void Prefetch(uint64_t key_hash) const;

  // Arena bytes used, including superseded entries, the hash index, the node
  // list and the sorted views: compare with memtableBytes.
  size_t ApproximateBytes() const {
    return arena_.UsedBytes() + index_bytes_.load(std::memory_order_relaxed) +
           view_bytes_.load(std::memory_order_relaxed);
  }
  // Distinct keys (tombstones included).
  size_t entries() const { return entries_.load(std::memory_order_relaxed); }

  // The sequence number of the newest write: an iterator made with it as its
  // snapshot sees exactly the writes that completed before this call.
  uint64_t LastSequence() const { return last_seq_.load(std::memory_order_acquire); }

  // Keys in order, sorted when this view was made: a base array and a
  // small tail (disjoint keys; each sorted).
  struct SortedView;

  // Walks keys in order, one entry each: the newest when it was positioned,
  // or with a snapshot, the newest whose write had sequence <= snapshot (keys
  // first written after it are skipped). Sees the keys the table had when
  // the iterator was made. REQUIRES: made while no write runs (it sorts the
  // keys written since the last iterator); then usable beside the writer.
  // The table must outlive the iterator.
  class Iterator {
   public:
    explicit Iterator(const MemTable* table, uint64_t snapshot = UINT64_MAX);
    ~Iterator();
    Iterator(const Iterator&) = delete;
    Iterator& operator=(const Iterator&) = delete;
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
    // node_ = the smaller of base[b_] and tail[t_] (nullptr past both ends).
    void Settle();
    void Advance();  // past node_
    void Load();          // entry_ from node_, skipping forward past nodes the snapshot cannot see
    // Positions on the last node < *limit (the last node: limit null) that
    // the snapshot can see.
    void LoadBefore(const Slice* limit);
    std::shared_ptr<const SortedView> view_;
    uint64_t snapshot_;
    size_t b_ = 0, t_ = 0;  // the next unread position in the base and the tail
    const Node* node_ = nullptr;
    MemEntry entry_{};
  };

 private:
  // A payload of first followed by second (two parts: an append writes the
  // old value and the operand without a temporary). nullptr when out of memory.
  const Payload* NewPayload(MemEntryKind kind, MergeOp op, Slice first, Slice second = Slice());
  // Points node at payload, or (node null) appends a new node for key.
  Status Install(Slice key, uint64_t hash, Node* node, const Payload* payload);
  Status Upsert(Slice key, const Payload* payload, std::optional<MemEntryKind>* previous);
  // The hash index over the nodes (key -> node).
  Node* HashFind(Slice key, uint64_t hash) const;
  Status HashInsert(Node* node, uint64_t hash);
  static MemEntry ToEntry(const Payload* p);
  // The view of every node so far (cached until the next new key).
  std::shared_ptr<const SortedView> View() const;

  Arena arena_;
  const size_t max_value_bytes_;
  std::atomic<size_t> entries_{0};
  std::atomic<uint64_t> last_seq_{0};  // written by the writer after each publish
  // Every node, in the order the keys first came.
  std::vector<Node*> nodes_;
  // Open addressing (linear probing), a power of two in size, at most half
  // full. A slot holds a node pointer in its low 48 bits and 16 bits of the
  // key's hash above them (0 = empty): a probe past another key's slot
  // rarely needs to read that key. Writes and Get only.
  std::vector<uint64_t> hash_slots_;
  size_t hash_used_ = 0;
  std::atomic<size_t> index_bytes_{0};  // the slots and the node list
  mutable std::mutex view_mu_;          // making views (a flush and a scan may both ask)
  mutable std::shared_ptr<const SortedView> view_;
  mutable std::atomic<size_t> view_bytes_{0};
};

}  // namespace tidekv::lsm
