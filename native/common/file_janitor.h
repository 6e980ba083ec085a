// FileJanitor: deferred deletion of files whose last reference went away.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "env.h"

namespace tidekv {

// Deletes data files that nothing needs any more (LSM tables, append-log
// segments and hint files). Owners enqueue their file when their last
// reference goes (on whatever thread that is, the JS thread
// included); a background thread or a checkpoint writer calls Drain, so an
// unlink never runs on the JS thread.
class FileJanitor {
 public:
  FileJanitor(Env* env, std::string dir) : env_(env), dir_(std::move(dir)) {}
  // Nothing is deleted before Start: recovery opens and drops tables while it
  // looks for a checkpoint that loads, and what it drops may be needed.
  void Start();
  void Enqueue(const std::string& name);
  // Deletes what was enqueued; returns how many files.
  uint64_t Drain();
  // From now on nothing is deleted: closing the engine drops every reference
  // without meaning "unused".
  void Shut();

 private:
  Env* env_;
  std::string dir_;
  std::mutex mu_;
  std::vector<std::string> queue_;
  bool open_ = false;
};

}  // namespace tidekv
