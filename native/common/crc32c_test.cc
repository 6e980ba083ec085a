#include "common/crc32c.h"

#include <random>
#include <string>
#include <vector>

#include "common/testing.h"

namespace tidekv {
namespace {

// Both paths, so every vector checks the portable code even on SSE4.2 hosts.
void ExpectCrc(const std::string& data, uint32_t expected) {
  EXPECT_EQ(crc32c::Value(data.data(), data.size()), expected);
  EXPECT_EQ(crc32c::ExtendPortable(0, data.data(), data.size()), expected);
}

TEST(Crc32c, PublishedVectors) {
  ExpectCrc("", 0u);
  ExpectCrc("123456789", 0xE3069283u);
  ExpectCrc(std::string(32, '\0'), 0x8A9136AAu);
  ExpectCrc(std::string(32, '\xFF'), 0x62A8AB43u);
  std::string ascending, descending;
  for (int i = 0; i < 32; ++i) {
    ascending.push_back(static_cast<char>(i));
    descending.push_back(static_cast<char>(31 - i));
  }
  ExpectCrc(ascending, 0x46DD794Eu);
  ExpectCrc(descending, 0x113FDB5Cu);
}

TEST(Crc32c, ReportsPath) {
  std::cout << "  crc32c hardware acceleration: " << (crc32c::IsHardwareAccelerated() ? "yes" : "no") << "\n";
}

TEST(Crc32c, ExtendComposes) {
  std::mt19937_64 rng(testing::TestSeed());
  std::string data(20000, '\0');
  for (char& c : data) c = static_cast<char>(rng());
  const uint32_t whole = crc32c::Value(data.data(), data.size());
  for (size_t split : {size_t{0}, size_t{1}, size_t{7}, size_t{8}, size_t{100}, size_t{6143}, size_t{6144},
                       size_t{13000}, data.size()}) {
    const uint32_t head = crc32c::Value(data.data(), split);
    EXPECT_EQ(crc32c::Extend(head, data.data() + split, data.size() - split), whole);
    EXPECT_EQ(crc32c::ExtendPortable(crc32c::ExtendPortable(0, data.data(), split), data.data() + split,
                                     data.size() - split),
              whole);
  }
}

TEST(Crc32c, HardwareMatchesPortable) {
  std::mt19937_64 rng(testing::TestSeed() + 1);
  std::vector<char> buffer(4096 + 64 + 20000);
  for (char& c : buffer) c = static_cast<char>(rng());
  // Every length up to 4096 at a random misalignment, with a random seed CRC.
  for (size_t n = 0; n <= 4096; ++n) {
    const size_t offset = rng() % 64;
    const uint32_t seed = static_cast<uint32_t>(rng());
    const char* p = buffer.data() + offset;
    ASSERT_EQ(crc32c::Extend(seed, p, n), crc32c::ExtendPortable(seed, p, n));
  }
  // Long buffers cross the 3-way block boundaries (6144 and 768 bytes).
  for (size_t n : {6143, 6144, 6145, 6144 + 768, 6144 + 767, 12288 + 800 + 13, 20000}) {
    for (size_t offset = 0; offset < 9; ++offset) {
      const char* p = buffer.data() + offset;
      ASSERT_EQ(crc32c::Value(p, n), crc32c::ExtendPortable(0, p, n));
    }
  }
}

TEST(Crc32c, DetectsSingleBitFlips) {
  std::string data(1000, 'x');
  const uint32_t original = crc32c::Value(data.data(), data.size());
  for (size_t bit = 0; bit < data.size() * 8; bit += 13) {
    data[bit / 8] ^= static_cast<char>(1 << (bit % 8));
    EXPECT_TRUE(crc32c::Value(data.data(), data.size()) != original);
    data[bit / 8] ^= static_cast<char>(1 << (bit % 8));
  }
}

}  // namespace
}  // namespace tidekv
