// PromiseWorker: background work (open, compact, close) that settles a Promise.
//
// Settling must never throw. When a worker thread is terminated with the work
// in flight, its environment tears down: JS can no longer run, every N-API
// call that might run JS fails, and node-addon-api turns such a failure into
// a fatal error. So this class settles with raw N-API calls and ignores their
// failure: during teardown the Promise is dropped, and the work's resources
// are released by the destructors as usual (an opened engine is closed).
#pragma once

#include <napi.h>

#include "common/status.h"

namespace tidekv::binding {

// The TidekvError for status, or nullptr when it cannot be made (teardown).
napi_value MakeError(napi_env env, const Status& status);

class PromiseWorker : public Napi::AsyncWorker {
 public:
  explicit PromiseWorker(Napi::Env env) : Napi::AsyncWorker(env, "tidekv") {
    napi_create_promise(env, &deferred_, &promise_);
  }
  // REQUIRES: called in the HandleScope that constructed this worker.
  napi_value Promise() const { return promise_; }

 protected:
  // On the JS thread after Execute succeeded: the value to resolve with, or
  // nullptr (it may set status_ to reject instead). Raw N-API only.
  virtual napi_value Result(napi_env env) {
    napi_value undefined;
    napi_get_undefined(env, &undefined);
    return undefined;
  }
  Status status_;

 private:
  void OnOK() final {
    napi_env env = Env();
    if (status_.ok()) {
      if (napi_value value = Result(env); value != nullptr && status_.ok()) {
        napi_resolve_deferred(env, deferred_, value);
        return;
      }
      if (status_.ok()) return;  // nothing could be made: teardown
    }
    if (napi_value error = MakeError(env, status_); error != nullptr) napi_reject_deferred(env, deferred_, error);
  }
  void OnError(const Napi::Error&) final { OnOK(); }  // SetError is never used

  napi_deferred deferred_ = nullptr;
  napi_value promise_ = nullptr;
};

// Sets a named number property with raw N-API (no throw on failure).
inline void SetNumber(napi_env env, napi_value object, const char* name, double value) {
  napi_value v;
  if (napi_create_double(env, value, &v) == napi_ok) napi_set_named_property(env, object, name, v);
}

}  // namespace tidekv::binding
