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
