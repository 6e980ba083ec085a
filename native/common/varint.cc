#include "varint.h"

namespace tidekv {

char* EncodeVarint64(char* dst, uint64_t v) {
  uint8_t* p = reinterpret_cast<uint8_t*>(dst);
  while (v >= 0x80) {
    *p++ = static_cast<uint8_t>(v | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<uint8_t>(v);
  return reinterpret_cast<char*>(p);
}

char* EncodeVarint32(char* dst, uint32_t v) { return EncodeVarint64(dst, v); }

void PutVarint32(std::string* dst, uint32_t v) {
  char buf[kMaxVarint32Bytes];
  dst->append(buf, EncodeVarint32(buf, v) - buf);
}

void PutVarint64(std::string* dst, uint64_t v) {
  char buf[kMaxVarint64Bytes];
  dst->append(buf, EncodeVarint64(buf, v) - buf);
}

int VarintLength(uint64_t v) {
  int n = 1;
  for (; v >= 0x80; v >>= 7) ++n;
  return n;
}

namespace {
// Decodes at most max_bytes bytes. The last allowed byte may only carry the
// bits that still fit in `bits`: a value that would overflow is corruption,
// not something to truncate silently.
const char* DecodeVarint(const char* p, const char* limit, int max_bytes, int bits, uint64_t* v) {
  uint64_t result = 0;
  for (int i = 0; i < max_bytes && p < limit; ++i) {
    const uint64_t byte = static_cast<uint8_t>(*p++);
    const int shift = 7 * i;
    if (i == max_bytes - 1 && (byte >> (bits - shift)) != 0) return nullptr;  // overflow or over-long
    result |= (byte & 0x7F) << shift;
    if ((byte & 0x80) == 0) {
      *v = result;
      return p;
    }
  }
  return nullptr;  // truncated, or more than max_bytes bytes
}
}  // namespace

const char* DecodeVarint32(const char* p, const char* limit, uint32_t* v) {
  uint64_t result;
  const char* end = DecodeVarint(p, limit, kMaxVarint32Bytes, 32, &result);
  if (end != nullptr) *v = static_cast<uint32_t>(result);
  return end;
}

const char* DecodeVarint64(const char* p, const char* limit, uint64_t* v) {
  return DecodeVarint(p, limit, kMaxVarint64Bytes, 64, v);
}

}  // namespace tidekv
