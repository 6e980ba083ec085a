// Env helpers shared by every implementation.
#include "env.h"

namespace tidekv {

std::string JoinPath(const std::string& dir, const std::string& name) {
  if (dir.empty()) return name;
  if (dir.back() == '/') return dir + name;
  return dir + "/" + name;
}

Status ReadFileToString(Env* env, const std::string& path, std::string* contents) {
  contents->clear();
  std::unique_ptr<File> file;
  TIDEKV_RETURN_IF_ERROR(env->OpenFile(path, OpenMode::kReadOnly, &file));
  uint64_t size = 0;
  TIDEKV_RETURN_IF_ERROR(file->Size(&size));
  contents->resize(size);
  size_t got = 0;
  TIDEKV_RETURN_IF_ERROR(file->ReadAt(0, size, contents->data(), &got));
  contents->resize(got);  // the file may have shrunk since Size
  return Status::OK();
}

Status WriteFileAtomic(Env* env, const std::string& dir, const std::string& name, Slice contents) {
  const std::string path = JoinPath(dir, name);
  const std::string tmp = path + ".tmp";
  Status s = [&] {
    std::unique_ptr<File> file;
    TIDEKV_RETURN_IF_ERROR(env->OpenFile(tmp, OpenMode::kCreateTruncate, &file));
    TIDEKV_RETURN_IF_ERROR(file->WriteAt(0, contents));
    // The data must be durable before the rename can be: otherwise a crash
    // could leave `path` naming a file whose bytes never reached the disk.
    TIDEKV_RETURN_IF_ERROR(file->Sync());
    file.reset();
    return env->RenameFile(tmp, path);
  }();
  if (!s.ok()) {
    (void)env->DeleteFile(tmp);  // best effort: the first error is the one to report
    return s;
  }
  return env->SyncDir(dir.empty() ? "." : dir);
}

}  // namespace tidekv
