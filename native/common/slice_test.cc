#include "common/slice.h"

#include <random>
#include <string>

#include "common/testing.h"

namespace tidekv {
namespace {

int Sign(int v) { return (v > 0) - (v < 0); }

// CompareKeys must give exactly std::string_view's order (memcmp, then the
// shorter first) for every pair: tables written in one order and searched in
// another would lose keys.
TEST(Slice, CompareKeysIsTheBytewiseOrder) {
  std::mt19937_64 rng(testing::TestSeed() + 7);
  // Few distinct bytes (including 0x00, 0x7f, 0x80 and 0xff, where signed and
  // unsigned chars disagree) and shared prefixes, so that many pairs are equal
  // up to a word boundary or one is a prefix of the other.
  const char bytes[] = {'\0', 'a', '\x7f', '\x80', '\xff'};
  std::string prefix;
  for (int i = 0; i < 200000; ++i) {
    if (i % 100 == 0) prefix.assign(rng() % 20, static_cast<char>(bytes[rng() % 5]));
    auto make = [&] {
      std::string s = prefix.substr(0, rng() % (prefix.size() + 1));
      const size_t n = rng() % 20;
      for (size_t j = 0; j < n; ++j) s.push_back(bytes[rng() % 5]);
      return s;
    };
    const std::string a = make(), b = i % 10 == 0 ? a : make();
    ASSERT_EQ(Sign(CompareKeys(a, b)), Sign(Slice(a).compare(Slice(b))));
    ASSERT_EQ(KeyLess(a, b), Slice(a) < Slice(b));
  }
  EXPECT_EQ(CompareKeys("", ""), 0);
  EXPECT_TRUE(KeyLess("", Slice("\0", 1)));
  EXPECT_TRUE(KeyLess("user00000000", "user000000001"));
  EXPECT_TRUE(KeyLess("abcdefgh\x01", "abcdefgh\xfe"));
}

}  // namespace
}  // namespace tidekv
