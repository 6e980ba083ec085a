// MemEnv: an Env held in memory, for tests.
//
// It also models what a crash keeps. Every file remembers how many of its bytes
// were synced (File::Sync); every directory remembers which of its entries were
// made durable (SyncDir). SimulateCrash(seed) turns the Env into what a reboot
// would show:
//   - each file keeps its synced prefix plus a seeded random part of its
//     unsynced bytes (a prefix of them, possibly with torn sectors: some
//     unsynced 512-byte sectors keep their new contents, others their old);
//   - creations, deletions and renames not followed by SyncDir of their
//     directory are undone or kept at random (seeded);
//   - open File objects and mappings stay valid but become detached: writes
//     through them no longer reach the Env.
// A test then reopens the store on the same MemEnv and checks what recovery
// yields. All randomness comes from the seed, so a failure replays exactly.
// Directory creation (CreateDir) is durable at once.
//
// Paths are normalized lexically ("a//b/./c/" is "a/b/c"); "/" and "." always
// exist, other directories must be created before files are created in them.
//
// Mappings: File::Map returns a pointer into the file's storage, which lives
// in an address-space reservation and never moves while a mapping is alive.
// The first Map of a file reserves max(1 GiB, 2 x its size) of address space
// (no memory until written); growing a mapped file past that fails with
// IoError instead of moving its bytes.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "env.h"

namespace tidekv {

class MemEnv final : public Env {
 public:
  MemEnv();
  ~MemEnv() override;

  Status OpenFile(const std::string& path, OpenMode mode, std::unique_ptr<File>* file) override;
  Status DeleteFile(const std::string& path) override;
  Status RenameFile(const std::string& from, const std::string& to) override;
  bool FileExists(const std::string& path) override;
  Status FileSize(const std::string& path, uint64_t* size) override;
  Status ListDir(const std::string& dir, std::vector<std::string>* names) override;
  Status CreateDir(const std::string& dir) override;
  Status SyncDir(const std::string& dir) override;
  Status LockFile(const std::string& path, std::unique_ptr<FileLock>* lock) override;

  // See the header comment. Locks held by the crashed "process" are released.
  void SimulateCrash(uint64_t seed);

  // Test helpers: direct access to a file's current bytes. NotFound if missing.
  Status ReadAll(const std::string& path, std::string* contents);
  // Replaces the contents like a truncate + write without Sync (no sync state
  // change): a later SimulateCrash may bring the synced bytes back.
  Status Overwrite(const std::string& path, const std::string& contents);
  // Flips bit `bit` (0..7) of the byte at offset; for corruption tests. Models
  // media corruption: the synced image is flipped too, so it survives a crash.
  Status FlipBit(const std::string& path, uint64_t offset, int bit);

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace tidekv
