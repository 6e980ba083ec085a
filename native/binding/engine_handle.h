// EngineHandle: the JS object behind a tidekv store. Marshalling only: it
// turns JS arguments into Slices, calls the Engine and turns Status into a
// TidekvError. No storage logic lives here.
//
// Lifecycle (each path is tested in test/lifecycle.test.ts):
//   - close(): sync calls throw ERR_CLOSED at once; the engine closes on a
//     worker thread; the Promise settles when it has.
//   - compact(): runs on a worker thread; the worker holds the engine (a
//     shared_ptr) and a reference to this object, so neither GC nor close()
//     can free the engine under it (close() waits for it inside the engine).
//   - GC of an unclosed handle: the engine is closed on a detached thread so
//     the finalizer never blocks the JS thread.
//   - Environment teardown (worker_threads terminate, process exit): a cleanup
//     hook closes the engine synchronously so the directory lock is released.
//   - Range cursors (rangeOpen) are Externals JS holds; each owns its
//     RangeCursor and a shared_ptr to the engine, so its view outlives
//     anything but the store: close(), GC of the handle and teardown first
//     release every live cursor (on the JS thread), then close the engine,
//     so an engine never closes under a cursor. rangeClose() and GC of the
//     External release one cursor.
//
// Hot path. napi_unwrap costs more than a whole lookup (it is a private
// property lookup in V8), so the point operations are not ObjectWrap methods:
// they are functions created per store whose callback data is the StoreCore,
// installed as own properties of the handle object. Each function holds a
// reference on the core (released by its finalizer), so the core outlives
// any function that can still be called.
#pragma once

#include <napi.h>

#include <memory>
#include <string>
#include <unordered_set>

#include "binding/args.h"
#include "common/engine.h"

namespace tidekv::binding {

struct StoreCore;

// A range scan in progress: what rangeOpen's External points to. JS thread only.
struct CursorHolder {
  std::shared_ptr<StoreCore> core;     // the store it came from (its registry outlives this)
  std::shared_ptr<Engine> engine;      // null once released
  std::unique_ptr<RangeCursor> cursor; // null once released (exhausted, closed, or the store closed)
  // An entry the cursor delivered that did not fit the caller's buffer,
  // already packed (rangeNext's format); the next rangeNext starts with it.
  std::string pending;
  // Frees the cursor (and with it the view's files and memory) before
  // dropping the engine reference; a pending entry stays readable.
  void ReleaseView() {
    cursor.reset();
    engine.reset();
  }
  // ReleaseView, and forget the pending entry too. Idempotent.
  void Release() {
    ReleaseView();
    std::string().swap(pending);
  }
};

// What the handle and its hot-path functions share. Used on the JS thread only.
struct StoreCore {
  explicit StoreCore(napi_env e) : env(e) {}
  ~StoreCore();
  std::shared_ptr<Engine> engine;  // null once closed
  napi_env env;
  Scratch key_scratch;
  Scratch value_scratch;
  // get() copies each value into this buffer at out_cursor and moves the
  // cursor past it (8-byte aligned); JS owns the buffer (kept alive by
  // out_ref), advances its own copy of the cursor the same way and hands out
  // a view of the bytes. setOutput() installs a fresh buffer, cursor 0.
  napi_ref out_ref = nullptr;
  uint8_t* out_data = nullptr;
  size_t out_bytes = 0;
  size_t out_cursor = 0;
  // Cursors not yet freed (a holder removes itself when its External is
  // finalized). ReleaseCursors() runs before the engine is closed.
  std::unordered_set<CursorHolder*> cursors;
  void ReleaseCursors() {
    for (CursorHolder* holder : cursors) holder->Release();
  }
};

class EngineHandle : public Napi::ObjectWrap<EngineHandle> {
 public:
  static Napi::Function Define(Napi::Env env);
  // info[0]: Napi::External<std::shared_ptr<Engine>> (from open()).
  explicit EngineHandle(const Napi::CallbackInfo& info);
  ~EngineHandle() override;

 private:
  // The engine, or nullptr after throwing ERR_CLOSED.
  Engine* OpenEngine(napi_env env);
  static void CleanupHook(void* arg);
  void InstallHotPath(Napi::Object self);

  Napi::Value SetOutput(const Napi::CallbackInfo& info);
  Napi::Value GetMany(const Napi::CallbackInfo& info);
  Napi::Value ApplyBatch(const Napi::CallbackInfo& info);
  Napi::Value Stats(const Napi::CallbackInfo& info);
  Napi::Value MaxValueBytes(const Napi::CallbackInfo& info);
  Napi::Value Verify(const Napi::CallbackInfo& info);
  Napi::Value Compact(const Napi::CallbackInfo& info);
  Napi::Value Checkpoint(const Napi::CallbackInfo& info);
  Napi::Value Checkpoints(const Napi::CallbackInfo& info);
  Napi::Value Version(const Napi::CallbackInfo& info);
  Napi::Value Restore(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value Capabilities(const Napi::CallbackInfo& info);
  Napi::Value RangeOpen(const Napi::CallbackInfo& info);
  Napi::Value RangeNext(const Napi::CallbackInfo& info);
  Napi::Value RangeClose(const Napi::CallbackInfo& info);
  // The holder behind a cursor External of this store; nullptr after throwing.
  CursorHolder* CursorOf(napi_env env, napi_value value);

  std::shared_ptr<StoreCore> core_;
  napi_env env_ = nullptr;
  bool cleanup_hook_registered_ = false;
};

}  // namespace tidekv::binding
