// Status: the one result type of everything below the binding.
//
// Contract:
//   - OK costs one byte and no allocation; an error carries a code and a message
//     on the heap (errors are rare, so they may be slow).
//   - Codes are stable: native/binding maps them to the `code` strings of
//     TidekvError (lib/errors.ts). Never decide behaviour by matching messages.
//   - No exceptions anywhere in native/: every fallible call returns Status and
//     callers must look at it ([[nodiscard]]).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

namespace tidekv {

// Do not renumber: the binding and lib/errors.ts agree on these values.
enum class StatusCode : uint8_t {
  kOk = 0,
  kNotFound = 1,         // internal: a missing key or file; lookups report it as absence
  kInvalidArgument = 2,  // ERR_INVALID_ARG
  kCorruption = 3,       // ERR_CORRUPTION: a checksum or structure check failed
  kIoError = 4,          // ERR_IO: the OS refused (ENOSPC, EIO, permissions ...)
  kLocked = 5,           // ERR_LOCKED: another handle owns the directory
  kClosed = 6,           // ERR_CLOSED
  kVersionNotFound = 7,  // ERR_VERSION_NOT_FOUND
  kUnsupported = 8,      // ERR_UNSUPPORTED: the engine cannot do this
  kTypeMismatch = 9,     // ERR_TYPE_MISMATCH: e.g. increment on a value that is not an int64
  kOverflow = 10,        // ERR_OVERFLOW: an int64 counter would wrap
  kBusy = 11,            // ERR_BUSY: the operation conflicts with one in progress
  kLimit = 12,           // ERR_LIMIT: a documented limit was reached (e.g. address space)
};
inline constexpr int kStatusCodeCount = 13;

class [[nodiscard]] Status {
 public:
  Status() noexcept = default;
  Status(StatusCode code, std::string_view message)
      : code_(code), message_(code == StatusCode::kOk ? nullptr : new std::string(message)) {}

  Status(const Status& other) : code_(other.code_), message_(Clone(other)) {}
  Status& operator=(const Status& other) {
    if (this != &other) {
      code_ = other.code_;
      message_.reset(Clone(other));
    }
    return *this;
  }
  Status(Status&&) noexcept = default;
  Status& operator=(Status&&) noexcept = default;

  static Status OK() { return Status(); }
  static Status NotFound(std::string_view m) { return {StatusCode::kNotFound, m}; }
  static Status InvalidArgument(std::string_view m) { return {StatusCode::kInvalidArgument, m}; }
  static Status Corruption(std::string_view m) { return {StatusCode::kCorruption, m}; }
  static Status IoError(std::string_view m) { return {StatusCode::kIoError, m}; }
  static Status Locked(std::string_view m) { return {StatusCode::kLocked, m}; }
  static Status Closed(std::string_view m) { return {StatusCode::kClosed, m}; }
  static Status VersionNotFound(std::string_view m) { return {StatusCode::kVersionNotFound, m}; }
  static Status Unsupported(std::string_view m) { return {StatusCode::kUnsupported, m}; }
  static Status TypeMismatch(std::string_view m) { return {StatusCode::kTypeMismatch, m}; }
  static Status Overflow(std::string_view m) { return {StatusCode::kOverflow, m}; }
  static Status Busy(std::string_view m) { return {StatusCode::kBusy, m}; }
  static Status Limit(std::string_view m) { return {StatusCode::kLimit, m}; }
  // An I/O error from a failed system call: "<what> <path>: <strerror(errno)>".
  static Status FromErrno(int err, std::string_view what, std::string_view path);

  bool ok() const { return code_ == StatusCode::kOk; }
  bool IsNotFound() const { return code_ == StatusCode::kNotFound; }
  StatusCode code() const { return code_; }
  std::string_view message() const { return message_ ? std::string_view(*message_) : std::string_view(); }
  // "Corruption: <message>", for logs and test failures.
  std::string ToString() const;

 private:
  static std::string* Clone(const Status& s) {
    return s.message_ ? new std::string(*s.message_) : nullptr;
  }
  StatusCode code_ = StatusCode::kOk;
  std::unique_ptr<std::string> message_;
};

// Returns early from the enclosing function when `expr` is not OK.
#define TIDEKV_RETURN_IF_ERROR(expr)      \
  do {                                    \
    ::tidekv::Status _st = (expr);        \
    if (!_st.ok()) return _st;            \
  } while (0)

}  // namespace tidekv
