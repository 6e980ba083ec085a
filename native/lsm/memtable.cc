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

// ---- Nodes and entries ----

// Layout in the arena: this header, then the key bytes.
struct MemTable::Node {
  Node(const Payload* p, uint32_t key_bytes) : payload(p), key_size(key_bytes) {}

  std::atomic<const Payload*> payload;  // swapped (release) when the key gets a new entry
  uint32_t key_size;
  uint32_t unused = 0;

  Slice key() const { return Slice(reinterpret_cast<const char*>(this + 1), key_size); }
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

struct MemTable::SortedView {
  std::shared_ptr<const std::vector<const Node*>> base, tail;
  size_t covered = 0;  // nodes_[0, covered) are in base or tail
};

static_assert(sizeof(std::atomic<void*>) == 8 && std::atomic<void*>::is_always_lock_free);
static_assert(alignof(std::atomic<void*>) <= 8, "the arena aligns to 8");

namespace {

constexpr int kTagShift = 48;
constexpr uint64_t kPointerMask = (uint64_t{1} << kTagShift) - 1;

uint64_t SlotOf(const void* node, uint64_t hash) {
  return (hash >> kTagShift << kTagShift) | reinterpret_cast<uintptr_t>(node);
}

}  // namespace

MemTable::MemTable(size_t max_value_bytes) : max_value_bytes_(std::min(max_value_bytes, kMaxValueBytes)) {
  static_assert(sizeof(Node) == 16);
  static_assert(sizeof(Payload) == 24);
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

Status MemTable::Install(Slice key, uint64_t hash, Node* node, const Payload* payload) {
  if (payload == nullptr) return Status::Limit("out of memory for a memtable entry");
  // Not yet published, so this thread may still write it.
  auto* fresh = const_cast<Payload*>(payload);
  fresh->seq = last_seq_.load(std::memory_order_relaxed) + 1;
  if (node != nullptr) {
    fresh->older = node->payload.load(std::memory_order_relaxed);
    node->payload.store(payload, std::memory_order_release);
    last_seq_.store(fresh->seq, std::memory_order_release);
    return Status::OK();
  }
  char* mem = arena_.Allocate(sizeof(Node) + key.size());
  if (mem == nullptr) return Status::Limit("out of memory for a memtable node");
  Node* fresh_node = new (mem) Node(payload, static_cast<uint32_t>(key.size()));
  std::memcpy(mem + sizeof(Node), key.data(), key.size());
  if (reinterpret_cast<uintptr_t>(fresh_node) > kPointerMask) {
    return Status::Unsupported("memtable node address above 2^48 (a 57-bit address space is not supported)");
  }
  TIDEKV_RETURN_IF_ERROR(HashInsert(fresh_node, hash));
  entries_.fetch_add(1, std::memory_order_relaxed);
  last_seq_.store(fresh->seq, std::memory_order_release);
  return Status::OK();
}

MemTable::Node* MemTable::HashFind(Slice key, uint64_t hash) const {
  if (hash_slots_.empty()) return nullptr;
  const size_t mask = hash_slots_.size() - 1;
  const uint64_t tag = hash >> kTagShift;
  for (size_t i = hash & mask;; i = (i + 1) & mask) {
    const uint64_t slot = hash_slots_[i];
    if (slot == 0) return nullptr;
    if ((slot >> kTagShift) != tag) continue;
    Node* n = reinterpret_cast<Node*>(slot & kPointerMask);
    if (n->key() == key) return n;
  }
}

Status MemTable::HashInsert(Node* node, uint64_t hash) {
  if (nodes_.size() == nodes_.capacity()) {
    // Reserve ahead so that running out of memory shows here, before the
    // node is linked anywhere, and not as an exception from push_back.
    std::vector<Node*> grown;
    const size_t want = nodes_.empty() ? 16 : 2 * nodes_.size();
    grown.reserve(want);
    grown.assign(nodes_.begin(), nodes_.end());
    nodes_.swap(grown);
  }
  if (2 * (hash_used_ + 1) > hash_slots_.size()) {
    // Doubling rehashes every node once: amortized O(1) a write. The hash is
    // recomputed from the key (slots keep only 16 bits of it).
    std::vector<uint64_t> slots(hash_slots_.empty() ? 16 : 2 * hash_slots_.size(), 0);
    const size_t mask = slots.size() - 1;
    for (const Node* n : nodes_) {
      const uint64_t h = HashKey(n->key());
      size_t i = h & mask;
      while (slots[i] != 0) i = (i + 1) & mask;
      slots[i] = SlotOf(n, h);
    }
    hash_slots_.swap(slots);
  }
  const size_t mask = hash_slots_.size() - 1;
  size_t i = hash & mask;
  while (hash_slots_[i] != 0) i = (i + 1) & mask;
  hash_slots_[i] = SlotOf(node, hash);
  ++hash_used_;
  nodes_.push_back(node);
  index_bytes_.store((hash_slots_.size() + nodes_.capacity()) * sizeof(uint64_t), std::memory_order_relaxed);
  return Status::OK();
}

void MemTable::Prefetch(uint64_t hash) const {
  if (hash_slots_.empty()) return;
  __builtin_prefetch(&hash_slots_[hash & (hash_slots_.size() - 1)]);
}

Status MemTable::Upsert(Slice key, const Payload* payload, std::optional<MemEntryKind>* previous) {
  const uint64_t hash = HashKey(key);
  Node* node = HashFind(key, hash);
  if (previous != nullptr) {
    previous->reset();
    if (node != nullptr) *previous = node->payload.load(std::memory_order_relaxed)->kind;
  }
  return Install(key, hash, node, payload);
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
  TIDEKV_RETURN_IF_ERROR(CheckMergeOperand(op, operand));
  const uint64_t hash = HashKey(key);
  Node* found = HashFind(key, hash);
  const Payload* current = found != nullptr ? found->payload.load(std::memory_order_relaxed) : nullptr;
  const Payload* next = nullptr;
  if (current != nullptr && current->kind != MemEntryKind::kMerge) {
    // The value is known (a tombstone: absent), so the merge resolves now.
    const Slice old_value(current->bytes(), current->size);
    const Slice* base = current->kind == MemEntryKind::kValue ? &old_value : nullptr;
    if (op == MergeOp::kAddInt64) {
      int64_t sum = 0;
      TIDEKV_RETURN_IF_ERROR(AddInt64(base, MergeDelta(operand), &sum));
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
      if (__builtin_add_overflow(MergeDelta(old_operand), MergeDelta(operand), &delta)) {
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
  TIDEKV_RETURN_IF_ERROR(Install(key, hash, found, next));
  if (resolved != nullptr && *outcome == MergeOutcome::kResolved) *resolved = Slice(next->bytes(), next->size);
  return Status::OK();
}

MemEntry MemTable::ToEntry(const Payload* p) {
  return MemEntry{p->kind, p->merge_op, Slice(p->bytes(), p->size)};
}

bool MemTable::Get(Slice key, MemEntry* entry) const { return Get(key, HashKey(key), entry); }

bool MemTable::Get(Slice key, uint64_t key_hash, MemEntry* entry) const {
  const Node* node = HashFind(key, key_hash);
  if (node == nullptr) return false;
  *entry = ToEntry(node->payload.load(std::memory_order_relaxed));
  return true;
}

// ---- Sorted views ----

namespace {

using NodeList = std::vector<const MemTable::Node*>;

}  // namespace

// Sorts nodes by key. Comparing keys means reading nodes scattered over the
// arena, so the sort runs on (8 key bytes, node) pairs: the 8 bytes after
// the prefix every key here shares, big-endian, zero-padded. Pairs that tie
// (keys equal there, or shorter) are ordered by their whole keys.
static void SortNodes(NodeList* nodes) {
  if (nodes->size() < 2) return;
  const Slice first = (*nodes)[0]->key();
  size_t shared = first.size();
  for (const MemTable::Node* n : *nodes) {
    shared = SharedPrefixLength(first.substr(0, shared), n->key());
    if (shared == 0) break;
  }
  struct Keyed {
    uint64_t prefix;
    const MemTable::Node* node;
  };
  std::vector<Keyed> keyed;
  keyed.reserve(nodes->size());
  for (const MemTable::Node* n : *nodes) {
    keyed.push_back(Keyed{KeyWordAt(n->key(), shared), n});
  }
  std::sort(keyed.begin(), keyed.end(), [](const Keyed& a, const Keyed& b) {
    if (a.prefix != b.prefix) return a.prefix < b.prefix;
    return KeyLess(a.node->key(), b.node->key());
  });
  for (size_t i = 0; i < keyed.size(); ++i) (*nodes)[i] = keyed[i].node;
}

// Adds sorted `more` (keys not in `into`) to sorted `into`: a binary search
// per new node, then the runs between them copied whole. For a few new keys
// and a long list this reads few keys, where a plain merge would read all.
static NodeList MergeInto(const NodeList& into, const NodeList& more) {
  NodeList out;
  out.reserve(into.size() + more.size());
  auto from = into.begin();
  for (const MemTable::Node* n : more) {
    auto at = std::lower_bound(from, into.end(), n,
                               [](const MemTable::Node* a, const MemTable::Node* b) { return KeyLess(a->key(), b->key()); });
    out.insert(out.end(), from, at);
    out.push_back(n);
    from = at;
  }
  out.insert(out.end(), from, into.end());
  return out;
}

std::shared_ptr<const MemTable::SortedView> MemTable::View() const {
  std::lock_guard<std::mutex> lock(view_mu_);
  const size_t n = nodes_.size();
  if (view_ != nullptr && view_->covered == n) return view_;
  auto view = std::make_shared<SortedView>();
  view->covered = n;
  const size_t base_size = view_ != nullptr ? view_->base->size() : 0;
  const size_t tail_size = view_ != nullptr ? view_->tail->size() : 0;
  const size_t fresh = n - (view_ != nullptr ? view_->covered : 0);
  // A tail up to an eighth of the base (and at least a few thousand keys)
  // costs a scan little; past that, one full sort replaces both.
  if (view_ == nullptr || tail_size + fresh > std::max<size_t>(4096, base_size / 8)) {
    auto base = std::make_shared<NodeList>(nodes_.begin(), nodes_.begin() + static_cast<ptrdiff_t>(n));
    SortNodes(base.get());
    view->base = std::move(base);
    view->tail = std::make_shared<NodeList>();
  } else {
    NodeList added(nodes_.begin() + static_cast<ptrdiff_t>(view_->covered), nodes_.begin() + static_cast<ptrdiff_t>(n));
    SortNodes(&added);
    view->base = view_->base;
    view->tail = std::make_shared<NodeList>(MergeInto(*view_->tail, added));
  }
  view_bytes_.store((view->base->capacity() + view->tail->capacity()) * sizeof(Node*), std::memory_order_relaxed);
  view_ = view;
  return view_;
}

// ---- Iterator ----

MemTable::Iterator::Iterator(const MemTable* table, uint64_t snapshot) : view_(table->View()), snapshot_(snapshot) {}

MemTable::Iterator::~Iterator() = default;

void MemTable::Iterator::Settle() {
  const NodeList& base = *view_->base;
  const NodeList& tail = *view_->tail;
  const Node* b = b_ < base.size() ? base[b_] : nullptr;
  const Node* t = t_ < tail.size() ? tail[t_] : nullptr;
  if (b == nullptr || t == nullptr) {
    node_ = b != nullptr ? b : t;
  } else {
    node_ = KeyLess(t->key(), b->key()) ? t : b;
  }
}

void MemTable::Iterator::Advance() {
  // Past the current node, in whichever array it came from.
  const NodeList& base = *view_->base;
  if (b_ < base.size() && base[b_] == node_) {
    ++b_;
  } else {
    ++t_;
  }
}

void MemTable::Iterator::Load() {
  // Nodes whose first entry came after the snapshot did not exist for it.
  for (Settle(); node_ != nullptr; Advance(), Settle()) {
    const Payload* p = node_->payload.load(std::memory_order_acquire);
    while (p != nullptr && p->seq > snapshot_) p = p->older;
    if (p != nullptr) {
      entry_ = ToEntry(p);
      return;
    }
  }
}

void MemTable::Iterator::SeekToFirst() {
  b_ = t_ = 0;
  Load();
}

void MemTable::Iterator::Seek(Slice target) {
  auto below = [](const Node* n, Slice k) { return KeyLess(n->key(), k); };
  const NodeList& base = *view_->base;
  const NodeList& tail = *view_->tail;
  b_ = static_cast<size_t>(std::lower_bound(base.begin(), base.end(), target, below) - base.begin());
  t_ = static_cast<size_t>(std::lower_bound(tail.begin(), tail.end(), target, below) - tail.begin());
  Load();
}

void MemTable::Iterator::Next() {
  Advance();
  Load();
}

void MemTable::Iterator::SeekBefore(Slice target) { LoadBefore(&target); }

void MemTable::Iterator::SeekToLast() { LoadBefore(nullptr); }

void MemTable::Iterator::LoadBefore(const Slice* limit) {
  auto below = [](const Node* n, Slice k) { return KeyLess(n->key(), k); };
  const NodeList& base = *view_->base;
  const NodeList& tail = *view_->tail;
  Slice target;
  for (;;) {
    // The last node < limit in each array (the last of all without one); the
    // larger of the two is the answer. Positions are left so that Next
    // continues after it.
    size_t b = base.size(), t = tail.size();
    if (limit != nullptr) {
      b = static_cast<size_t>(std::lower_bound(base.begin(), base.end(), *limit, below) - base.begin());
      t = static_cast<size_t>(std::lower_bound(tail.begin(), tail.end(), *limit, below) - tail.begin());
    }
    const Node* bn = b > 0 ? base[b - 1] : nullptr;
    const Node* tn = t > 0 ? tail[t - 1] : nullptr;
    if (bn == nullptr && tn == nullptr) {
      node_ = nullptr;
      return;
    }
    if (tn == nullptr || (bn != nullptr && KeyLess(tn->key(), bn->key()))) {
      b_ = b - 1;
      t_ = t;
      node_ = bn;
    } else {
      b_ = b;
      t_ = t - 1;
      node_ = tn;
    }
    const Payload* p = node_->payload.load(std::memory_order_acquire);
    while (p != nullptr && p->seq > snapshot_) p = p->older;
    if (p != nullptr) {
      entry_ = ToEntry(p);
      return;
    }
    target = node_->key();  // not visible at the snapshot: the one before it
    limit = &target;
  }
}

Slice MemTable::Iterator::key() const { return node_->key(); }

}  // namespace tidekv::lsm
