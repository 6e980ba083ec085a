// FaultEnv: wraps an Env and injects the failures a disk can produce, so tests
// can check that every error path leaves the store consistent.
//
// Faults are armed by the test and apply to paths that contain `path_filter`
// (empty = every path). Each fault fires as configured and is counted, so a
// test can assert that it fired.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "env.h"

namespace tidekv {

struct FaultPlan {
  std::string path_filter;
  // Writes: after this many more bytes are written (to matching files), every
  // write fails with ENOSPC; the write that crosses the limit is torn (its
  // prefix up to the limit is written). UINT64_MAX = never.
  uint64_t fail_writes_after_bytes = UINT64_MAX;
  // Sync / SyncDir of matching files fail with EIO when true.
  bool fail_sync = false;
  // Opening (creating) matching files fails with EIO when true (every OpenMode).
  bool fail_open = false;
  // Renames whose destination matches fail with EIO when true.
  bool fail_rename = false;
  // Reads of matching files return data with one bit (the lowest, 0x01)
  // flipped at this file offset (when the read covers it); the file itself is
  // unchanged. A Map covering the offset returns a flipped private copy,
  // which does not see later writes. UINT64_MAX = never.
  uint64_t flip_bit_at_offset = UINT64_MAX;
};

class FaultEnv final : public Env {
 public:
  explicit FaultEnv(Env* base);  // base must outlive this Env
  ~FaultEnv() override;

  void Arm(const FaultPlan& plan);
  void Disarm();
  // How many operations failed (or were corrupted) by an injected fault.
  uint64_t faults_fired() const;

  Status OpenFile(const std::string& path, OpenMode mode, std::unique_ptr<File>* file) override;
  Status DeleteFile(const std::string& path) override;
  Status RenameFile(const std::string& from, const std::string& to) override;
  bool FileExists(const std::string& path) override;
  Status FileSize(const std::string& path, uint64_t* size) override;
  Status ListDir(const std::string& dir, std::vector<std::string>* names) override;
  Status CreateDir(const std::string& dir) override;
  Status SyncDir(const std::string& dir) override;
  Status LockFile(const std::string& path, std::unique_ptr<FileLock>* lock) override;

  struct State;

 private:
  Env* base_;
  std::shared_ptr<State> state_;
};

}  // namespace tidekv
