#include "testing.h"

#include <unistd.h>

#include <filesystem>

namespace tidekv::testing {

std::vector<TestCase>& Registry() {
  static std::vector<TestCase> tests;
  return tests;
}

int& FailureCount() {
  static int failures = 0;
  return failures;
}

void ReportFailure(const char* file, int line, const std::string& what) {
  ++FailureCount();
  std::cerr << "  FAILED " << file << ":" << line << ": " << what << "\n";
}

namespace {
struct TempDirHolder {
  std::string path;
  ~TempDirHolder() {
    if (!path.empty() && std::getenv("TIDEKV_KEEP_TEMP") == nullptr) {
      std::error_code ec;
      std::filesystem::remove_all(path, ec);
    }
  }
};
}  // namespace

const std::string& TempDir() {
  static TempDirHolder holder;
  if (holder.path.empty()) {
    std::string base = std::filesystem::temp_directory_path().string();
    holder.path = base + "/tidekv-native-test-" + std::to_string(getpid());
    std::filesystem::create_directories(holder.path);
  }
  return holder.path;
}

uint64_t TestSeed() {
  static const uint64_t seed = [] {
    const char* s = std::getenv("TIDEKV_TEST_SEED");
    return s ? std::strtoull(s, nullptr, 10) : uint64_t{20261122};
  }();
  return seed;
}

}  // namespace tidekv::testing
