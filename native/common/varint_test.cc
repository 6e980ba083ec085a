#include "common/varint.h"

#include <memory>
#include <string>

#include "common/testing.h"

namespace tidekv {
namespace {

constexpr uint64_t kValues64[] = {0,
                                  1,
                                  127,
                                  128,
                                  (1u << 14) - 1,
                                  1u << 14,
                                  (1u << 21) - 1,
                                  1u << 21,
                                  UINT32_MAX - 1,
                                  UINT32_MAX,
                                  uint64_t{UINT32_MAX} + 1,
                                  uint64_t{1} << 56,
                                  (uint64_t{1} << 63) - 1,
                                  uint64_t{1} << 63,
                                  UINT64_MAX};

// Copies bytes to the heap, exactly sized, so ASan catches any read past the end.
std::unique_ptr<char[]> Exact(const std::string& s) {
  auto p = std::make_unique<char[]>(s.size());  // new char[0] is a valid, unreadable allocation
  s.copy(p.get(), s.size());
  return p;
}

TEST(Varint, RoundTrip64) {
  for (uint64_t v : kValues64) {
    std::string buf;
    PutVarint64(&buf, v);
    EXPECT_EQ(buf.size(), static_cast<size_t>(VarintLength(v)));
    auto p = Exact(buf);
    uint64_t got = 0;
    const char* end = DecodeVarint64(p.get(), p.get() + buf.size(), &got);
    ASSERT_TRUE(end == p.get() + buf.size());
    EXPECT_EQ(got, v);
  }
}

TEST(Varint, RoundTrip32) {
  for (uint64_t v64 : kValues64) {
    if (v64 > UINT32_MAX) continue;
    const uint32_t v = static_cast<uint32_t>(v64);
    char buf[kMaxVarint32Bytes];
    const char* end = EncodeVarint32(buf, v);
    EXPECT_EQ(end - buf, static_cast<std::ptrdiff_t>(VarintLength(v)));
    uint32_t got = 0;
    EXPECT_TRUE(DecodeVarint32(buf, end, &got) == end);
    EXPECT_EQ(got, v);
  }
}

TEST(Varint, Lengths) {
  EXPECT_EQ(VarintLength(0), 1);
  EXPECT_EQ(VarintLength(127), 1);
  EXPECT_EQ(VarintLength(128), 2);
  EXPECT_EQ(VarintLength((1u << 14) - 1), 2);
  EXPECT_EQ(VarintLength(1u << 14), 3);
  EXPECT_EQ(VarintLength(UINT32_MAX), kMaxVarint32Bytes);
  EXPECT_EQ(VarintLength(uint64_t{1} << 63), kMaxVarint64Bytes);
  EXPECT_EQ(VarintLength(UINT64_MAX), kMaxVarint64Bytes);
}

TEST(Varint, Sequence) {
  std::string buf;
  for (uint64_t v : kValues64) PutVarint64(&buf, v);
  PutVarint32(&buf, 300);
  const char* p = buf.data();
  const char* limit = buf.data() + buf.size();
  for (uint64_t v : kValues64) {
    uint64_t got = 0;
    p = DecodeVarint64(p, limit, &got);
    ASSERT_TRUE(p != nullptr);
    EXPECT_EQ(got, v);
  }
  uint32_t got32 = 0;
  p = DecodeVarint32(p, limit, &got32);
  ASSERT_TRUE(p == limit);
  EXPECT_EQ(got32, 300u);
}

TEST(Varint, TruncatedInputFails) {
  for (uint64_t v : kValues64) {
    std::string buf;
    PutVarint64(&buf, v);
    for (size_t n = 0; n < buf.size(); ++n) {
      auto p = Exact(buf.substr(0, n));
      uint64_t got = 0;
      EXPECT_TRUE(DecodeVarint64(p.get(), p.get() + n, &got) == nullptr);
      uint32_t got32 = 0;
      EXPECT_TRUE(DecodeVarint32(p.get(), p.get() + n, &got32) == nullptr);
    }
  }
}

TEST(Varint, OverlongInputFails) {
  // Continuation bits past the maximum length.
  const std::string long64(kMaxVarint64Bytes + 1, '\x80');
  uint64_t v64 = 0;
  EXPECT_TRUE(DecodeVarint64(long64.data(), long64.data() + long64.size(), &v64) == nullptr);
  std::string eleven(kMaxVarint64Bytes, '\x80');
  eleven.push_back('\x01');
  EXPECT_TRUE(DecodeVarint64(eleven.data(), eleven.data() + eleven.size(), &v64) == nullptr);
  std::string six(kMaxVarint32Bytes, '\x80');
  six.push_back('\x01');
  uint32_t v32 = 0;
  EXPECT_TRUE(DecodeVarint32(six.data(), six.data() + six.size(), &v32) == nullptr);
  // Values that do not fit: a 33rd bit, a 65th bit.
  const std::string big32 = "\xFF\xFF\xFF\xFF\x1F";
  EXPECT_TRUE(DecodeVarint32(big32.data(), big32.data() + big32.size(), &v32) == nullptr);
  const std::string max32 = "\xFF\xFF\xFF\xFF\x0F";
  EXPECT_TRUE(DecodeVarint32(max32.data(), max32.data() + max32.size(), &v32) != nullptr);
  EXPECT_EQ(v32, UINT32_MAX);
  std::string big64(kMaxVarint64Bytes - 1, '\xFF');
  big64.push_back('\x02');
  EXPECT_TRUE(DecodeVarint64(big64.data(), big64.data() + big64.size(), &v64) == nullptr);
  // A 64-bit encoding is rejected by the 32-bit decoder.
  std::string as64;
  PutVarint64(&as64, uint64_t{1} << 40);
  EXPECT_TRUE(DecodeVarint32(as64.data(), as64.data() + as64.size(), &v32) == nullptr);
}

TEST(Varint, NeverReadsPastLimit) {
  // Bytes past the limit would continue the varint; the decoder must stop at limit.
  const std::string buf = "\x80\x80\x80\x01";
  for (size_t n = 0; n < buf.size(); ++n) {
    auto p = Exact(buf.substr(0, n));
    uint64_t v = 0;
    EXPECT_TRUE(DecodeVarint64(p.get(), p.get() + n, &v) == nullptr);
  }
  uint64_t v = 0;
  EXPECT_TRUE(DecodeVarint64(buf.data(), buf.data(), &v) == nullptr);
}

}  // namespace
}  // namespace tidekv
