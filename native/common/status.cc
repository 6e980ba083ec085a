#include "status.h"

#include <cstring>

namespace tidekv {

namespace {
const char* CodeName(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return "OK";
    case StatusCode::kNotFound: return "NotFound";
    case StatusCode::kInvalidArgument: return "InvalidArgument";
    case StatusCode::kCorruption: return "Corruption";
    case StatusCode::kIoError: return "IoError";
    case StatusCode::kLocked: return "Locked";
    case StatusCode::kClosed: return "Closed";
    case StatusCode::kVersionNotFound: return "VersionNotFound";
    case StatusCode::kUnsupported: return "Unsupported";
    case StatusCode::kTypeMismatch: return "TypeMismatch";
    case StatusCode::kOverflow: return "Overflow";
    case StatusCode::kBusy: return "Busy";
    case StatusCode::kLimit: return "Limit";
  }
  return "Unknown";
}
}  // namespace

Status Status::FromErrno(int err, std::string_view what, std::string_view path) {
  std::string msg;
  msg.append(what).append(" ").append(path).append(": ").append(std::strerror(err));
  return Status(StatusCode::kIoError, msg);
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string s = CodeName(code_);
  s.append(": ").append(message());
  return s;
}

}  // namespace tidekv
