#include "engine.h"

namespace tidekv {

Status Engine::Get(Slice key, std::string* value) {
  value->resize(value->capacity() > 0 ? value->capacity() : 64);
  for (;;) {
    size_t n = 0;
    Status s = Get(key, value->data(), value->size(), &n);
    if (s.ok() && n > value->size()) {  // grew since the size was read: try again
      value->resize(n);
      continue;
    }
    value->resize(s.ok() ? n : 0);
    return s;
  }
}

}  // namespace tidekv
