#include "file_janitor.h"

namespace tidekv {

void FileJanitor::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  open_ = true;
}

void FileJanitor::Enqueue(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  if (open_) queue_.push_back(name);
}

uint64_t FileJanitor::Drain() {
  std::vector<std::string> names;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!open_) return 0;
    names.swap(queue_);
  }
  // A failed unlink leaves an orphan, which the next open deletes.
  for (const std::string& name : names) (void)env_->DeleteFile(JoinPath(dir_, name));
  return names.size();
}

void FileJanitor::Shut() {
  std::lock_guard<std::mutex> lock(mu_);
  open_ = false;
  queue_.clear();
}

}  // namespace tidekv
