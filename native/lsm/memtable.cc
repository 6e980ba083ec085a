#include "lsm/memtable.h"

#include <algorithm>
#include <cstring>
#include <new>

#include "common/hash.h"

namespace tidekv::lsm {

// ---- Arena ----

char* Arena::Allocate(size_t bytes) {
  if (bytes > SIZE_MAX - 7) return nullptr;
  // Rounding up keeps every allocation 8-byte aligned; a 0-byte request still
  // gets a distinct non-null pointer.
  bytes = bytes == 0 ? 8 : (bytes + 7) & ~size_t{7};
  if (bytes <= remaining_) {
    char* p = cursor_;
    cursor_ += bytes;
    remaining_ -= bytes;
    used_bytes_.fetch_add(bytes, std::memory_order_relaxed);
    return p;
  }
  if (bytes > kBlockBytes / 4) {
    // Its own block: abandoning the current block's tail for it could waste
    // up to a quarter block, and a huge value would not fit a block anyway.
    char* p = NewBlock(bytes);
    if (p != nullptr) used_bytes_.fetch_add(bytes, std::memory_order_relaxed);
    return p;
  }
  char* block = NewBlock(kBlockBytes);
  if (block == nullptr) return nullptr;
  used_bytes_.fetch_add(remaining_ + bytes, std::memory_order_relaxed);  // the abandoned tail is a cost too
  cursor_ = block + bytes;
  remaining_ = kBlockBytes - bytes;
  return block;
}

char* Arena::NewBlock(size_t bytes) {
  std::unique_ptr<char[]> block(new (std::nothrow) char[bytes]);  // aligned for any scalar
  if (!block) return nullptr;
  blocks_.push_back(std::move(block));
  return blocks_.back().get();
}

// ---- Merge resolution ----

namespace {

Status CheckAppendSize(size_t old_bytes, size_t operand_bytes, size_t max_value_bytes) {
  const size_t new_bytes = old_bytes + operand_bytes;
  if (new_bytes > max_value_bytes) {
    return Status::InvalidArgument("append would make the value " + std::to_string(new_bytes) +
                                   " bytes, over this store's limit of " + std::to_string(max_value_bytes));
  }
  return Status::OK();
}

Status CheckOperand(MergeOp op, Slice operand) {
  if (op == MergeOp::kAddInt64) {
    if (operand.size() != kCounterBytes) return Status::InvalidArgument("increment operand must be 8 bytes");
    return Status::OK();
  }
  if (op == MergeOp::kAppend) return Status::OK();
  return Status::InvalidArgument("unknown merge operator");
}

int64_t Delta(Slice operand) { return static_cast<int64_t>(LoadFixed64(operand.data())); }

}  // namespace

Status ResolveMerge(const Slice* base, MergeOp op, Slice operand, size_t max_value_bytes, std::string* out) {
  TIDEKV_RETURN_IF_ERROR(CheckOperand(op, operand));
  if (op == MergeOp::kAddInt64) {
    int64_t sum = 0;
    TIDEKV_RETURN_IF_ERROR(AddInt64(base, Delta(operand), &sum));
    out->resize(kCounterBytes);
    StoreFixed64(out->data(), static_cast<uint64_t>(sum));
    return Status::OK();
  }
  const size_t base_bytes = base != nullptr ? base->size() : 0;
  TIDEKV_RETURN_IF_ERROR(CheckAppendSize(base_bytes, operand.size(), max_value_bytes));
  out->clear();
  out->reserve(base_bytes + operand.size());
  if (base != nullptr) out->append(*base);
  out->append(operand);
  return Status::OK();
}

// ---- Skiplist nodes ----

// Layout in the arena: this header, then std::atomic<Node*>[height], then the key bytes.
struct MemTable::Node {
  Node(const Payload* p, uint32_t key_bytes, uint32_t tower_height)
      : payload(p), key_size(key_bytes), height(tower_height) {}

  std::atomic<const Payload*> payload;  // swapped (release) when the key gets a new entry
  uint32_t key_size;
  uint32_t height;

  std::atomic<Node*>* next() { return reinterpret_cast<std::atomic<Node*>*>(this + 1); }
  const std::atomic<Node*>* next() const { return reinterpret_cast<const std::atomic<Node*>*>(this + 1); }
  Slice key() const { return Slice(reinterpret_cast<const char*>(next() + height), key_size); }

  static size_t BytesFor(int height, size_t key_bytes) {
    return sizeof(Node) + height * sizeof(std::atomic<Node*>) + key_bytes;
  }
};

// Layout in the arena: this header, then `size` bytes. Immutable once published.
struct MemTable::Payload {
  uint32_t size;
  MemEntryKind kind;
  MergeOp merge_op;
  // Set by Install before the payload is published: the key's previous entry
  // (nullptr for its first) and this write's sequence number. Snapshot
  // iterators walk back along `older` to the entry their snapshot saw.
  uint64_t seq;
  const Payload* older;
  const char* bytes() const { return reinterpret_cast<const char*>(this + 1); }
};

static_assert(sizeof(std::atomic<void*>) == 8 && std::atomic<void*>::is_always_lock_free);
static_assert(alignof(std::atomic<void*>) <= 8, "the arena aligns to 8");

MemTable::MemTable(uint64_t seed, size_t max_value_bytes)
    : max_value_bytes_(std::min(max_value_bytes, kMaxValueBytes)), rng_state_(seed) {
  static_assert(sizeof(Node) == 16 && sizeof(head_storage_) == sizeof(Node) + kMaxHeight * sizeof(std::atomic<Node*>));
  static_assert(sizeof(Payload) == 24);
  Node* head = new (head_storage_) Node(nullptr, 0, kMaxHeight);
  for (int i = 0; i < kMaxHeight; ++i) new (&head->next()[i]) std::atomic<Node*>(nullptr);
}

MemTable::Node* MemTable::head() const {
  return std::launder(reinterpret_cast<Node*>(const_cast<char*>(head_storage_)));
}

int MemTable::RandomHeight() {
  // splitmix64: a full-period generator; its output bits are independent enough
  // that two bits per level give the 1/4 branching.
  uint64_t z = (rng_state_ += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  int height = 1;
  while (height < kMaxHeight && (z & 3) == 0) {
    ++height;
    z >>= 2;
  }
  return height;
}

MemTable::Node* MemTable::FindGreaterOrEqual(Slice key, Node** prev) const {
  Node* x = head();
  int level = max_height_.load(std::memory_order_relaxed) - 1;
  for (;;) {
    Node* next = x->next()[level].load(std::memory_order_acquire);
    if (next != nullptr && next->key() < key) {
      x = next;
    } else {
      if (prev != nullptr) prev[level] = x;
      if (level == 0) return next;
      --level;
    }
  }
}

const MemTable::Payload* MemTable::NewPayload(MemEntryKind kind, MergeOp op, Slice first, Slice second) {
  const size_t size = first.size() + second.size();  // callers checked it against max_value_bytes_
  char* mem = arena_.Allocate(sizeof(Payload) + size);
  if (mem == nullptr) return nullptr;
  Payload* p = new (mem) Payload{static_cast<uint32_t>(size), kind, op, 0, nullptr};
  char* bytes = mem + sizeof(Payload);
  if (!first.empty()) std::memcpy(bytes, first.data(), first.size());
  if (!second.empty()) std::memcpy(bytes + first.size(), second.data(), second.size());
  return p;
}

Status MemTable::Install(Slice key, Node* found, Node* const* prev, const Payload* payload) {
  if (payload == nullptr) return Status::Limit("out of memory for a memtable entry");
  // Not yet published, so this thread may still write it.
  auto* fresh = const_cast<Payload*>(payload);
  fresh->seq = last_seq_.load(std::memory_order_relaxed) + 1;
  if (found != nullptr && found->key() == key) {
    fresh->older = found->payload.load(std::memory_order_relaxed);
    found->payload.store(payload, std::memory_order_release);
    last_seq_.store(fresh->seq, std::memory_order_release);
    return Status::OK();
  }
  const int height = RandomHeight();
  char* mem = arena_.Allocate(Node::BytesFor(height, key.size()));
  if (mem == nullptr) return Status::Limit("out of memory for a memtable node");
  Node* node = new (mem) Node(payload, static_cast<uint32_t>(key.size()), static_cast<uint32_t>(height));
  std::memcpy(reinterpret_cast<char*>(node->next() + height), key.data(), key.size());
  const int old_max = max_height_.load(std::memory_order_relaxed);
  Node* preds[kMaxHeight];
  for (int i = 0; i < height; ++i) preds[i] = i < old_max ? prev[i] : head();
  // A concurrent reader that sees the new height before the new links finds
  // nullptr at the head's upper levels and just descends: no ordering needed.
  if (height > old_max) max_height_.store(height, std::memory_order_relaxed);
  for (int i = 0; i < height; ++i) {
    // Link bottom up; the node is fully written before the release store publishes it.
    new (&node->next()[i]) std::atomic<Node*>(preds[i]->next()[i].load(std::memory_order_relaxed));
    preds[i]->next()[i].store(node, std::memory_order_release);
  }
  entries_.fetch_add(1, std::memory_order_relaxed);
  HashInsert(node);
  last_seq_.store(fresh->seq, std::memory_order_release);
  return Status::OK();
}

MemTable::Node* MemTable::HashFind(Slice key) const {
  if (hash_slots_.empty()) return nullptr;
  const size_t mask = hash_slots_.size() - 1;
  for (size_t i = HashKey(key) & mask;; i = (i + 1) & mask) {
    Node* n = hash_slots_[i];
    if (n == nullptr) return nullptr;
    if (n->key() == key) return n;
  }
}

void MemTable::HashInsert(Node* node) {
  if (2 * (hash_used_ + 1) > hash_slots_.size()) {
    // Doubling rehashes every node once: amortized O(1) a write.
    std::vector<Node*> old;
    old.swap(hash_slots_);
    hash_slots_.assign(old.empty() ? 32 : 2 * old.size(), nullptr);
    hash_bytes_.store(hash_slots_.size() * sizeof(Node*), std::memory_order_relaxed);
    hash_used_ = 0;
    for (Node* n : old) {
      if (n != nullptr) HashInsert(n);
    }
  }
  const size_t mask = hash_slots_.size() - 1;
  size_t i = HashKey(node->key()) & mask;
  while (hash_slots_[i] != nullptr) i = (i + 1) & mask;
  hash_slots_[i] = node;
  ++hash_used_;
}

Status MemTable::Upsert(Slice key, const Payload* payload, std::optional<MemEntryKind>* previous) {
  if (Node* node = HashFind(key)) {
    // An overwrite: the node exists, so no skiplist walk is needed.
    if (previous != nullptr) *previous = node->payload.load(std::memory_order_relaxed)->kind;
    return Install(key, node, nullptr, payload);
  }
  Node* prev[kMaxHeight];
  Node* found = FindGreaterOrEqual(key, prev);
  if (previous != nullptr) {
    previous->reset();
    if (found != nullptr && found->key() == key) *previous = found->payload.load(std::memory_order_relaxed)->kind;
  }
  return Install(key, found, prev, payload);
}

MemTable::Node* MemTable::FindLessThan(const Slice* key) const {
  Node* x = head();
  int level = max_height_.load(std::memory_order_relaxed) - 1;
  for (;;) {
    Node* next = x->next()[level].load(std::memory_order_acquire);
    if (next != nullptr && (key == nullptr || next->key() < *key)) {
      x = next;
    } else {
      if (level == 0) return x == head() ? nullptr : x;
      --level;
    }
  }
}

Status MemTable::CheckKey(Slice key) {
  if (key.empty()) return Status::InvalidArgument("key is empty");
  if (key.size() > kMaxKeyBytes) {
    return Status::InvalidArgument("key of " + std::to_string(key.size()) + " bytes exceeds the limit of " +
                                   std::to_string(kMaxKeyBytes));
  }
  return Status::OK();
}

Status MemTable::Put(Slice key, Slice value, std::optional<MemEntryKind>* previous) {
  TIDEKV_RETURN_IF_ERROR(CheckKey(key));
  if (value.size() > max_value_bytes_) {
    return Status::InvalidArgument("value of " + std::to_string(value.size()) + " bytes exceeds the limit of " +
                                   std::to_string(max_value_bytes_));
  }
  return Upsert(key, NewPayload(MemEntryKind::kValue, MergeOp{}, value), previous);
}

Status MemTable::Delete(Slice key, std::optional<MemEntryKind>* previous) {
  TIDEKV_RETURN_IF_ERROR(CheckKey(key));
  return Upsert(key, NewPayload(MemEntryKind::kTombstone, MergeOp{}, Slice()), previous);
}

Status MemTable::Merge(Slice key, MergeOp op, Slice operand, MergeOutcome* outcome, Slice* resolved) {
  TIDEKV_RETURN_IF_ERROR(CheckKey(key));
  TIDEKV_RETURN_IF_ERROR(CheckOperand(op, operand));
  Node* prev[kMaxHeight];
  Node* found = FindGreaterOrEqual(key, prev);
  const Payload* current =
      found != nullptr && found->key() == key ? found->payload.load(std::memory_order_relaxed) : nullptr;

  const Payload* next = nullptr;
  if (current != nullptr && current->kind != MemEntryKind::kMerge) {
    // The value is known (a tombstone: absent), so the merge resolves now.
    const Slice old_value(current->bytes(), current->size);
    const Slice* base = current->kind == MemEntryKind::kValue ? &old_value : nullptr;
    if (op == MergeOp::kAddInt64) {
      int64_t sum = 0;
      TIDEKV_RETURN_IF_ERROR(AddInt64(base, Delta(operand), &sum));
      char counter[kCounterBytes];
      StoreFixed64(counter, static_cast<uint64_t>(sum));
      next = NewPayload(MemEntryKind::kValue, MergeOp{}, Slice(counter, sizeof counter));
    } else {
      const Slice prefix = base != nullptr ? *base : Slice();
      TIDEKV_RETURN_IF_ERROR(CheckAppendSize(prefix.size(), operand.size(), max_value_bytes_));
      next = NewPayload(MemEntryKind::kValue, MergeOp{}, prefix, operand);
    }
    *outcome = MergeOutcome::kResolved;
  } else if (current != nullptr) {
    // A merge entry: the value is in older tables. Combine the operands, if this operator can.
    const Slice old_operand(current->bytes(), current->size);
    if (current->merge_op != op) {
      *outcome = MergeOutcome::kNeedsBase;
      return Status::OK();
    }
    if (op == MergeOp::kAddInt64) {
      int64_t delta = 0;
      if (__builtin_add_overflow(Delta(old_operand), Delta(operand), &delta)) {
        // The counter itself may still fit (a base of the other sign): only the base can tell.
        *outcome = MergeOutcome::kNeedsBase;
        return Status::OK();
      }
      char combined[kCounterBytes];
      StoreFixed64(combined, static_cast<uint64_t>(delta));
      next = NewPayload(MemEntryKind::kMerge, op, Slice(combined, sizeof combined));
    } else {
      // The base can only make the value longer, so this already proves it too long.
      TIDEKV_RETURN_IF_ERROR(CheckAppendSize(old_operand.size(), operand.size(), max_value_bytes_));
      next = NewPayload(MemEntryKind::kMerge, op, old_operand, operand);
    }
    *outcome = MergeOutcome::kStacked;
  } else {
    if (op == MergeOp::kAppend) TIDEKV_RETURN_IF_ERROR(CheckAppendSize(0, operand.size(), max_value_bytes_));
    next = NewPayload(MemEntryKind::kMerge, op, operand);
    *outcome = MergeOutcome::kStacked;
  }
  TIDEKV_RETURN_IF_ERROR(Install(key, found, prev, next));
  if (resolved != nullptr && *outcome == MergeOutcome::kResolved) *resolved = Slice(next->bytes(), next->size);
  return Status::OK();
}

MemEntry MemTable::ToEntry(const Payload* p) {
  return MemEntry{p->kind, p->merge_op, Slice(p->bytes(), p->size)};
}

bool MemTable::GetLocked(Slice key, MemEntry* entry) const {
  const Node* node = HashFind(key);
  if (node == nullptr) return false;
  *entry = ToEntry(node->payload.load(std::memory_order_relaxed));
  return true;
}

bool MemTable::Get(Slice key, MemEntry* entry) const {
  const Node* node = FindGreaterOrEqual(key, nullptr);
  if (node == nullptr || node->key() != key) return false;
  *entry = ToEntry(node->payload.load(std::memory_order_acquire));
  return true;
}

// ---- Iterator ----

void MemTable::Iterator::Load() {
  // Nodes whose first entry came after the snapshot did not exist for it.
  for (; node_ != nullptr; node_ = node_->next()[0].load(std::memory_order_acquire)) {
    const Payload* p = node_->payload.load(std::memory_order_acquire);
    while (p != nullptr && p->seq > snapshot_) p = p->older;
    if (p != nullptr) {
      entry_ = ToEntry(p);
      return;
    }
  }
}

void MemTable::Iterator::SeekToFirst() {
  node_ = table_->head()->next()[0].load(std::memory_order_acquire);
  Load();
}

void MemTable::Iterator::Seek(Slice target) {
  node_ = table_->FindGreaterOrEqual(target, nullptr);
  Load();
}

void MemTable::Iterator::LoadBackward() {
  while (node_ != nullptr) {
    const Payload* p = node_->payload.load(std::memory_order_acquire);
    while (p != nullptr && p->seq > snapshot_) p = p->older;
    if (p != nullptr) {
      entry_ = ToEntry(p);
      return;
    }
    const Slice key = node_->key();
    node_ = table_->FindLessThan(&key);
  }
}

void MemTable::Iterator::SeekToLast() {
  node_ = table_->FindLessThan(nullptr);
  LoadBackward();
}

void MemTable::Iterator::SeekBefore(Slice target) {
  node_ = table_->FindLessThan(&target);
  LoadBackward();
}

void MemTable::Iterator::Next() {
  node_ = node_->next()[0].load(std::memory_order_acquire);
  Load();
}

Slice MemTable::Iterator::key() const { return node_->key(); }

}  // namespace tidekv::lsm
