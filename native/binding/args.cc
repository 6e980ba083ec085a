#include "binding/args.h"

#include <cmath>

#include "common/limits.h"

namespace tidekv::binding {

namespace {
bool Fail(napi_env env, const std::string& message) {
  ThrowInvalidArgument(env, message);
  return false;
}
}  // namespace

bool ReadBytes(napi_env env, napi_value value, Scratch* scratch, size_t max_bytes, const ArgName& what, Slice* out) {
  napi_valuetype type;
  if (napi_typeof(env, value, &type) != napi_ok) return Fail(env, what.str() + " could not be read");
  if (type == napi_string) {
    // Try the scratch as it is; only when the string might not have fit do
    // we ask for its exact UTF-8 length (a second pass over the string). V8
    // stops before a character that does not fit whole, so "might not have
    // fit" is "within one 4-byte character of the end".
    size_t written = 0;
    napi_get_value_string_utf8(env, value, scratch->data(), scratch->capacity(), &written);
    if (written + 4 >= scratch->capacity()) {
      size_t needed = 0;
      napi_get_value_string_utf8(env, value, nullptr, 0, &needed);
      if (needed > max_bytes) {
        return Fail(env, what.str() + " of " + std::to_string(needed) + " bytes (UTF-8) exceeds the limit of " +
                             std::to_string(max_bytes));
      }
      scratch->Reserve(needed + 1);
      napi_get_value_string_utf8(env, value, scratch->data(), scratch->capacity(), &written);
    }
    if (written > max_bytes) {
      return Fail(env, what.str() + " of " + std::to_string(written) + " bytes (UTF-8) exceeds the limit of " +
                           std::to_string(max_bytes));
    }
    *out = Slice(scratch->data(), written);
    return true;
  }
  if (type == napi_object) {
    bool is_typed_array = false;
    napi_is_typedarray(env, value, &is_typed_array);
    if (is_typed_array) {
      napi_typedarray_type array_type;
      size_t length = 0;
      void* data = nullptr;
      napi_get_typedarray_info(env, value, &array_type, &length, &data, nullptr, nullptr);
      if (array_type == napi_uint8_array) {
        if (length > max_bytes) {
          return Fail(env, what.str() + " of " + std::to_string(length) + " bytes exceeds the limit of " +
                               std::to_string(max_bytes));
        }
        *out = Slice(length == 0 ? "" : static_cast<const char*>(data), length);
        return true;
      }
    }
  }
  return Fail(env, what.str() + " must be a string or a Uint8Array");
}

bool ReadKey(napi_env env, napi_value value, Scratch* scratch, Slice* out, const ArgName& what) {
  if (!ReadBytes(env, value, scratch, kMaxKeyBytes, what, out)) return false;
  if (out->empty()) return Fail(env, what.str() + " must not be empty");
  return true;
}

bool ReadInt64(napi_env env, napi_value value, const ArgName& what, int64_t* out) {
  napi_valuetype type;
  if (napi_typeof(env, value, &type) != napi_ok) return Fail(env, what.str() + " could not be read");
  if (type == napi_number) {
    double d = 0;
    napi_get_value_double(env, value, &d);
    constexpr double kMaxSafe = 9007199254740991.0;  // Number.MAX_SAFE_INTEGER
    if (!std::isfinite(d) || std::trunc(d) != d || std::fabs(d) > kMaxSafe) {
      return Fail(env, what.str() + " must be a safe integer or a bigint");
    }
    *out = static_cast<int64_t>(d);
    return true;
  }
  if (type == napi_bigint) {
    bool lossless = false;
    napi_get_value_bigint_int64(env, value, out, &lossless);
    if (!lossless) return Fail(env, what.str() + " is outside the int64 range");
    return true;
  }
  return Fail(env, what.str() + " must be a number or a bigint");
}

bool KeyList::Read(napi_env env, napi_value keys, size_t start, size_t count, size_t total, const char* what,
                   Scratch* scratch, bool* split_mismatch) {
  *split_mismatch = false;
  napi_valuetype type;
  napi_typeof(env, keys, &type);
  if (type == napi_string) return ReadJoined(env, keys, start, count, total, what, split_mismatch);

  // Array: fetch the element handles first, then read each key while the
  // string a few places ahead is being loaded into cache. Every key is copied
  // into the arena, Uint8Arrays too: fetching an element can run JS (a Proxy,
  // a getter) that could detach an earlier key's buffer.
  elements_.resize(count);
  for (size_t i = 0; i < count; ++i) napi_get_element(env, keys, static_cast<uint32_t>(start + i), &elements_[i]);
  arena_.clear();
  offsets_.resize(count);
  slices_.resize(count);
  for (size_t i = 0; i < count; ++i) {
    if (i + kJsPrefetchAhead < count) PrefetchJsValue(elements_[i + kJsPrefetchAhead]);
    Slice key;
    if (!ReadKey(env, elements_[i], scratch, &key, {what, static_cast<int64_t>(start + i)})) return false;
    offsets_[i] = arena_.size();
    arena_.append(key);
    slices_[i] = Slice(nullptr, key.size());
  }
  for (size_t i = 0; i < count; ++i) slices_[i] = Slice(arena_.data() + offsets_[i], slices_[i].size());
  return true;
}

bool KeyList::ReadJoined(napi_env env, napi_value keys, size_t start, size_t count, size_t total, const char* what,
                         bool* split_mismatch) {
  if (total == 0) {
    slices_.clear();
    return true;
  }
  size_t utf16_units = 0;
  napi_get_value_string_utf16(env, keys, nullptr, 0, &utf16_units);
  // A UTF-16 unit becomes at most 3 UTF-8 bytes (a surrogate pair, 2 units, becomes 4).
  arena_.resize(3 * utf16_units + 1);
  size_t bytes = 0;
  napi_get_value_string_utf8(env, keys, arena_.data(), arena_.size(), &bytes);
  // First make sure the string splits into exactly `total` keys: a key with
  // a NUL in it would shift every later key, so nothing may be judged (or
  // reported) before the count is known to be right.
  const char* const begin = arena_.data();
  const char* const end = begin + bytes;
  size_t separators = 0;
  for (const char* p = begin; (p = static_cast<const char*>(std::memchr(p, '\0', end - p))) != nullptr; ++p) {
    if (++separators >= total) break;
  }
  if (separators != total - 1) {
    *split_mismatch = true;
    return false;
  }
  slices_.resize(count);
  const char* p = begin;
  for (size_t i = 0; i < start + count; ++i) {
    const char* sep = static_cast<const char*>(std::memchr(p, '\0', end - p));
    const char* key_end = sep == nullptr ? end : sep;
    if (i >= start) {
      const size_t n = key_end - p;
      if (n == 0) return Fail(env, ArgName{what, static_cast<int64_t>(i)}.str() + " must not be empty");
      if (n > kMaxKeyBytes) {
        return Fail(env, ArgName{what, static_cast<int64_t>(i)}.str() + " of " + std::to_string(n) +
                             " bytes (UTF-8) exceeds the limit of " + std::to_string(kMaxKeyBytes));
      }
      slices_[i - start] = Slice(p, n);
    }
    p = key_end + 1;
  }
  return true;
}

bool ReadUint8Array(napi_env env, napi_value value, const char* what, uint8_t** data, size_t* length) {
  bool is_typed_array = false;
  napi_is_typedarray(env, value, &is_typed_array);
  if (is_typed_array) {
    napi_typedarray_type array_type;
    void* p = nullptr;
    napi_get_typedarray_info(env, value, &array_type, length, &p, nullptr, nullptr);
    if (array_type == napi_uint8_array) {
      *data = static_cast<uint8_t*>(p);
      return true;
    }
  }
  return Fail(env, std::string(what) + " must be a Uint8Array");
}

}  // namespace tidekv::binding
