// The checkpoint files shared by every engine: the manifest that makes a
// checkpoint exist, and block files that hold its data. Byte-level
// description: docs/formats/checkpoint.md. DO NOT CHANGE values that reach disk.
//
// A checkpoint is complete once its manifest `checkpoint-<version>.manifest`
// is durably in place (WriteFileAtomic: temp file, fsync, rename, fsync of the
// directory). Everything a checkpoint needs is named in its manifest's file
// list; a file no retained manifest names (and the live store does not use)
// may be deleted.
//
// Block file: a file header, then blocks, then a footer.
//   block   u64 key (engine-defined: a log address, an index chunk id ...)
//           u32 length, u32 crc32c of the bytes, then the bytes padded to 8
//   footer  u64 kBlockFooterMagic, u64 block count, u64 payload bytes,
//           u32 crc32c of the previous 24 bytes, u32 zero
// A reader checks every block's CRC and that the footer matches what it
// read, so a torn or truncated file is detected, not half-applied.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "env.h"
#include "record_format.h"
#include "slice.h"
#include "status.h"

namespace tidekv {

enum class MetaKind : uint8_t { kNone = 0, kBytes = 1, kText = 2 };  // reaches disk

// What a checkpoint reports (CheckpointInfo in lib/).
struct CheckpointInfo {
  uint64_t version = 0;
  uint64_t created_at_micros = 0;  // wall clock, since the Unix epoch
  uint64_t pause_micros = 0;       // the calling thread held the store for the cut
  uint64_t duration_micros = 0;    // from the cut to the manifest being durable
  uint64_t bytes_written = 0;      // bytes this checkpoint added to disk
  uint64_t total_bytes = 0;        // bytes of every file the checkpoint needs
  MetaKind meta_kind = MetaKind::kNone;  // how meta was given, so it is returned the same way
  std::string meta;
};

enum class EngineKind : uint32_t { kHybridLog = 1, kLsm = 2, kAppendLog = 3 };  // reaches disk
// The name users give open() for an engine kind ("hybridlog", "lsm").
const char* EngineKindName(EngineKind kind);

struct CheckpointManifest {
  CheckpointInfo info;
  EngineKind engine = EngineKind::kHybridLog;
  std::string engine_state;        // engine-defined, opaque here
  std::vector<std::string> files;  // names (not paths) this checkpoint needs, segments included
};

std::string ManifestFileName(uint64_t version);
// True (and *version set) for "checkpoint-<20 digits>.manifest".
bool ParseManifestFileName(const std::string& name, uint64_t* version);
// "<prefix>-<20 digits>.dat" for a checkpoint's block files.
std::string CheckpointDataFileName(const char* prefix, uint64_t version);
bool ParseCheckpointDataFileName(const std::string& name, const char* prefix, uint64_t* version);

std::string EncodeManifest(const CheckpointManifest& manifest);
// Corruption naming `path` on any inconsistency.
Status DecodeManifest(Slice bytes, const std::string& path, CheckpointManifest* manifest);

// Writes (creating) and syncs a manifest atomically in dir.
Status WriteManifest(Env* env, const std::string& dir, const CheckpointManifest& manifest, uint64_t* bytes);

// Sets manifest->info.bytes_written and total_bytes to the given figures plus
// the manifest's own encoded size, which depends on them: iterated to the
// fixed point (varints settle in a step or two).
void CountManifestItself(CheckpointManifest* manifest, uint64_t bytes_written, uint64_t total_bytes);

// The retained checkpoints of an engine: a vector, oldest first, of a type
// with a `CheckpointManifest manifest` member. The caller holds the lock
// that guards the vector.
template <class Retained>
void RetainedInfos(const std::vector<Retained>& retained, std::vector<CheckpointInfo>* infos) {
  infos->clear();
  for (const Retained& r : retained) infos->push_back(r.manifest.info);
}
template <class Retained>
uint64_t NewestRetainedVersion(const std::vector<Retained>& retained) {
  return retained.empty() ? 0 : retained.back().manifest.info.version;
}
// Moves the oldest beyond `keep` (at least 1) to *dropped and names their
// manifests in *manifests, for the caller to delete after unlocking.
template <class Retained>
void DropOldestRetained(std::vector<Retained>* retained, uint32_t keep, std::vector<std::string>* manifests,
                        std::vector<Retained>* dropped) {
  while (retained->size() > std::max<uint32_t>(keep, 1)) {
    manifests->push_back(ManifestFileName(retained->front().manifest.info.version));
    dropped->push_back(std::move(retained->front()));
    retained->erase(retained->begin());
  }
}
Status ReadManifest(Env* env, const std::string& dir, uint64_t version, CheckpointManifest* manifest);

// The checkpoint versions whose manifests are among `names`, newest first.
std::vector<uint64_t> ManifestVersionsNewestFirst(const std::vector<std::string>& names);
// InvalidArgument naming the engine when a manifest in dir is of another
// engine than `expected` (a store opened with the wrong engine).
Status CheckManifestEngine(const CheckpointManifest& manifest, EngineKind expected, const std::string& dir);
// Recovery's choice, shared by the engines: reads the manifests of `versions`
// (newest first) and calls load(version, manifest) for each one of engine
// `expected` until load
// returns OK; *chosen is then that version's index. A read or load error of
// kIoError or kInvalidArgument, any error when !latest_valid, and a manifest
// of another engine end the walk with that error; with latest_valid other
// errors (corruption) move on to the next older version, and when none loads
// the result is Corruption quoting the newest one's error. The manifests
// newer than the chosen one (the damaged ones) are deleted.
Status LoadNewestCheckpoint(Env* env, const std::string& dir, const std::vector<uint64_t>& versions,
                            EngineKind expected, bool latest_valid,
                            const std::function<Status(uint64_t version, CheckpointManifest* manifest)>& load, size_t* chosen);

inline constexpr uint64_t kBlockFooterMagic = 0x72746f6f66766b74ull;  // "tkvfootr"
inline constexpr size_t kBlockHeaderBytes = 16;
inline constexpr size_t kBlockFooterBytes = 32;

// kHints: append-log hint files (native/appendlog/hint_file.h).
enum class BlockFileKind : uint64_t { kLogSnapshot = 1, kIndexChunks = 2, kHints = 3 };

// Writes a block file through a buffer. Not thread-safe.
class BlockFileWriter {
 public:
  // Creates path (replacing it). header.type is set to kCheckpointBlocks.
  Status Open(Env* env, const std::string& path, FileHeader header);
  Status Add(uint64_t key, Slice bytes);
  // Writes the footer and syncs the file. *bytes = the file's size.
  Status Finish(uint64_t* bytes);
  uint64_t blocks() const { return blocks_; }
  uint64_t bytes_so_far() const { return offset_ + buffer_.size(); }

 private:
  Status FlushBuffer();
  std::unique_ptr<File> file_;
  std::string buffer_;
  uint64_t offset_ = 0;
  uint64_t blocks_ = 0;
  uint64_t payload_bytes_ = 0;
};

// Reads a whole block file through a mapping, checking every CRC and the
// footer before calling fn for any block: a damaged file applies nothing.
// fn(key, bytes) may stop the walk by returning a non-OK Status.
// With keep_mapping, the file's mapping is handed over when the read
// succeeds, so the slices given to fn stay valid as long as the caller keeps it.
Status ReadBlockFile(Env* env, const std::string& path, BlockFileKind kind, FileHeader* header,
                     const std::function<Status(uint64_t key, Slice bytes)>& fn,
                     std::unique_ptr<MappedRegion>* keep_mapping = nullptr);

}  // namespace tidekv
