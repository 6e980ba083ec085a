// FaultEnv: the armed plan is looked up at each call, so arming affects files
// that are already open. Files hold the shared State, not the FaultEnv.
#include "env_fault.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace tidekv {

struct FaultEnv::State {
  std::mutex mu;
  bool armed = false;
  FaultPlan plan;
  uint64_t write_budget = UINT64_MAX;  // bytes matching writes may still write
  std::atomic<uint64_t> fired{0};

  // REQUIRES: mu.
  bool Matches(const std::string& path) const {
    return armed && (plan.path_filter.empty() || path.find(plan.path_filter) != std::string::npos);
  }
  bool Should(const std::string& path, bool FaultPlan::*flag) {
    std::lock_guard<std::mutex> l(mu);
    return Matches(path) && plan.*flag;
  }
  Status Fire(int err, std::string_view what, const std::string& path) {
    fired.fetch_add(1, std::memory_order_relaxed);
    return Status::IoError(std::string(what) + " " + path + ": " + std::strerror(err) + " (injected fault)");
  }
  // The offset whose bit reads of `path` flip, or UINT64_MAX.
  uint64_t FlipOffset(const std::string& path) {
    std::lock_guard<std::mutex> l(mu);
    return Matches(path) ? plan.flip_bit_at_offset : UINT64_MAX;
  }
};

namespace {

// A copy of mapped bytes with the injected bit flip. A real mapping cannot be
// altered without altering the file, so a read through Map that covers the
// flipped offset gets a snapshot instead; it does not see later writes.
class CorruptedRegion final : public MappedRegion {
 public:
  explicit CorruptedRegion(std::string bytes) : bytes_(std::move(bytes)) {}
  const char* data() const override { return bytes_.data(); }
  size_t size() const override { return bytes_.size(); }

 private:
  std::string bytes_;
};

constexpr char kFlipMask = 0x01;  // the lowest bit of the byte at flip_bit_at_offset

class FaultFile final : public File {
 public:
  FaultFile(std::unique_ptr<File> base, std::shared_ptr<FaultEnv::State> state)
      : base_(std::move(base)), state_(std::move(state)) {}

  Status ReadAt(uint64_t offset, size_t n, char* dst, size_t* bytes_read) override {
    TIDEKV_RETURN_IF_ERROR(base_->ReadAt(offset, n, dst, bytes_read));
    const uint64_t flip = state_->FlipOffset(path());
    if (flip >= offset && flip - offset < *bytes_read) {
      dst[flip - offset] ^= kFlipMask;
      state_->fired.fetch_add(1, std::memory_order_relaxed);
    }
    return Status::OK();
  }

  Status WriteAt(uint64_t offset, Slice data) override {
    size_t allowed = data.size();
    {
      std::lock_guard<std::mutex> l(state_->mu);
      if (state_->Matches(path()) && state_->plan.fail_writes_after_bytes != UINT64_MAX) {
        allowed = static_cast<size_t>(std::min<uint64_t>(state_->write_budget, data.size()));
        state_->write_budget -= allowed;
      }
    }
    if (allowed == data.size()) return base_->WriteAt(offset, data);
    if (allowed > 0) TIDEKV_RETURN_IF_ERROR(base_->WriteAt(offset, data.substr(0, allowed)));  // torn
    return state_->Fire(ENOSPC, "write", path());
  }

  Status Sync() override {
    if (state_->Should(path(), &FaultPlan::fail_sync)) return state_->Fire(EIO, "fdatasync", path());
    return base_->Sync();
  }

  Status Truncate(uint64_t size) override { return base_->Truncate(size); }
  Status Size(uint64_t* size) override { return base_->Size(size); }

  Status Map(uint64_t offset, size_t length, std::unique_ptr<MappedRegion>* region) override {
    std::unique_ptr<MappedRegion> base_region;
    TIDEKV_RETURN_IF_ERROR(base_->Map(offset, length, &base_region));
    const uint64_t flip = state_->FlipOffset(path());
    if (flip >= offset && flip - offset < length) {
      std::string copy(base_region->data(), length);
      copy[flip - offset] ^= kFlipMask;
      state_->fired.fetch_add(1, std::memory_order_relaxed);
      *region = std::make_unique<CorruptedRegion>(std::move(copy));
      return Status::OK();
    }
    *region = std::move(base_region);
    return Status::OK();
  }

  const std::string& path() const override { return base_->path(); }

 private:
  std::unique_ptr<File> base_;
  std::shared_ptr<FaultEnv::State> state_;
};

}  // namespace

FaultEnv::FaultEnv(Env* base) : base_(base), state_(std::make_shared<State>()) {}
FaultEnv::~FaultEnv() = default;

void FaultEnv::Arm(const FaultPlan& plan) {
  std::lock_guard<std::mutex> l(state_->mu);
  state_->armed = true;
  state_->plan = plan;
  state_->write_budget = plan.fail_writes_after_bytes;
}

void FaultEnv::Disarm() {
  std::lock_guard<std::mutex> l(state_->mu);
  state_->armed = false;
  state_->plan = FaultPlan();
  state_->write_budget = UINT64_MAX;
}

uint64_t FaultEnv::faults_fired() const { return state_->fired.load(std::memory_order_relaxed); }

Status FaultEnv::OpenFile(const std::string& path, OpenMode mode, std::unique_ptr<File>* file) {
  if (state_->Should(path, &FaultPlan::fail_open)) return state_->Fire(EIO, "open", path);
  std::unique_ptr<File> base_file;
  TIDEKV_RETURN_IF_ERROR(base_->OpenFile(path, mode, &base_file));
  *file = std::make_unique<FaultFile>(std::move(base_file), state_);
  return Status::OK();
}

Status FaultEnv::DeleteFile(const std::string& path) { return base_->DeleteFile(path); }

Status FaultEnv::RenameFile(const std::string& from, const std::string& to) {
  if (state_->Should(to, &FaultPlan::fail_rename)) return state_->Fire(EIO, "rename", from + " -> " + to);
  return base_->RenameFile(from, to);
}

bool FaultEnv::FileExists(const std::string& path) { return base_->FileExists(path); }
Status FaultEnv::FileSize(const std::string& path, uint64_t* size) { return base_->FileSize(path, size); }
Status FaultEnv::ListDir(const std::string& dir, std::vector<std::string>* names) {
  return base_->ListDir(dir, names);
}
Status FaultEnv::CreateDir(const std::string& dir) { return base_->CreateDir(dir); }

Status FaultEnv::SyncDir(const std::string& dir) {
  if (state_->Should(dir, &FaultPlan::fail_sync)) return state_->Fire(EIO, "fsync directory", dir);
  return base_->SyncDir(dir);
}

Status FaultEnv::LockFile(const std::string& path, std::unique_ptr<FileLock>* lock) {
  return base_->LockFile(path, lock);
}

}  // namespace tidekv
