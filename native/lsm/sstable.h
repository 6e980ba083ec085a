// SSTable: an immutable file of entries sorted by key, the LSM engine's unit
// of storage. Written once by SSTableBuilder (a flush or a compaction), read
// through a mapping by SSTableReader; shared by checkpoints and deleted when
// no retained checkpoint and no live version names it.
//
// Layout (little-endian; docs/formats/sstable.md):
//
//   file header (64 bytes, type kSSTable, args[0] = file number)
//   data blocks, each: entries, restart offsets (u32 each: where every
//     restart_interval-th entry starts, the first at 0), their count (u32),
//     then CRC32C of all that (u32)
//     entry: varint key length, varint value length, kind (u8), key, value
//   (args[1] of the header is the block layout: 1 = with restart offsets;
//   0 = entries and CRC only, the layout of the first tables, still read)
//   filter block: bloom filter bytes (bloom.h), then CRC32C (u32)
//   index block: varint entry count, varint smallest-key length, smallest
//     key, then per data block: varint last-key length, last key, varint
//     offset, varint size (without its CRC); then CRC32C (u32)
//   footer (48 bytes): index offset, index size, filter offset, filter size
//     (u64 each; sizes without the CRC), magic "tkvsstbl" (u64), CRC32C of
//     those 40 bytes (u32), zero (u32)
//
// Keys compare bytewise (memcmp, then the shorter first), the order of
// std::string_view. Within a table a key appears once: the newest entry of
// the run the table was built from.
//
// A point read binary-searches the block index (fence keys, copied out of
// the mapping at open) and then the block's restart offsets, and decodes at
// most restart_interval entries after the last restart at or below its key.
//
// Every block's CRC is checked before its bytes are used: the footer, index
// and filter when the table opens, a data block each time a read or an
// iterator enters it. A mismatch is Status::Corruption naming the file.
//
// Threading: a reader is immutable after Open and may be used from any
// number of threads; an Iterator belongs to one thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/env.h"
#include "common/slice.h"
#include "common/status.h"

namespace tidekv::lsm {

class BlockCache;

// What an entry says about its key. Values cross into files: do not renumber.
enum class EntryKind : uint8_t {
  kValue = 1,
  kTombstone = 2,
  kMergeAdd = 3,     // an int64 add operand (8 bytes) to apply to older entries
  kMergeAppend = 4,  // bytes to append to the older value
};
bool IsValidEntryKind(uint8_t kind);

struct SSTableOptions {
  uint32_t block_bytes = 4096;  // a data block is closed once it reaches this
  int bloom_bits_per_key = 10;  // 0 = no filter
  // Entries between restart offsets (a point read decodes at most this many
  // after its binary search). 0 = no restart offsets (block layout 0, kept to
  // test that such tables are still read).
  uint32_t restart_interval = 4;
};

struct SSTableProperties {
  uint64_t file_number = 0;
  uint64_t file_bytes = 0;
  uint64_t entries = 0;
  uint64_t data_blocks = 0;
  std::string smallest;  // first key ("" when the table is empty)
  std::string largest;   // last key
};

class SSTableBuilder {
 public:
  SSTableBuilder() = default;
  ~SSTableBuilder();  // an unfinished table is abandoned (its file deleted)
  SSTableBuilder(const SSTableBuilder&) = delete;
  SSTableBuilder& operator=(const SSTableBuilder&) = delete;

  // Creates path (replacing it).
  Status Open(Env* env, const std::string& path, uint64_t file_number, const SSTableOptions& options);
  // Keys must be strictly increasing (InvalidArgument otherwise).
  Status Add(Slice key, EntryKind kind, Slice value);
  // Writes the filter, index and footer and syncs the file.
  Status Finish(SSTableProperties* properties);
  // Closes and deletes the file.
  void Abandon();

 private:
  Status FlushBlock();
  Status Write(Slice bytes);

  Env* env_ = nullptr;
  std::unique_ptr<File> file_;
  SSTableOptions options_;
  SSTableProperties props_;
  std::string block_;         // the data block being filled
  std::vector<uint32_t> restarts_;  // of block_
  uint32_t block_entries_ = 0;
  std::string last_key_;      // of the previous Add
  std::string index_;         // per-block fence entries
  std::vector<std::string> filter_keys_;  // hashed into the filter at Finish
  std::string pending_;       // bytes not yet written to the file
  uint64_t offset_ = 0;       // file offset of pending_[0]
  bool finished_ = false;
};

class SSTableReader {
 public:
  // Maps the file and checks its header, footer, index and filter.
  static Status Open(Env* env, const std::string& path, std::unique_ptr<SSTableReader>* reader);

  const SSTableProperties& properties() const { return props_; }
  const std::string& path() const { return path_; }
  // False when the filter proves the key absent.
  bool MayContain(Slice key) const;
  // Starts loading what a lookup of the key with this HashKey reads first
  // (its filter block). A hint for batched lookups.
  void Prefetch(uint64_t key_hash) const;
  bool MayContainHash(uint64_t key_hash) const;
  // Starts loading the data block a lookup of key would search (from the
  // cache when it holds the block, else from the mapping). A hint.
  void PrefetchBlock(Slice key, const BlockCache* cache) const;
  // Checks the CRC of every data block (the footer, index and filter were
  // checked by Open): O(file), a sequential read of the mapping.
  Status VerifyBlocks() const;
  // The entry for key: *found false when the table has none.
  Status Get(Slice key, bool* found, EntryKind* kind, std::string* value) const;
  // The same without a copy: *value views the mapping (valid while the
  // reader lives) or, with a cache, the cached block (valid until the cache's
  // next Insert). A block read from the mapping is checked, then cached.
  // key_hash is HashKey(key) (common/hash.h), for the filter.
  Status Find(Slice key, uint64_t key_hash, bool* found, EntryKind* kind, Slice* value,
              BlockCache* cache = nullptr) const;

  // Walks entries in key order. Slices stay valid while the reader lives.
  class Iterator {
   public:
    explicit Iterator(const SSTableReader* table) : table_(table) {}
    void SeekToFirst();
    void Seek(Slice target);  // the first entry with key >= target
    void SeekToLast();
    void SeekBefore(Slice target);  // the last entry with key < target
    bool Valid() const { return valid_; }
    void Next();
    Slice key() const { return key_; }
    EntryKind kind() const { return kind_; }
    Slice value() const { return value_; }
    // Corruption when a block failed its CRC (Valid() is then false).
    const Status& status() const { return status_; }

   private:
    // Positions on the first entry of `block`, or (with target) on the first
    // entry with key >= target, found through the restart offsets.
    bool EnterBlock(size_t block, const Slice* target = nullptr);
    bool ParseEntry();
    // Positions on the last entry of `block` whose key is < limit (any key
    // when limit is null); false when the block has none.
    bool LastInBlockBefore(size_t block, const Slice* limit);

    const SSTableReader* table_;
    size_t block_ = 0;
    const char* pos_ = nullptr;
    const char* end_ = nullptr;
    Slice key_, value_;
    EntryKind kind_ = EntryKind::kValue;
    bool valid_ = false;
    Status status_;
  };

 private:
  struct Fence {
    uint32_t key_offset = 0;  // of the block's last key, in fence_keys_
    uint32_t key_size = 0;
    uint64_t offset = 0;
    uint64_t size = 0;  // the block without its CRC
  };
  // A data block's parts: the entries and, in layout 1, the restart offsets
  // (each checked to lie inside the entries before it is used).
  struct Block {
    const char* entries = nullptr;
    size_t entries_size = 0;
    const char* restarts = nullptr;  // u32 each
    uint32_t restart_count = 0;
  };
  SSTableReader() = default;
  Slice FenceKey(size_t block) const {
    return Slice(fence_keys_.data() + fences_[block].key_offset, fences_[block].key_size);
  }
  // The first block whose last key is >= key (fences_.size() when none).
  size_t FindBlock(Slice key) const;
  // The block's bytes, its CRC checked.
  Status CheckBlock(size_t block, Slice* bytes) const;
  // Splits a checked block into its parts: Corruption when its restart
  // trailer does not fit.
  Status ParseBlock(Slice bytes, Block* block) const;
  // Where a search for key within the block starts: the last restart whose
  // key is <= key (the block's start when none); nullptr when a restart
  // offset or the entry there is malformed.
  const char* SeekInBlock(const Block& block, Slice key) const;

  std::string path_;
  std::unique_ptr<File> file_;
  std::unique_ptr<MappedRegion> map_;
  SSTableProperties props_;
  uint64_t block_layout_ = 0;
  std::vector<Fence> fences_;
  std::string fence_keys_;  // every block's last key, back to back
  // FindBlock searches these first: per block, the 8 bytes of its last key
  // after the prefix all of them share (big-endian, zero-padded), so most
  // steps compare two integers in one small array.
  size_t fence_shared_ = 0;
  std::vector<uint64_t> fence_words_;
  Slice filter_;
};

}  // namespace tidekv::lsm
