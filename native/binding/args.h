// Reading JS arguments without allocating: keys and values arrive as strings
// (UTF-8 encoded into scratch memory) or Uint8Arrays (used in place, valid
// for the synchronous call only).
//
// Every helper returns false after throwing a TidekvError (ERR_INVALID_ARG)
// whose message names the argument; the caller returns at once.
#pragma once

#include <node_api.h>

#include <cstdint>
#include <string>

#include "common/slice.h"
#include "common/status.h"

namespace tidekv::binding {

// Growable scratch memory for string arguments. One per argument position
// that must stay valid at the same time (key and value of a put).
class Scratch {
 public:
  char* data() { return buf_.data(); }
  size_t capacity() const { return buf_.size(); }
  void Reserve(size_t n) {
    if (buf_.size() < n) buf_.resize(n);
  }

 private:
  std::string buf_ = std::string(1024, '\0');
};

// Throws the TidekvError for status (see addon.cc). REQUIRES: !status.ok().
void ThrowStatus(napi_env env, const Status& status);
inline void ThrowInvalidArgument(napi_env env, const std::string& message) {
  ThrowStatus(env, Status::InvalidArgument(message));
}

// Names an argument in error messages: "key", or "keys[3]" for an element.
// The text is only built when an error is thrown.
struct ArgName {
  const char* name;
  int64_t index = -1;
  const char* suffix = "";  // "ops[3].key"
  std::string str() const {
    return index < 0 ? name : std::string(name) + "[" + std::to_string(index) + "]" + suffix;
  }
};

// A string or Uint8Array of at most max_bytes bytes.
bool ReadBytes(napi_env env, napi_value value, Scratch* scratch, size_t max_bytes, const ArgName& what, Slice* out);
// A key: ReadBytes with 1 <= size <= kMaxKeyBytes.
bool ReadKey(napi_env env, napi_value value, Scratch* scratch, Slice* out, const ArgName& what = {"key"});
// An int64 delta: a safe-integer number or a bigint within int64.
bool ReadInt64(napi_env env, napi_value value, const ArgName& what, int64_t* out);
// A Uint8Array argument (no strings), e.g. an output buffer.
bool ReadUint8Array(napi_env env, napi_value value, const char* what, uint8_t** data, size_t* length);

}  // namespace tidekv::binding
