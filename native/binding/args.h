// Reading JS arguments without allocating: keys and values arrive as strings
// (UTF-8 encoded into scratch memory) or Uint8Arrays (used in place, valid
// for the synchronous call only).
//
// Every helper returns false after throwing a TidekvError (ERR_INVALID_ARG)
// whose message names the argument; the caller returns at once.
#pragma once

#include <node_api.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

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
// Starts loading the JS object behind v into cache. Batched calls read one
// key string after another from random places in the V8 heap; touching them a
// few keys ahead overlaps those misses.
//
// This relies on how Node represents a napi_value: a pointer to a handle slot
// that holds the tagged object address (low bit set). Under any other
// representation it prefetches a meaningless address, which is harmless (a
// prefetch never faults); it never changes what the call computes.
inline void PrefetchJsValue(napi_value v) {
  uintptr_t tagged;
  std::memcpy(&tagged, reinterpret_cast<const void*>(v), sizeof tagged);
  __builtin_prefetch(reinterpret_cast<const void*>(tagged & ~uintptr_t{1}));
}
inline constexpr size_t kJsPrefetchAhead = 8;

// An int64 delta: a safe-integer number or a bigint within int64.
bool ReadInt64(napi_env env, napi_value value, const ArgName& what, int64_t* out);
// The keys of a batched call, read in one of two shapes (one KeyList per
// call: reading an array can run JS that re-enters the store):
//   - an array of strings / Uint8Arrays (one N-API call per key);
//   - one string of `total` keys joined by '\0' (lib/store.ts sends this when
//     every key is a string): one conversion for the whole batch. If the
//     string does not split into exactly `total` keys, some key contained a
//     NUL: Read reports `split_mismatch` and the caller falls back to arrays.
class KeyList {
 public:
  // Reads keys [start, start + count). False after throwing (or on mismatch,
  // with *split_mismatch set and nothing thrown).
  bool Read(napi_env env, napi_value keys, size_t start, size_t count, size_t total, const char* what,
            Scratch* scratch, bool* split_mismatch);
  const Slice* data() const { return slices_.data(); }
  size_t size() const { return slices_.size(); }

 private:
  bool ReadJoined(napi_env env, napi_value keys, size_t start, size_t count, size_t total, const char* what,
                  bool* split_mismatch);
  std::string arena_;
  std::vector<Slice> slices_;
  std::vector<napi_value> elements_;
  std::vector<size_t> offsets_;  // of array keys in arena_
};

// A Uint8Array argument (no strings), e.g. an output buffer.
bool ReadUint8Array(napi_env env, napi_value value, const char* what, uint8_t** data, size_t* length);

}  // namespace tidekv::binding
