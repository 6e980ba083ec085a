// MemEnv: files in memory, with a model of what a crash keeps.
//
// Storage. A file's bytes live in an anonymous address-space reservation
// (mmap PROT_NONE) whose pages are made writable as the file grows, so they
// never move while the reservation lasts. File::Map returns a pointer into
// it, which is how mappings see later WriteAt calls. While no mapping is
// alive a file that outgrows its reservation moves to a larger one; the first
// Map of a file first moves it to a reservation of max(1 GiB, 2 x size)
// (address space only: untouched pages cost no memory). A write or Truncate
// that would grow a mapped file past that reservation fails with IoError
// rather than move bytes under a live mapping.
//
// Crash model. A file keeps its synced size and, for every 512-byte sector
// changed since the last Sync that held synced bytes, the synced contents of
// that sector (copy-on-write, so an append-only file copies nothing). A crash
// rebuilds each file from those: a seeded length between the synced and the
// current size, and each changed sector new or old (all new, all old, or torn
// at random). The namespace keeps the state as of the last point where every
// change was durable, plus a log of later creations, deletions and renames;
// SyncDir marks the changes of that directory durable, and a crash replays the
// log keeping each non-durable change with probability 1/2 (a rename whose
// source did not survive is skipped). Directory creation is durable at once.
// Files surviving a crash get new nodes, so open handles and mappings keep the
// old ones: they stay valid but are detached from the Env.
//
// One mutex guards everything, file bytes included.
#include "env_mem.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <vector>

#ifndef MAP_NORESERVE
#define MAP_NORESERVE 0
#endif

namespace tidekv {

namespace {

constexpr uint64_t kSectorBytes = 512;
constexpr size_t kMinReserveBytes = size_t{1} << 20;
constexpr size_t kMapReserveBytes = size_t{1} << 30;
constexpr uint64_t kMaxFileBytes = uint64_t{1} << 40;  // keeps offset arithmetic far from overflow

size_t PageBytes() {
  static const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return page;
}
uint64_t RoundUp(uint64_t n, uint64_t unit) { return (n + unit - 1) / unit * unit; }
uint64_t NextPowerOfTwo(uint64_t n) {
  uint64_t p = 1;
  while (p < n) p <<= 1;
  return p;
}

// Copies n bytes into zeroed storage, skipping all-zero 4 KiB blocks: the
// destination already reads as zero there, and leaving them untouched keeps a
// sparse (preallocated, partly written) file from costing its full size in
// memory. Reading untouched source pages maps the shared zero page, not memory.
void CopyNonZero(char* dst, const char* src, uint64_t n) {
  constexpr uint64_t kBlock = 4096;
  for (uint64_t off = 0; off < n; off += kBlock) {
    const uint64_t len = std::min(kBlock, n - off);
    uint64_t bits = 0;
    for (uint64_t i = 0; i + 8 <= len; i += 8) bits |= LoadFixed64(src + off + i);
    for (uint64_t i = len & ~uint64_t{7}; i < len; ++i) bits |= static_cast<uint8_t>(src[off + i]);
    if (bits != 0) std::memcpy(dst + off, src + off, len);
  }
}

// splitmix64: tiny, and the same sequence on every platform (std::
// distributions are not), so a crash seed replays anywhere.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  uint64_t Uniform(uint64_t n) { return n == 0 ? 0 : Next() % n; }
  bool Coin() { return (Next() >> 63) != 0; }

 private:
  uint64_t state_;
};

// An address-space reservation whose prefix [0, committed) is readable and
// writable. The bytes never move; pages past the high-water mark read as zero.
class Storage {
 public:
  Storage() = default;
  ~Storage() {
    if (base_ != nullptr) munmap(base_, reserved_);
  }
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  char* data() const { return base_; }
  size_t reserved() const { return reserved_; }

  Status Reserve(size_t bytes) {
    bytes = RoundUp(bytes, PageBytes());
    void* p = mmap(nullptr, bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) return Status::FromErrno(errno, "MemEnv: reserve address space for", "a file");
    base_ = static_cast<char*>(p);
    reserved_ = bytes;
    return Status::OK();
  }

  // REQUIRES: bytes <= reserved().
  Status Commit(size_t bytes) {
    if (bytes <= committed_) return Status::OK();
    // Commit geometrically: one mprotect per doubling, not per write.
    const size_t target =
        std::min<size_t>(reserved_, std::max<size_t>(RoundUp(bytes, PageBytes()), 2 * committed_));
    if (mprotect(base_ + committed_, target - committed_, PROT_READ | PROT_WRITE) != 0) {
      return Status::FromErrno(errno, "MemEnv: commit memory for", "a file");
    }
    committed_ = target;
    return Status::OK();
  }

  void Swap(Storage& other) {
    std::swap(base_, other.base_);
    std::swap(reserved_, other.reserved_);
    std::swap(committed_, other.committed_);
  }

 private:
  char* base_ = nullptr;
  size_t reserved_ = 0;
  size_t committed_ = 0;
};

// One file's bytes and sync state (an inode). Every method REQUIRES Impl::mu.
struct MemNode {
  Storage storage;
  uint64_t size = 0;
  uint64_t dirty_end = 0;  // committed bytes at or past this are zero
  uint64_t synced_size = 0;
  // Synced contents (up to synced_size) of each sector changed since Sync.
  std::map<uint64_t, std::string> old_sectors;
  int maps = 0;  // live MappedRegions: the storage must not move

  const char* data() const { return storage.data(); }

  // Moves the bytes to a fresh reservation of at least `reserve` bytes.
  Status Relocate(size_t reserve) {
    Storage fresh;
    TIDEKV_RETURN_IF_ERROR(fresh.Reserve(reserve));
    TIDEKV_RETURN_IF_ERROR(fresh.Commit(size));
    // Bytes past dirty_end are zero on both sides: a preallocated (Truncate'd)
    // file costs no copy and no memory until written.
    const uint64_t used = std::min(size, dirty_end);
    CopyNonZero(fresh.data(), storage.data(), used);
    storage.Swap(fresh);
    dirty_end = used;
    return Status::OK();
  }

  Status EnsureCapacity(uint64_t bytes, const std::string& path) {
    if (bytes > kMaxFileBytes) return Status::FromErrno(EFBIG, "MemEnv: grow", path);
    if (bytes > storage.reserved()) {
      if (maps > 0) {
        return Status::IoError("MemEnv: " + path + " cannot grow to " + std::to_string(bytes) +
                               " bytes while mapped: mappings pin its storage, reserved at " +
                               std::to_string(storage.reserved()) + " bytes by the first Map");
      }
      TIDEKV_RETURN_IF_ERROR(Relocate(std::max<uint64_t>(NextPowerOfTwo(bytes), kMinReserveBytes)));
    }
    return storage.Commit(bytes);
  }

  Status ReserveForMap() {
    const uint64_t want = std::max<uint64_t>(2 * size, kMapReserveBytes);
    if (maps == 0 && storage.reserved() < want) return Relocate(want);
    return Status::OK();
  }

  // Saves the synced contents of the sectors of [begin, end) about to change.
  void SaveOld(uint64_t begin, uint64_t end) {
    end = std::min(end, synced_size);
    for (uint64_t k = begin / kSectorBytes; k * kSectorBytes < end; ++k) {
      if (old_sectors.count(k) != 0) continue;
      const uint64_t from = k * kSectorBytes;
      const uint64_t to = std::min(from + kSectorBytes, synced_size);
      old_sectors.emplace(k, std::string(data() + from, to - from));
    }
  }

  Status Resize(uint64_t new_size, const std::string& path) {
    if (new_size < size) {
      SaveOld(new_size, size);
    } else if (new_size > size) {
      TIDEKV_RETURN_IF_ERROR(EnsureCapacity(new_size, path));
      SaveOld(size, new_size);
      if (dirty_end > size) std::memset(storage.data() + size, 0, std::min(new_size, dirty_end) - size);
    }
    size = new_size;
    return Status::OK();
  }

  Status Write(uint64_t offset, Slice bytes, const std::string& path) {
    if (bytes.empty()) return Status::OK();  // like pwrite: an empty write does not extend the file
    if (offset > kMaxFileBytes || bytes.size() > kMaxFileBytes) {
      return Status::FromErrno(EFBIG, "write", path);
    }
    const uint64_t end = offset + bytes.size();
    if (end > size) TIDEKV_RETURN_IF_ERROR(Resize(end, path));
    SaveOld(offset, end);
    std::memcpy(storage.data() + offset, bytes.data(), bytes.size());
    dirty_end = std::max(dirty_end, end);
    return Status::OK();
  }

  size_t Read(uint64_t offset, size_t n, char* dst) const {
    if (offset >= size) return 0;
    const size_t m = static_cast<size_t>(std::min<uint64_t>(n, size - offset));
    if (m > 0) std::memcpy(dst, data() + offset, m);
    return m;
  }

  void Sync() {
    synced_size = size;
    old_sectors.clear();
  }

  // Writes the synced contents of [from, to) (within sector k) at dst + from.
  void CopyOld(uint64_t k, uint64_t from, uint64_t to, char* dst) const {
    const uint64_t synced_to = std::max(from, std::min(to, synced_size));
    if (from < synced_to) {
      // A sector not in old_sectors has not changed below synced_size since the
      // Sync; SaveOld on every shrink guarantees those bytes are still below size.
      auto it = old_sectors.find(k);
      const char* src =
          it != old_sectors.end() ? it->second.data() + (from - k * kSectorBytes) : data() + from;
      std::memcpy(dst + from, src, synced_to - from);
    }
    std::memset(dst + synced_to, 0, to - synced_to);  // bytes past the synced size did not exist
  }

  // What a reboot would find for this file (see the header comment).
  std::shared_ptr<MemNode> Crash(Rng& rng) const {
    const uint64_t lo = std::min(synced_size, size), hi = std::max(synced_size, size);
    uint64_t len = lo;
    if (hi > lo) {
      switch (rng.Uniform(4)) {
        case 0: len = lo; break;
        case 1: len = hi; break;
        default: len = lo + rng.Uniform(hi - lo + 1); break;
      }
    }
    enum Mode { kAllNew, kAllOld, kTorn };
    const Mode mode = static_cast<Mode>(rng.Uniform(3));

    auto out = std::make_shared<MemNode>();
    if (!out->EnsureCapacity(len, "crash image").ok()) {
      std::fprintf(stderr, "MemEnv::SimulateCrash: out of memory\n");
      std::abort();
    }
    char* dst = out->storage.data();
    CopyNonZero(dst, data(), std::min({len, size, dirty_end}));

    auto visit = [&](uint64_t k) {
      const uint64_t from = k * kSectorBytes;
      if (from >= len) return;
      const uint64_t to = std::min(from + kSectorBytes, len);
      const bool revert = mode == kAllOld || (mode == kTorn && rng.Coin());
      if (revert) {
        CopyOld(k, from, to, dst);
      } else if (to > size) {
        CopyOld(k, std::max(from, size), to, dst);  // past the current end only old bytes exist
      }
    };
    // Changed sectors: those saved, and those holding bytes appended past the synced size.
    const uint64_t appended_begin = size > synced_size ? synced_size / kSectorBytes : 0;
    const uint64_t appended_end = size > synced_size ? RoundUp(size, kSectorBytes) / kSectorBytes : 0;
    for (const auto& entry : old_sectors) {
      if (entry.first < appended_begin || entry.first >= appended_end) visit(entry.first);
    }
    for (uint64_t k = appended_begin; k < appended_end; ++k) visit(k);

    out->size = out->synced_size = out->dirty_end = len;
    return out;
  }
};

using Namespace = std::map<std::string, std::shared_ptr<MemNode>>;

struct NamespaceOp {
  enum Kind { kCreate, kDelete, kRename } kind;
  std::string path;  // created / deleted / renamed from
  std::string to;    // kRename
  std::shared_ptr<MemNode> node;  // kCreate
  // The directories that must be synced for the change to be durable.
  std::string dir1, dir2;
  bool synced1 = false, synced2 = true;
  bool durable() const { return synced1 && synced2; }

  void ApplyTo(Namespace* ns) const {
    switch (kind) {
      case kCreate: (*ns)[path] = node; break;
      case kDelete: ns->erase(path); break;
      case kRename: {
        auto it = ns->find(path);
        if (it == ns->end()) return;  // its creation was lost
        std::shared_ptr<MemNode> moved = std::move(it->second);
        ns->erase(it);
        (*ns)[to] = std::move(moved);
        break;
      }
    }
  }
};

// Lexical normalization: no empty or "." components, ".." folded, no
// trailing slash. "" and "." are the current directory.
std::string Normalize(const std::string& path) {
  const bool absolute = !path.empty() && path[0] == '/';
  std::vector<std::string_view> parts;
  size_t i = 0;
  while (i <= path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    const std::string_view part(path.data() + i, j - i);
    if (part == "..") {
      if (!parts.empty() && parts.back() != "..") {
        parts.pop_back();
      } else if (!absolute) {
        parts.push_back(part);
      }
    } else if (!part.empty() && part != ".") {
      parts.push_back(part);
    }
    i = j + 1;
  }
  std::string out = absolute ? "/" : "";
  for (size_t k = 0; k < parts.size(); ++k) {
    if (k > 0) out += '/';
    out += parts[k];
  }
  return out.empty() ? "." : out;
}

std::string Parent(const std::string& p) {  // of a normalized path
  if (p == "/" || p == ".") return p;
  const size_t pos = p.rfind('/');
  if (pos == std::string::npos) return ".";
  return pos == 0 ? "/" : p.substr(0, pos);
}

std::string Basename(const std::string& p) { return p.substr(p.rfind('/') + 1); }

}  // namespace

struct MemEnv::Impl {
  std::mutex mu;
  std::set<std::string> dirs{"/", "."};
  Namespace files;                // what callers see now
  Namespace durable;              // survives any crash: files before log[0]
  std::deque<NamespaceOp> log;    // later namespace changes, oldest first
  std::map<std::string, uint64_t> locks;  // normalized path -> lock id
  uint64_t next_lock_id = 1;

  void Record(NamespaceOp op) {
    op.ApplyTo(&files);
    log.push_back(std::move(op));
  }
  void Create(const std::string& p, std::shared_ptr<MemNode> node) {
    NamespaceOp op{NamespaceOp::kCreate, p, "", std::move(node), Parent(p), ""};
    Record(std::move(op));
  }
  Status MissingParent(const std::string& what, const std::string& path, const std::string& p) {
    if (dirs.count(Parent(p)) == 0) return Status::FromErrno(ENOENT, what, path);
    return Status::OK();
  }
};

namespace {

class MemMappedRegion final : public MappedRegion {
 public:
  MemMappedRegion(std::shared_ptr<MemEnv::Impl> env, std::shared_ptr<MemNode> node, const char* data,
                  size_t size)
      : env_(std::move(env)), node_(std::move(node)), data_(data), size_(size) {}
  ~MemMappedRegion() override {
    std::lock_guard<std::mutex> l(env_->mu);
    --node_->maps;
  }
  const char* data() const override { return data_; }
  size_t size() const override { return size_; }

 private:
  std::shared_ptr<MemEnv::Impl> env_;
  std::shared_ptr<MemNode> node_;
  const char* data_;
  size_t size_;
};

class MemFile final : public File {
 public:
  MemFile(std::shared_ptr<MemEnv::Impl> env, std::shared_ptr<MemNode> node, std::string path, bool writable)
      : env_(std::move(env)), node_(std::move(node)), path_(std::move(path)), writable_(writable) {}

  Status ReadAt(uint64_t offset, size_t n, char* dst, size_t* bytes_read) override {
    std::lock_guard<std::mutex> l(env_->mu);
    *bytes_read = node_->Read(offset, n, dst);
    return Status::OK();
  }
  Status WriteAt(uint64_t offset, Slice data) override {
    if (!writable_) return Status::FromErrno(EBADF, "write", path_);
    std::lock_guard<std::mutex> l(env_->mu);
    return node_->Write(offset, data, path_);
  }
  Status Sync() override {
    std::lock_guard<std::mutex> l(env_->mu);
    node_->Sync();
    return Status::OK();
  }
  Status Truncate(uint64_t size) override {
    if (!writable_) return Status::FromErrno(EBADF, "truncate", path_);
    std::lock_guard<std::mutex> l(env_->mu);
    return node_->Resize(size, path_);
  }
  Status Size(uint64_t* size) override {
    std::lock_guard<std::mutex> l(env_->mu);
    *size = node_->size;
    return Status::OK();
  }
  Status Map(uint64_t offset, size_t length, std::unique_ptr<MappedRegion>* region) override {
    std::lock_guard<std::mutex> l(env_->mu);
    if (offset % 4096 != 0 || offset > node_->size || length > node_->size - offset) {
      return Status::InvalidArgument("map " + path_ + ": range [" + std::to_string(offset) + ", +" +
                                     std::to_string(length) + ") is unaligned or past the end (" +
                                     std::to_string(node_->size) + " bytes)");
    }
    TIDEKV_RETURN_IF_ERROR(node_->ReserveForMap());
    ++node_->maps;
    *region = std::make_unique<MemMappedRegion>(env_, node_, node_->data() + offset, length);
    return Status::OK();
  }
  const std::string& path() const override { return path_; }

 private:
  std::shared_ptr<MemEnv::Impl> env_;
  std::shared_ptr<MemNode> node_;  // after a crash: no longer the Env's (detached)
  const std::string path_;
  const bool writable_;
};

class MemFileLock final : public FileLock {
 public:
  MemFileLock(std::shared_ptr<MemEnv::Impl> env, std::string path, uint64_t id)
      : env_(std::move(env)), path_(std::move(path)), id_(id) {}
  ~MemFileLock() override {
    std::lock_guard<std::mutex> l(env_->mu);
    auto it = env_->locks.find(path_);
    // A crash released the lock; someone may hold a newer one on the same path.
    if (it != env_->locks.end() && it->second == id_) env_->locks.erase(it);
  }

 private:
  std::shared_ptr<MemEnv::Impl> env_;
  const std::string path_;
  const uint64_t id_;
};

}  // namespace

MemEnv::MemEnv() : impl_(std::make_shared<Impl>()) {}
MemEnv::~MemEnv() = default;

Status MemEnv::OpenFile(const std::string& path, OpenMode mode, std::unique_ptr<File>* file) {
  const std::string p = Normalize(path);
  std::lock_guard<std::mutex> l(impl_->mu);
  if (impl_->dirs.count(p) != 0) return Status::FromErrno(EISDIR, "open", path);
  std::shared_ptr<MemNode> node;
  auto it = impl_->files.find(p);
  if (it == impl_->files.end()) {
    if (mode == OpenMode::kReadOnly || mode == OpenMode::kReadWrite) {
      return Status::NotFound("open " + path + ": no such file");
    }
    TIDEKV_RETURN_IF_ERROR(impl_->MissingParent("open", path, p));
    node = std::make_shared<MemNode>();
    impl_->Create(p, node);
  } else {
    if (mode == OpenMode::kCreateNew) return Status::FromErrno(EEXIST, "open", path);
    node = it->second;
    if (mode == OpenMode::kCreateTruncate) TIDEKV_RETURN_IF_ERROR(node->Resize(0, path));
  }
  *file = std::make_unique<MemFile>(impl_, std::move(node), path, mode != OpenMode::kReadOnly);
  return Status::OK();
}

Status MemEnv::DeleteFile(const std::string& path) {
  const std::string p = Normalize(path);
  std::lock_guard<std::mutex> l(impl_->mu);
  if (impl_->dirs.count(p) != 0) return Status::FromErrno(EISDIR, "delete", path);
  if (impl_->files.count(p) == 0) return Status::NotFound("delete " + path + ": no such file");
  impl_->Record({NamespaceOp::kDelete, p, "", nullptr, Parent(p), ""});
  return Status::OK();
}

Status MemEnv::RenameFile(const std::string& from, const std::string& to) {
  const std::string f = Normalize(from), t = Normalize(to);
  std::lock_guard<std::mutex> l(impl_->mu);
  if (impl_->files.count(f) == 0) return Status::NotFound("rename " + from + ": no such file");
  if (impl_->dirs.count(t) != 0) return Status::FromErrno(EISDIR, "rename", from + " -> " + to);
  TIDEKV_RETURN_IF_ERROR(impl_->MissingParent("rename", from + " -> " + to, t));
  if (f == t) return Status::OK();
  NamespaceOp op{NamespaceOp::kRename, f, t, nullptr, Parent(f), Parent(t)};
  op.synced2 = false;
  impl_->Record(std::move(op));
  return Status::OK();
}

bool MemEnv::FileExists(const std::string& path) {
  const std::string p = Normalize(path);
  std::lock_guard<std::mutex> l(impl_->mu);
  return impl_->files.count(p) != 0 || impl_->dirs.count(p) != 0;
}

Status MemEnv::FileSize(const std::string& path, uint64_t* size) {
  const std::string p = Normalize(path);
  std::lock_guard<std::mutex> l(impl_->mu);
  auto it = impl_->files.find(p);
  if (it == impl_->files.end()) return Status::NotFound("stat " + path + ": no such file");
  *size = it->second->size;
  return Status::OK();
}

Status MemEnv::ListDir(const std::string& dir, std::vector<std::string>* names) {
  const std::string d = Normalize(dir);
  names->clear();
  std::lock_guard<std::mutex> l(impl_->mu);
  if (impl_->dirs.count(d) == 0) {
    if (impl_->files.count(d) != 0) return Status::FromErrno(ENOTDIR, "opendir", dir);
    return Status::NotFound("opendir " + dir + ": no such directory");
  }
  for (const auto& entry : impl_->files) {
    if (Parent(entry.first) == d) names->push_back(Basename(entry.first));
  }
  for (const std::string& sub : impl_->dirs) {
    if (sub != d && sub != "/" && sub != "." && Parent(sub) == d) names->push_back(Basename(sub));
  }
  return Status::OK();
}

Status MemEnv::CreateDir(const std::string& dir) {
  std::lock_guard<std::mutex> l(impl_->mu);
  for (std::string d = Normalize(dir);; d = Parent(d)) {
    if (impl_->files.count(d) != 0) return Status::FromErrno(ENOTDIR, "mkdir", dir);
    if (!impl_->dirs.insert(d).second) break;  // its ancestors exist too
  }
  return Status::OK();
}

Status MemEnv::SyncDir(const std::string& dir) {
  const std::string d = Normalize(dir);
  std::lock_guard<std::mutex> l(impl_->mu);
  if (impl_->dirs.count(d) == 0) return Status::FromErrno(ENOENT, "open directory", dir);
  for (NamespaceOp& op : impl_->log) {
    if (op.dir1 == d) op.synced1 = true;
    if (op.dir2 == d) op.synced2 = true;
  }
  // Fold the durable prefix into the base so the log stays short.
  while (!impl_->log.empty() && impl_->log.front().durable()) {
    impl_->log.front().ApplyTo(&impl_->durable);
    impl_->log.pop_front();
  }
  return Status::OK();
}

Status MemEnv::LockFile(const std::string& path, std::unique_ptr<FileLock>* lock) {
  const std::string p = Normalize(path);
  std::lock_guard<std::mutex> l(impl_->mu);
  if (impl_->dirs.count(p) != 0) return Status::FromErrno(EISDIR, "open lock file", path);
  if (impl_->files.count(p) == 0) {
    TIDEKV_RETURN_IF_ERROR(impl_->MissingParent("open lock file", path, p));
    impl_->Create(p, std::make_shared<MemNode>());
  }
  if (impl_->locks.count(p) != 0) {
    return Status::Locked("lock " + path + ": another handle (in this or another process) holds it");
  }
  const uint64_t id = impl_->next_lock_id++;
  impl_->locks.emplace(p, id);
  *lock = std::make_unique<MemFileLock>(impl_, p, id);
  return Status::OK();
}

void MemEnv::SimulateCrash(uint64_t seed) {
  Rng rng(seed);
  std::lock_guard<std::mutex> l(impl_->mu);
  Namespace result = impl_->durable;
  for (const NamespaceOp& op : impl_->log) {
    if (op.durable() || rng.Coin()) op.ApplyTo(&result);
  }
  // Paths are visited in sorted order, so the draws depend only on the seed.
  std::map<const MemNode*, std::shared_ptr<MemNode>> rebuilt;
  for (auto& entry : result) {
    std::shared_ptr<MemNode>& image = rebuilt[entry.second.get()];
    if (!image) image = entry.second->Crash(rng);
    entry.second = image;
  }
  impl_->files = result;
  impl_->durable = std::move(result);
  impl_->log.clear();
  impl_->locks.clear();
}

Status MemEnv::ReadAll(const std::string& path, std::string* contents) {
  const std::string p = Normalize(path);
  std::lock_guard<std::mutex> l(impl_->mu);
  auto it = impl_->files.find(p);
  if (it == impl_->files.end()) return Status::NotFound("read " + path + ": no such file");
  contents->assign(it->second->data() == nullptr ? "" : it->second->data(), it->second->size);
  return Status::OK();
}

// Like truncating and rewriting the file without Sync: a crash may undo it.
Status MemEnv::Overwrite(const std::string& path, const std::string& contents) {
  const std::string p = Normalize(path);
  std::lock_guard<std::mutex> l(impl_->mu);
  auto it = impl_->files.find(p);
  if (it == impl_->files.end()) return Status::NotFound("overwrite " + path + ": no such file");
  TIDEKV_RETURN_IF_ERROR(it->second->Resize(0, path));
  return it->second->Write(0, contents, path);
}

// Media corruption: the flip is made in the current bytes and in the synced
// image, so it survives SimulateCrash.
Status MemEnv::FlipBit(const std::string& path, uint64_t offset, int bit) {
  const std::string p = Normalize(path);
  std::lock_guard<std::mutex> l(impl_->mu);
  auto it = impl_->files.find(p);
  if (it == impl_->files.end()) return Status::NotFound("flip bit in " + path + ": no such file");
  MemNode& node = *it->second;
  if (offset >= node.size || bit < 0 || bit > 7) {
    return Status::InvalidArgument("flip bit " + std::to_string(bit) + " at " + std::to_string(offset) +
                                   " of " + path + " (" + std::to_string(node.size) + " bytes)");
  }
  const char mask = static_cast<char>(1 << bit);
  node.storage.data()[offset] ^= mask;
  auto saved = node.old_sectors.find(offset / kSectorBytes);
  if (offset < node.synced_size && saved != node.old_sectors.end()) {
    saved->second[offset % kSectorBytes] ^= mask;
  }
  return Status::OK();
}

}  // namespace tidekv
