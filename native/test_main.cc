// Runs the native unit tests: all of them, or those whose "Suite.Name"
// contains argv[1].
#include <chrono>
#include <cstring>
#include <iostream>

#include "common/testing.h"

namespace tidekv::testing {
int& FailureCount();
}

int main(int argc, char** argv) {
  using namespace tidekv::testing;
  const char* filter = argc > 1 ? argv[1] : nullptr;
  int ran = 0, failed_tests = 0;
  std::cout << "native tests, seed " << TestSeed() << " (set TIDEKV_TEST_SEED to change)\n";
  for (const TestCase& t : Registry()) {
    std::string full = std::string(t.suite) + "." + t.name;
    if (filter && full.find(filter) == std::string::npos) continue;
    const int before = FailureCount();
    const auto start = std::chrono::steady_clock::now();
    t.fn();
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
    ++ran;
    if (FailureCount() != before) {
      ++failed_tests;
      std::cout << "FAIL " << full << " (" << ms << " ms)\n";
    } else {
      std::cout << "ok   " << full << " (" << ms << " ms)\n";
    }
  }
  std::cout << ran << " tests, " << failed_tests << " failed\n";
  return failed_tests == 0 && ran > 0 ? 0 : 1;
}
