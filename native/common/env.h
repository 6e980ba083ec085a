// Env: every file-system call tidekv makes goes through this interface, so that
// tests decide what the disk does (fails, fills up, loses unsynced bytes).
//
// Implementations:
//   Env::Posix()        the real file system (env_posix.cc)
//   MemEnv              in memory, with crash simulation (env_mem.h)
//   FaultEnv            wraps another Env and injects failures (env_fault.h)
//
// Threading: an Env may be used from any thread. A File may be used from
// several threads at once for ReadAt/WriteAt at disjoint ranges; Truncate, Map
// and Sync must not race with writes to the same range (callers order them).
//
// Ownership: every object returned through a std::unique_ptr owns its OS
// resource and releases it on destruction (RAII): File closes its descriptor,
// MappedRegion unmaps, FileLock unlocks.
//
// Paths are plain strings; `JoinPath` builds them. Errors are Status::IoError
// naming the operation and path (Status::NotFound for a missing file where
// the call says so).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "slice.h"
#include "status.h"

namespace tidekv {

class MappedRegion {
 public:
  virtual ~MappedRegion() = default;
  // Valid until the region is destroyed. Reading past size() is undefined.
  virtual const char* data() const = 0;
  virtual size_t size() const = 0;
};

class File {
 public:
  virtual ~File() = default;

  // Reads up to n bytes at offset into dst. *bytes_read < n only at end of file.
  virtual Status ReadAt(uint64_t offset, size_t n, char* dst, size_t* bytes_read) = 0;
  // Writes all of data at offset, extending the file if needed. On error some
  // prefix of data may have been written (a torn write).
  virtual Status WriteAt(uint64_t offset, Slice data) = 0;
  // Makes every byte written so far durable (fdatasync).
  virtual Status Sync() = 0;
  // Sets the file size; growing fills with zeros.
  virtual Status Truncate(uint64_t size) = 0;
  virtual Status Size(uint64_t* size) = 0;
  // Maps [offset, offset + length) read-only. The region sees later WriteAt
  // calls to the mapped range. REQUIRES: offset + length <= Size().
  // REQUIRES: offset is a multiple of 4096.
  virtual Status Map(uint64_t offset, size_t length, std::unique_ptr<MappedRegion>* region) = 0;
  virtual const std::string& path() const = 0;
};

// An advisory, exclusive lock on a file; released when destroyed. A second
// LockFile on the same path fails with Status::Locked, also from the same
// process (a second handle, a worker thread).
class FileLock {
 public:
  virtual ~FileLock() = default;
};

enum class OpenMode : uint8_t {
  kReadOnly,       // must exist (NotFound otherwise)
  kReadWrite,      // must exist (NotFound otherwise)
  kCreate,         // read-write, created empty if missing
  kCreateNew,      // read-write, must not exist (IoError if it does)
  kCreateTruncate  // read-write, created or emptied
};

class Env {
 public:
  virtual ~Env() = default;

  // The process-wide POSIX Env. Never destroyed.
  static Env* Posix();

  virtual Status OpenFile(const std::string& path, OpenMode mode, std::unique_ptr<File>* file) = 0;
  virtual Status DeleteFile(const std::string& path) = 0;   // NotFound if missing
  // Atomically replaces `to` with `from` (rename(2)). Durable only after SyncDir.
  // NotFound if `from` is missing.
  virtual Status RenameFile(const std::string& from, const std::string& to) = 0;
  virtual bool FileExists(const std::string& path) = 0;                     // files and directories
  virtual Status FileSize(const std::string& path, uint64_t* size) = 0;     // NotFound if missing
  // Names (not paths) of the entries in dir, excluding "." and "..", unsorted.
  // NotFound if dir is missing.
  virtual Status ListDir(const std::string& dir, std::vector<std::string>* names) = 0;
  // Creates dir and missing parents; OK if it exists.
  virtual Status CreateDir(const std::string& dir) = 0;
  // Makes the directory's entries (creations, renames, deletions) durable.
  virtual Status SyncDir(const std::string& dir) = 0;
  // Creates path if needed and locks it (see FileLock).
  virtual Status LockFile(const std::string& path, std::unique_ptr<FileLock>* lock) = 0;
};

std::string JoinPath(const std::string& dir, const std::string& name);

// Reads a whole file into *contents.
Status ReadFileToString(Env* env, const std::string& path, std::string* contents);
// Crash-safe replace: writes `contents` to `path`.tmp, syncs it, renames it over
// `path` and syncs the directory. After a crash, `path` holds the old or the
// new contents, never a mix.
Status WriteFileAtomic(Env* env, const std::string& dir, const std::string& name, Slice contents);

}  // namespace tidekv
