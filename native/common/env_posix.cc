// Env::Posix(): the real file system.
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "env.h"

namespace tidekv {

namespace {

// Retries a system call interrupted by a signal.
template <typename Fn>
auto RetryEintr(Fn fn) {
  decltype(fn()) r;
  do {
    r = fn();
  } while (r == -1 && errno == EINTR);
  return r;
}

// ENOENT becomes NotFound for the calls whose contract says "NotFound if missing".
Status ErrnoStatus(int err, std::string_view what, const std::string& path, bool missing_is_not_found) {
  if (missing_is_not_found && err == ENOENT) {
    return Status::NotFound(std::string(what) + " " + path + ": no such file or directory");
  }
  return Status::FromErrno(err, what, path);
}

class PosixMappedRegion final : public MappedRegion {
 public:
  PosixMappedRegion(void* base, size_t map_bytes, const char* data, size_t size)
      : base_(base), map_bytes_(map_bytes), data_(data), size_(size) {}
  ~PosixMappedRegion() override {
    if (base_ != nullptr) munmap(base_, map_bytes_);
  }
  const char* data() const override { return data_; }
  size_t size() const override { return size_; }

 private:
  void* base_;  // what mmap returned (page-aligned, at or before data_)
  size_t map_bytes_;
  const char* data_;
  size_t size_;
};

class PosixFile final : public File {
 public:
  PosixFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  ~PosixFile() override { close(fd_); }  // not retried on EINTR: the fd is gone either way on Linux

  Status ReadAt(uint64_t offset, size_t n, char* dst, size_t* bytes_read) override {
    size_t done = 0;
    while (done < n) {
      const ssize_t r = RetryEintr([&] { return pread(fd_, dst + done, n - done, offset + done); });
      if (r < 0) {
        *bytes_read = done;
        return Status::FromErrno(errno, "read", path_);
      }
      if (r == 0) break;  // end of file
      done += static_cast<size_t>(r);
    }
    *bytes_read = done;
    return Status::OK();
  }

  Status WriteAt(uint64_t offset, Slice data) override {
    size_t done = 0;
    while (done < data.size()) {
      const ssize_t r = RetryEintr(
          [&] { return pwrite(fd_, data.data() + done, data.size() - done, offset + done); });
      if (r < 0) return Status::FromErrno(errno, "write", path_);
      if (r == 0) return Status::FromErrno(ENOSPC, "write", path_);  // no progress: do not spin
      done += static_cast<size_t>(r);
    }
    return Status::OK();
  }

  Status Sync() override {
#if defined(__APPLE__)
    // fsync on macOS does not flush the drive cache; F_FULLFSYNC does.
    if (fcntl(fd_, F_FULLFSYNC) == 0) return Status::OK();
    if (RetryEintr([&] { return fsync(fd_); }) != 0) return Status::FromErrno(errno, "fsync", path_);
#else
    if (RetryEintr([&] { return fdatasync(fd_); }) != 0) return Status::FromErrno(errno, "fdatasync", path_);
#endif
    return Status::OK();
  }

  Status Truncate(uint64_t size) override {
    if (RetryEintr([&] { return ftruncate(fd_, static_cast<off_t>(size)); }) != 0) {
      return Status::FromErrno(errno, "truncate", path_);
    }
    return Status::OK();
  }

  Status Size(uint64_t* size) override {
    struct stat st;
    if (fstat(fd_, &st) != 0) return Status::FromErrno(errno, "stat", path_);
    *size = static_cast<uint64_t>(st.st_size);
    return Status::OK();
  }

  Status Map(uint64_t offset, size_t length, std::unique_ptr<MappedRegion>* region) override {
    // Checked rather than trusted: touching a mapping past the end of the file
    // raises SIGBUS, which is much harder to diagnose than a Status.
    uint64_t size = 0;
    TIDEKV_RETURN_IF_ERROR(Size(&size));
    if (offset % 4096 != 0 || offset > size || length > size - offset) {
      return Status::InvalidArgument("map " + path_ + ": range [" + std::to_string(offset) + ", +" +
                                     std::to_string(length) + ") is unaligned or past the end (" +
                                     std::to_string(size) + " bytes)");
    }
    if (length == 0) {  // mmap rejects zero lengths; an empty region needs no mapping
      *region = std::make_unique<PosixMappedRegion>(nullptr, 0, nullptr, 0);
      return Status::OK();
    }
    // The OS page may be larger than 4096 (16 KiB, 64 KiB on some ARM systems):
    // map from the enclosing page boundary and point data() into it.
    static const uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
    const uint64_t delta = offset % page;
    const size_t map_bytes = length + delta;
    void* base = mmap(nullptr, map_bytes, PROT_READ, MAP_SHARED, fd_, static_cast<off_t>(offset - delta));
    if (base == MAP_FAILED) return Status::FromErrno(errno, "mmap", path_);
    const char* data = static_cast<const char*>(base) + delta;
    *region = std::make_unique<PosixMappedRegion>(base, map_bytes, data, length);
    return Status::OK();
  }

  const std::string& path() const override { return path_; }

 private:
  const int fd_;
  const std::string path_;
};

class PosixFileLock final : public FileLock {
 public:
  explicit PosixFileLock(int fd) : fd_(fd) {}
  ~PosixFileLock() override {
    flock(fd_, LOCK_UN);  // closing would release it too; explicit for clarity
    close(fd_);
  }

 private:
  const int fd_;
};

// Closes a descriptor on scope exit (opendir/open for a directory).
struct FdCloser {
  int fd;
  ~FdCloser() {
    if (fd >= 0) close(fd);
  }
};

class PosixEnv final : public Env {
 public:
  Status OpenFile(const std::string& path, OpenMode mode, std::unique_ptr<File>* file) override {
    int flags = O_CLOEXEC;
    switch (mode) {
      case OpenMode::kReadOnly: flags |= O_RDONLY; break;
      case OpenMode::kReadWrite: flags |= O_RDWR; break;
      case OpenMode::kCreate: flags |= O_RDWR | O_CREAT; break;
      case OpenMode::kCreateNew: flags |= O_RDWR | O_CREAT | O_EXCL; break;
      case OpenMode::kCreateTruncate: flags |= O_RDWR | O_CREAT | O_TRUNC; break;
    }
    const int fd = RetryEintr([&] { return open(path.c_str(), flags, 0644); });
    if (fd < 0) {
      const bool must_exist = mode == OpenMode::kReadOnly || mode == OpenMode::kReadWrite;
      return ErrnoStatus(errno, "open", path, must_exist);
    }
    // O_RDONLY succeeds on a directory; reads would then fail with a less clear error.
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
      close(fd);
      return Status::FromErrno(EISDIR, "open", path);
    }
    *file = std::make_unique<PosixFile>(fd, path);
    return Status::OK();
  }

  Status DeleteFile(const std::string& path) override {
    if (unlink(path.c_str()) != 0) return ErrnoStatus(errno, "delete", path, true);
    return Status::OK();
  }

  Status RenameFile(const std::string& from, const std::string& to) override {
    if (rename(from.c_str(), to.c_str()) != 0) {
      const int err = errno;
      struct stat st;
      // ENOENT also means a missing destination directory: only a missing source is NotFound.
      const bool source_missing = err == ENOENT && lstat(from.c_str(), &st) != 0 && errno == ENOENT;
      return ErrnoStatus(err, "rename", from + " -> " + to, source_missing);
    }
    return Status::OK();
  }

  bool FileExists(const std::string& path) override { return access(path.c_str(), F_OK) == 0; }

  Status FileSize(const std::string& path, uint64_t* size) override {
    struct stat st;
    if (stat(path.c_str(), &st) != 0) return ErrnoStatus(errno, "stat", path, true);
    *size = static_cast<uint64_t>(st.st_size);
    return Status::OK();
  }

  Status ListDir(const std::string& dir, std::vector<std::string>* names) override {
    names->clear();
    DIR* d = opendir(dir.c_str());
    if (d == nullptr) return ErrnoStatus(errno, "opendir", dir, true);
    Status s;
    for (;;) {
      errno = 0;
      const dirent* e = readdir(d);
      if (e == nullptr) {
        if (errno != 0) s = Status::FromErrno(errno, "readdir", dir);
        break;
      }
      const std::string_view name = e->d_name;
      if (name != "." && name != "..") names->emplace_back(name);
    }
    closedir(d);
    return s;
  }

  Status CreateDir(const std::string& dir) override {
    // mkdir -p: create each missing prefix; EEXIST is fine (also when another
    // thread or process races us), anything else is reported.
    for (size_t pos = 1; pos <= dir.size(); ++pos) {
      if (pos != dir.size() && dir[pos] != '/') continue;
      const std::string prefix = dir.substr(0, pos);
      if (mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST) {
        return Status::FromErrno(errno, "mkdir", prefix);
      }
    }
    struct stat st;
    if (stat(dir.c_str(), &st) != 0) return Status::FromErrno(errno, "mkdir", dir);
    if (!S_ISDIR(st.st_mode)) return Status::FromErrno(ENOTDIR, "mkdir", dir);
    return Status::OK();
  }

  Status SyncDir(const std::string& dir) override {
    const int fd = RetryEintr([&] { return open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); });
    if (fd < 0) return Status::FromErrno(errno, "open directory", dir);
    FdCloser closer{fd};
    if (RetryEintr([&] { return fsync(fd); }) != 0) return Status::FromErrno(errno, "fsync directory", dir);
    return Status::OK();
  }

  Status LockFile(const std::string& path, std::unique_ptr<FileLock>* lock) override {
    const int fd = RetryEintr([&] { return open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644); });
    if (fd < 0) return Status::FromErrno(errno, "open lock file", path);
    // flock locks belong to the open file description, so a second open of the
    // same path conflicts even within this process (fcntl locks would not).
    if (RetryEintr([&] { return flock(fd, LOCK_EX | LOCK_NB); }) != 0) {
      const int err = errno;
      close(fd);
      if (err == EWOULDBLOCK) {
        return Status::Locked("lock " + path + ": another handle (in this or another process) holds it");
      }
      return Status::FromErrno(err, "lock", path);
    }
    *lock = std::make_unique<PosixFileLock>(fd);
    return Status::OK();
  }
};

}  // namespace

Env* Env::Posix() {
  static Env* const env = new PosixEnv;  // never destroyed: other statics may use it at exit
  return env;
}

}  // namespace tidekv
