// A minimal unit-test harness for the native tests (no third-party framework:
// the tests must build anywhere node-gyp builds, and under sanitizers).
//
//   TEST(Crc32c, KnownVectors) { EXPECT_EQ(crc32c::Value("", 0), 0u); }
//
// EXPECT_* records a failure and continues; ASSERT_* returns from the test.
// native/test_main.cc runs every registered test, or those whose
// "Suite.Name" contains argv[1]. Exit code 1 when any test failed.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "status.h"

namespace tidekv::testing {

struct TestCase {
  const char* suite;
  const char* name;
  void (*fn)();
};

std::vector<TestCase>& Registry();
void ReportFailure(const char* file, int line, const std::string& what);
// A scratch directory unique to this test process, created on first use and
// removed at exit (POSIX tests).
const std::string& TempDir();
// Seed for randomized tests: $TIDEKV_TEST_SEED or a fixed default. Printed by the runner.
uint64_t TestSeed();
// A small, fast PRNG for tests (splitmix64): the next value of *state.
inline uint64_t SplitMix(uint64_t* state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

struct Registrar {
  Registrar(const char* suite, const char* name, void (*fn)()) { Registry().push_back({suite, name, fn}); }
};

// Prints a value for a failure message: numbers (chars as numbers), enums as
// their number, pointers as addresses, byte strings quoted with escapes (long
// ones cut), anything else via operator<< when it has one.
template <typename T>
std::string Show(const T& v) {
  std::ostringstream os;
  if constexpr (std::is_enum_v<T>) {
    os << +static_cast<std::underlying_type_t<T>>(v);
  } else if constexpr (std::is_pointer_v<T> || std::is_null_pointer_v<T>) {
    os << static_cast<const void*>(v);  // == compared addresses; a char* may not be a string
  } else if constexpr (std::is_convertible_v<const T&, std::string_view>) {
    const std::string_view s(v);
    os << '"';
    for (size_t i = 0; i < s.size() && i < 200; ++i) {
      const unsigned char c = static_cast<unsigned char>(s[i]);
      if (c >= 0x20 && c < 0x7F && c != '"' && c != '\\') {
        os << c;
      } else {
        static const char kHex[] = "0123456789abcdef";
        os << "\\x" << kHex[c >> 4] << kHex[c & 15];
      }
    }
    os << '"';
    if (s.size() > 200) os << "... (" << s.size() << " bytes)";
  } else if constexpr (std::is_arithmetic_v<T>) {
    os << +v;
  } else if constexpr (requires(std::ostream& o) { o << v; }) {
    os << v;
  } else {
    os << "<unprintable>";
  }
  return os.str();
}

template <typename A, typename B>
std::string Describe(const char* ea, const char* eb, const A& a, const B& b) {
  return std::string(ea) + " == " + eb + " (" + Show(a) + " vs " + Show(b) + ")";
}

}  // namespace tidekv::testing

#define TIDEKV_TEST_CONCAT_(a, b) a##b
#define TIDEKV_TEST_CONCAT(a, b) TIDEKV_TEST_CONCAT_(a, b)

#define TEST(suite, name)                                                               \
  static void TIDEKV_TEST_CONCAT(Test_##suite##_, name)();                              \
  static ::tidekv::testing::Registrar TIDEKV_TEST_CONCAT(registrar_##suite##_, name)(   \
      #suite, #name, &TIDEKV_TEST_CONCAT(Test_##suite##_, name));                       \
  static void TIDEKV_TEST_CONCAT(Test_##suite##_, name)()

#define EXPECT_TRUE(cond) \
  do { if (!(cond)) ::tidekv::testing::ReportFailure(__FILE__, __LINE__, "expected true: " #cond); } while (0)
#define EXPECT_FALSE(cond) \
  do { if (cond) ::tidekv::testing::ReportFailure(__FILE__, __LINE__, "expected false: " #cond); } while (0)
#define ASSERT_TRUE(cond) \
  do { if (!(cond)) { ::tidekv::testing::ReportFailure(__FILE__, __LINE__, "expected true: " #cond); return; } } while (0)
#define ASSERT_FALSE(cond) \
  do { if (cond) { ::tidekv::testing::ReportFailure(__FILE__, __LINE__, "expected false: " #cond); return; } } while (0)
#define EXPECT_EQ(a, b)                                                                              \
  do {                                                                                               \
    const auto& _a = (a);                                                                            \
    const auto& _b = (b);                                                                            \
    if (!(_a == _b)) ::tidekv::testing::ReportFailure(__FILE__, __LINE__, ::tidekv::testing::Describe(#a, #b, _a, _b)); \
  } while (0)
#define ASSERT_EQ(a, b)                                                                              \
  do {                                                                                               \
    const auto& _a = (a);                                                                            \
    const auto& _b = (b);                                                                            \
    if (!(_a == _b)) { ::tidekv::testing::ReportFailure(__FILE__, __LINE__, ::tidekv::testing::Describe(#a, #b, _a, _b)); return; } \
  } while (0)
#define EXPECT_OK(expr)                                                                                  \
  do {                                                                                                   \
    ::tidekv::Status _s = (expr);                                                                        \
    if (!_s.ok()) ::tidekv::testing::ReportFailure(__FILE__, __LINE__, std::string(#expr " -> ") + _s.ToString()); \
  } while (0)
#define ASSERT_OK(expr)                                                                                  \
  do {                                                                                                   \
    ::tidekv::Status _s = (expr);                                                                        \
    if (!_s.ok()) { ::tidekv::testing::ReportFailure(__FILE__, __LINE__, std::string(#expr " -> ") + _s.ToString()); return; } \
  } while (0)
// Expects a failed Status with the given StatusCode enumerator (e.g. kCorruption).
#define EXPECT_STATUS(expr, code_name)                                                                   \
  do {                                                                                                   \
    ::tidekv::Status _s = (expr);                                                                        \
    if (_s.code() != ::tidekv::StatusCode::code_name)                                                    \
      ::tidekv::testing::ReportFailure(__FILE__, __LINE__, std::string(#expr " -> ") + _s.ToString() + ", expected " #code_name); \
  } while (0)
