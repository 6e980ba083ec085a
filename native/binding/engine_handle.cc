#include "binding/engine_handle.h"

#include "binding/promise_worker.h"

#include <cstring>
#include <thread>
#include <utility>
#include <vector>

#include "common/limits.h"
#include "common/checkpoint_format.h"
#include "common/merge.h"
#include "common/write_batch.h"

namespace tidekv::binding {

namespace {

// Operation codes of applyBatch's `types` array; lib/store.ts writes them.
enum BatchCode : uint8_t { kBatchPut = 1, kBatchDelete = 2, kBatchIncrement = 3, kBatchAppend = 4 };

void Throw(napi_env env, const Status& status) { ThrowStatus(env, status); }

class CompactWorker final : public PromiseWorker {
 public:
  // Holding `receiver` keeps the handle from being collected while this runs.
  CompactWorker(Napi::Object receiver, std::shared_ptr<Engine> engine)
      : PromiseWorker(receiver.Env()), receiver_(Napi::Persistent(receiver)), engine_(std::move(engine)) {}
  void Execute() override { status_ = engine_->Compact(&result_); }
  napi_value Result(napi_env env) override {
    napi_value r;
    if (napi_create_object(env, &r) != napi_ok) return nullptr;
    SetNumber(env, r, "recordsScanned", static_cast<double>(result_.records_scanned));
    SetNumber(env, r, "recordsMoved", static_cast<double>(result_.records_moved));
    SetNumber(env, r, "bytesReclaimed", static_cast<double>(result_.bytes_reclaimed));
    SetNumber(env, r, "filesDeleted", static_cast<double>(result_.files_deleted));
    SetNumber(env, r, "longestPauseMicros", static_cast<double>(result_.longest_pause_micros));
    return r;
  }

 private:
  Napi::ObjectReference receiver_;
  std::shared_ptr<Engine> engine_;
  CompactionResult result_;
};

class CloseWorker final : public PromiseWorker {
 public:
  CloseWorker(Napi::Object receiver, std::shared_ptr<Engine> engine)
      : PromiseWorker(receiver.Env()), receiver_(Napi::Persistent(receiver)), engine_(std::move(engine)) {}
  void Execute() override {
    status_ = engine_->Close();
    engine_.reset();  // free memory and unmap here, off the JS thread
  }

 private:
  Napi::ObjectReference receiver_;
  std::shared_ptr<Engine> engine_;
};

// A CheckpointInfo as a JS object (raw N-API: also used while settling promises).
napi_value CheckpointInfoToJs(napi_env env, const CheckpointInfo& i) {
  napi_value o;
  if (napi_create_object(env, &o) != napi_ok) return nullptr;
  SetNumber(env, o, "version", static_cast<double>(i.version));
  SetNumber(env, o, "bytesWritten", static_cast<double>(i.bytes_written));
  SetNumber(env, o, "totalBytes", static_cast<double>(i.total_bytes));
  SetNumber(env, o, "pauseMs", static_cast<double>(i.pause_micros) / 1000.0);
  SetNumber(env, o, "durationMs", static_cast<double>(i.duration_micros) / 1000.0);
  SetNumber(env, o, "createdAt", static_cast<double>(i.created_at_micros / 1000));
  napi_value meta = nullptr;
  if (i.meta_kind == MetaKind::kText) {
    napi_create_string_utf8(env, i.meta.data(), i.meta.size(), &meta);
  } else if (i.meta_kind == MetaKind::kBytes) {
    void* data = nullptr;
    napi_create_buffer_copy(env, i.meta.size(), i.meta.data(), &data, &meta);
  } else {
    napi_get_undefined(env, &meta);
  }
  if (meta != nullptr) napi_set_named_property(env, o, "meta", meta);
  return o;
}

class CheckpointWorker final : public PromiseWorker {
 public:
  CheckpointWorker(Napi::Object receiver, std::shared_ptr<Engine> engine, std::shared_ptr<CheckpointTicket> ticket)
      : PromiseWorker(receiver.Env()),
        receiver_(Napi::Persistent(receiver)),
        engine_(std::move(engine)),
        ticket_(std::move(ticket)) {}
  void Execute() override { status_ = engine_->FinishCheckpoint(ticket_, &info_); }
  napi_value Result(napi_env env) override { return CheckpointInfoToJs(env, info_); }

 private:
  Napi::ObjectReference receiver_;
  std::shared_ptr<Engine> engine_;
  std::shared_ptr<CheckpointTicket> ticket_;
  CheckpointInfo info_;
};

class RestoreWorker final : public PromiseWorker {
 public:
  RestoreWorker(Napi::Object receiver, std::shared_ptr<Engine> engine, uint64_t version)
      : PromiseWorker(receiver.Env()), receiver_(Napi::Persistent(receiver)), engine_(std::move(engine)), version_(version) {}
  void Execute() override { status_ = engine_->Restore(version_); }

 private:
  Napi::ObjectReference receiver_;
  std::shared_ptr<Engine> engine_;
  uint64_t version_;
};

// Copies GetMany results into a JS-owned output buffer and a lengths array.
class BufferSink final : public GetManySink {
 public:
  BufferSink(uint8_t* out, size_t out_bytes, int32_t* lengths) : out_(out), out_bytes_(out_bytes), lengths_(lengths) {}
  bool OnResult(size_t i, const Slice* value) override {
    if (value == nullptr) {
      lengths_[i] = -1;
    } else if (value->size() <= out_bytes_ - used_) {
      std::memcpy(out_ + used_, value->data(), value->size());
      used_ += value->size();
      lengths_[i] = static_cast<int32_t>(value->size());
    } else {
      if (i == 0) lengths_[0] = -2 - static_cast<int32_t>(value->size());  // caller grows `out`
      return false;
    }
    processed_ = i + 1;
    return true;
  }
  size_t processed() const { return processed_; }

 private:
  uint8_t* out_;
  size_t out_bytes_;
  int32_t* lengths_;
  size_t used_ = 0;
  size_t processed_ = 0;
};

}  // namespace

StoreCore::~StoreCore() {
  if (out_ref != nullptr) napi_delete_reference(env, out_ref);
}

namespace {

// ---- Hot path: plain N-API callbacks with the StoreCore as callback data. ----

template <size_t N>
StoreCore* Args(napi_env env, napi_callback_info info, napi_value (&argv)[N]) {
  size_t argc = N;
  void* data = nullptr;
  napi_get_cb_info(env, info, &argc, argv, nullptr, &data);  // missing arguments read as undefined
  return static_cast<std::shared_ptr<StoreCore>*>(data)->get();
}

Engine* EngineOf(napi_env env, StoreCore* core) {
  if (core->engine == nullptr) {
    Throw(env, Status::Closed("store is closed"));
    return nullptr;
  }
  return core->engine.get();
}

napi_value Number(napi_env env, double v) {
  napi_value result;
  napi_create_double(env, v, &result);
  return result;
}

napi_value Bool(napi_env env, bool v) {
  napi_value result;
  napi_get_boolean(env, v, &result);
  return result;
}

// get(key) -> n >= 0: the value's n bytes are in the output buffer at the
//             cursor, which then moves by n rounded up to 8;
//             -1: absent; <= -2: the value has -n - 2 bytes, more than the
//             rest of the output buffer holds (setOutput a fresh one, retry).
napi_value HotGet(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  StoreCore* core = Args(env, info, argv);
  Slice key;
  if (!ReadKey(env, argv[0], &core->key_scratch, &key)) return nullptr;
  Engine* engine = EngineOf(env, core);
  if (engine == nullptr) return nullptr;
  size_t value_bytes = 0;
  // The aligned cursor can pass the end of a buffer whose size is not a
  // multiple of 8: no room then, never a negative one.
  const size_t room = core->out_cursor < core->out_bytes ? core->out_bytes - core->out_cursor : 0;
  Status s = engine->Get(key, reinterpret_cast<char*>(core->out_data + core->out_cursor), room, &value_bytes);
  if (s.ok()) {
    if (value_bytes > room) return Number(env, -2.0 - static_cast<double>(value_bytes));
    core->out_cursor += (value_bytes + 7) & ~size_t{7};
    return Number(env, static_cast<double>(value_bytes));
  }
  if (s.IsNotFound()) return Number(env, -1);
  Throw(env, s);
  return nullptr;
}

napi_value HotHas(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  StoreCore* core = Args(env, info, argv);
  Slice key;
  if (!ReadKey(env, argv[0], &core->key_scratch, &key)) return nullptr;
  Engine* engine = EngineOf(env, core);
  if (engine == nullptr) return nullptr;
  bool found = false;
  if (Status s = engine->Has(key, &found); !s.ok()) {
    Throw(env, s);
    return nullptr;
  }
  return Bool(env, found);
}

napi_value HotPut(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  StoreCore* core = Args(env, info, argv);
  Engine* engine = EngineOf(env, core);
  if (engine == nullptr) return nullptr;
  Slice key, value;
  if (!ReadKey(env, argv[0], &core->key_scratch, &key)) return nullptr;
  if (!ReadBytes(env, argv[1], &core->value_scratch, engine->MaxValueBytes(), {"value"}, &value)) return nullptr;
  if (Status s = engine->Put(key, value); !s.ok()) Throw(env, s);
  return nullptr;
}

napi_value HotDelete(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  StoreCore* core = Args(env, info, argv);
  Slice key;
  if (!ReadKey(env, argv[0], &core->key_scratch, &key)) return nullptr;
  Engine* engine = EngineOf(env, core);
  if (engine == nullptr) return nullptr;
  bool existed = false;
  if (Status s = engine->Delete(key, &existed); !s.ok()) {
    Throw(env, s);
    return nullptr;
  }
  return Bool(env, existed);
}

// increment(key, delta = 1) -> bigint (the new value).
napi_value HotIncrement(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  StoreCore* core = Args(env, info, argv);
  Slice key;
  int64_t delta = 1;
  if (!ReadKey(env, argv[0], &core->key_scratch, &key)) return nullptr;
  napi_valuetype delta_type;
  napi_typeof(env, argv[1], &delta_type);
  if (delta_type != napi_undefined && !ReadInt64(env, argv[1], {"delta"}, &delta)) return nullptr;
  Engine* engine = EngineOf(env, core);
  if (engine == nullptr) return nullptr;
  char operand[kCounterBytes];
  StoreFixed64(operand, static_cast<uint64_t>(delta));
  int64_t result = 0;
  if (Status s = engine->Merge(key, MergeOp::kAddInt64, Slice(operand, sizeof operand), &result); !s.ok()) {
    Throw(env, s);
    return nullptr;
  }
  napi_value v;
  napi_create_bigint_int64(env, result, &v);
  return v;
}

napi_value HotAppend(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  StoreCore* core = Args(env, info, argv);
  Engine* engine = EngineOf(env, core);
  if (engine == nullptr) return nullptr;
  Slice key, bytes;
  if (!ReadKey(env, argv[0], &core->key_scratch, &key)) return nullptr;
  if (!ReadBytes(env, argv[1], &core->value_scratch, engine->MaxValueBytes(), {"bytes"}, &bytes)) return nullptr;
  if (Status s = engine->Merge(key, MergeOp::kAppend, bytes, nullptr); !s.ok()) Throw(env, s);
  return nullptr;
}

void ReleaseCore(napi_env, void* data, void*) { delete static_cast<std::shared_ptr<StoreCore>*>(data); }

// ---- Range cursors ----

// Marks the Externals rangeOpen makes, so that no other External (or a forged
// object) is ever taken for a CursorHolder. Do not reuse for other types.
constexpr napi_type_tag kCursorTypeTag = {0x7469'6465'6b76'2d72ull, 0x616e'6765'2d63'7572ull};

// rangeNext's entry header: u32 LE key length, u32 LE value length.
constexpr size_t kRangeEntryHeaderBytes = 8;
static_assert(kMaxKeyBytes + kMaxValueBytes + kRangeEntryHeaderBytes < (size_t{1} << 53),
              "rangeNext returns an entry's size as a negative JS number");

void FinalizeCursor(napi_env, void* data, void*) {
  auto* holder = static_cast<CursorHolder*>(data);
  holder->core->cursors.erase(holder);
  holder->Release();
  delete holder;
}

bool IsUndefined(napi_env env, napi_value v) {
  napi_valuetype type = napi_undefined;
  napi_typeof(env, v, &type);
  return type == napi_undefined;
}

// Reads one end of a range: `exclusive` (gt / lt) or `inclusive` (gte / lte),
// at most one of them. False after throwing (or with a getter's exception
// pending).
bool ReadBound(napi_env env, napi_value options, const char* exclusive, const char* inclusive, Scratch* scratch,
               bool* has, bool* is_inclusive, std::string* key) {
  napi_value ex, in;
  if (napi_get_named_property(env, options, exclusive, &ex) != napi_ok ||
      napi_get_named_property(env, options, inclusive, &in) != napi_ok) {
    return false;
  }
  const bool has_ex = !IsUndefined(env, ex), has_in = !IsUndefined(env, in);
  if (has_ex && has_in) {
    ThrowInvalidArgument(env,
                         std::string("range options ") + exclusive + " and " + inclusive + " cannot both be given");
    return false;
  }
  if (!has_ex && !has_in) return true;
  Slice bound;
  if (!ReadKey(env, has_ex ? ex : in, scratch, &bound, {has_ex ? exclusive : inclusive})) return false;
  key->assign(bound.data(), bound.size());  // copied now: reading the next option can run JS
  *has = true;
  *is_inclusive = has_in;
  return true;
}

// The RangeOptions of rangeOpen's argument (undefined: the whole store).
bool ReadRangeOptions(napi_env env, napi_value value, Scratch* scratch, RangeOptions* range) {
  napi_valuetype type;
  napi_typeof(env, value, &type);
  if (type == napi_undefined) return true;
  if (type != napi_object) {
    ThrowInvalidArgument(env, "range options must be an object");
    return false;
  }
  if (!ReadBound(env, value, "gt", "gte", scratch, &range->has_lower, &range->lower_inclusive, &range->lower) ||
      !ReadBound(env, value, "lt", "lte", scratch, &range->has_upper, &range->upper_inclusive, &range->upper)) {
    return false;
  }
  napi_value reverse, limit;
  if (napi_get_named_property(env, value, "reverse", &reverse) != napi_ok ||
      napi_get_named_property(env, value, "limit", &limit) != napi_ok) {
    return false;
  }
  napi_typeof(env, reverse, &type);
  if (type == napi_boolean) {
    napi_get_value_bool(env, reverse, &range->reverse);
  } else if (type != napi_undefined) {
    ThrowInvalidArgument(env, "range option reverse must be a boolean");
    return false;
  }
  napi_typeof(env, limit, &type);
  if (type == napi_undefined) return true;
  double d = -1;
  if (type == napi_number) napi_get_value_double(env, limit, &d);
  if (!(d >= 0) || d > 9007199254740991.0 || d != static_cast<double>(static_cast<uint64_t>(d))) {
    ThrowInvalidArgument(env, "range option limit must be a non-negative safe integer");
    return false;
  }
  range->limit = static_cast<uint64_t>(d);
  return true;
}

}  // namespace

Napi::Function EngineHandle::Define(Napi::Env env) {
  return DefineClass(env, "NativeStore",
                     {
                         InstanceMethod<&EngineHandle::SetOutput>("setOutput"),
                         InstanceMethod<&EngineHandle::GetMany>("getMany"),
                         InstanceMethod<&EngineHandle::ApplyBatch>("applyBatch"),
                         InstanceMethod<&EngineHandle::Stats>("stats"),
                         InstanceMethod<&EngineHandle::MaxValueBytes>("maxValueBytes"),
                         InstanceMethod<&EngineHandle::Verify>("verify"),
                         InstanceMethod<&EngineHandle::Compact>("compact"),
                         InstanceMethod<&EngineHandle::Checkpoint>("checkpoint"),
                         InstanceMethod<&EngineHandle::Checkpoints>("checkpoints"),
                         InstanceMethod<&EngineHandle::Version>("version"),
                         InstanceMethod<&EngineHandle::Restore>("restore"),
                         InstanceMethod<&EngineHandle::Close>("close"),
                         InstanceMethod<&EngineHandle::Capabilities>("capabilities"),
                         InstanceMethod<&EngineHandle::RangeOpen>("rangeOpen"),
                         InstanceMethod<&EngineHandle::RangeNext>("rangeNext"),
                         InstanceMethod<&EngineHandle::RangeClose>("rangeClose"),
                     });
}

EngineHandle::EngineHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<EngineHandle>(info) {
  env_ = info.Env();
  if (info.Length() < 1 || !info[0].IsExternal()) {
    ThrowInvalidArgument(env_, "NativeStore is created by open(), not by new");
    return;
  }
  core_ = std::make_shared<StoreCore>(env_);
  core_->engine = *info[0].As<Napi::External<std::shared_ptr<Engine>>>().Data();
  InstallHotPath(info.This().As<Napi::Object>());
  if (napi_add_env_cleanup_hook(env_, &EngineHandle::CleanupHook, this) == napi_ok) {
    cleanup_hook_registered_ = true;
  }
}

void EngineHandle::InstallHotPath(Napi::Object self) {
  struct Method {
    const char* name;
    napi_callback callback;
  };
  static constexpr Method kMethods[] = {{"get", HotGet},       {"has", HotHas},       {"put", HotPut},
                                        {"delete", HotDelete}, {"increment", HotIncrement}, {"append", HotAppend}};
  for (const Method& m : kMethods) {
    auto* ref = new std::shared_ptr<StoreCore>(core_);
    napi_value fn;
    napi_create_function(env_, m.name, NAPI_AUTO_LENGTH, m.callback, ref, &fn);
    napi_add_finalizer(env_, fn, ref, ReleaseCore, nullptr, nullptr);
    napi_property_descriptor d = {m.name, nullptr, nullptr, nullptr, nullptr, fn, napi_default, nullptr};
    napi_define_properties(env_, self, 1, &d);
  }
}

EngineHandle::~EngineHandle() {
  if (cleanup_hook_registered_) napi_remove_env_cleanup_hook(env_, &EngineHandle::CleanupHook, this);
  if (core_ != nullptr && core_->engine != nullptr) {
    // Garbage collected without close(): close off the JS thread (cursors
    // collected in the same cycle may not be finalized yet: free them first).
    core_->ReleaseCursors();
    std::thread([engine = std::move(core_->engine)]() mutable {
      (void)engine->Close();
      engine.reset();
    }).detach();
  }
}

void EngineHandle::CleanupHook(void* arg) {
  auto* self = static_cast<EngineHandle*>(arg);
  self->cleanup_hook_registered_ = false;
  if (self->core_ != nullptr && self->core_->engine != nullptr) {
    self->core_->ReleaseCursors();
    (void)self->core_->engine->Close();
    self->core_->engine.reset();
  }
}

Engine* EngineHandle::OpenEngine(napi_env env) { return core_ == nullptr ? nullptr : EngineOf(env, core_.get()); }

Napi::Value EngineHandle::SetOutput(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  uint8_t* data = nullptr;
  size_t length = 0;
  if (info.Length() < 1 || !ReadUint8Array(env, info[0], "output", &data, &length)) return Napi::Value();
  if (core_->out_ref != nullptr) napi_delete_reference(env, core_->out_ref);
  napi_create_reference(env, info[0], 1, &core_->out_ref);
  core_->out_data = data;
  core_->out_bytes = length;
  core_->out_cursor = 0;
  return info.Env().Undefined();
}

// getMany(keys, total, start, out, lengths) -> how many keys from `start`
// were answered: lengths[i] is the byte count of result start + i (values
// packed in `out` in order) or -1 when absent. 0 answered with
// lengths[0] <= -2: the first value needs -lengths[0] - 2 bytes of `out`.
// -1: `keys` was a joined string that did not split into `total` keys.
Napi::Value EngineHandle::GetMany(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  if (info.Length() < 5 || !info[1].IsNumber() || !info[2].IsNumber() || !info[4].IsTypedArray() ||
      info[4].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
    ThrowInvalidArgument(env, "getMany(keys, total, start, out, lengths: Int32Array): bad arguments");
    return Napi::Value();
  }
  const size_t total = info[1].As<Napi::Number>().Uint32Value();
  const size_t start = info[2].As<Napi::Number>().Uint32Value();
  const size_t count =
      std::min<size_t>(total > start ? total - start : 0, info[4].As<Napi::Int32Array>().ElementLength());
  // Reading the keys can run JS (a Proxy trap, a getter) that may close the
  // store or detach the output buffers. So: hold the engine for the whole
  // call, read the keys first, and only then take pointers into `out` and
  // `lengths`; no JS runs after that.
  if (OpenEngine(env) == nullptr) return Napi::Value();
  const std::shared_ptr<Engine> engine = core_->engine;
  bool split_mismatch = false;
  KeyList keys;
  if (!keys.Read(env, info[0], start, count, total, "keys", &core_->key_scratch, &split_mismatch)) {
    return split_mismatch ? Napi::Number::New(env, -1) : Napi::Value();
  }
  if (OpenEngine(env) == nullptr) return Napi::Value();  // closed while the keys were read
  uint8_t* out = nullptr;
  size_t out_bytes = 0;
  if (!ReadUint8Array(env, info[3], "out", &out, &out_bytes)) return Napi::Value();
  Napi::Int32Array lengths = info[4].As<Napi::Int32Array>();
  if (lengths.ElementLength() < count) {
    ThrowInvalidArgument(env, "getMany: lengths shrank during the call");
    return Napi::Value();
  }
  BufferSink sink(out, out_bytes, lengths.Data());
  if (Status s = engine->GetMany(keys.data(), count, &sink); !s.ok()) {
    Throw(env, s);
    return Napi::Value();
  }
  return Napi::Number::New(env, static_cast<double>(sink.processed()));
}

// applyBatch(types, keys, values, valueLengths, addResults?) -> 0, or -1 when
// `keys` was a joined string that did not split into types.length keys.
//   types         Uint8Array of BatchCode, one per operation
//   keys          array of keys, or one string of the keys joined by '\0'
//   values        array (values[i]: the value, the bytes, or the delta), or
//                 one Uint8Array holding every operation's bytes back to back
//                 (a delta as 8 bytes int64 LE), with
//   valueLengths  Int32Array: the byte count of each operation's part
//   addResults    optional BigInt64Array, one entry per operation: receives
//                 each increment's new value
//
// Reading keys or values from arrays can run JS (Proxy traps, getters) that
// may close the store or detach a typed array given here. So the engine is
// held for the call, `types` and `valueLengths` are copied first, every
// value is copied into the WriteBatch as soon as it is read, the packed
// buffer is only touched after all array reads, and `addResults` last.
Napi::Value EngineHandle::ApplyBatch(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  uint8_t* types_data = nullptr;
  size_t count = 0;
  if (info.Length() < 3 || !ReadUint8Array(env, info[0], "types", &types_data, &count)) return Napi::Value();
  if (count > kMaxBatchOps) {
    ThrowInvalidArgument(env, "batch of " + std::to_string(count) + " operations exceeds the limit of " +
                                  std::to_string(kMaxBatchOps));
    return Napi::Value();
  }
  const std::vector<uint8_t> types(types_data, types_data + count);
  if (OpenEngine(env) == nullptr) return Napi::Value();
  const std::shared_ptr<Engine> engine = core_->engine;

  bool is_packed = false;
  napi_is_typedarray(env, info[2], &is_packed);
  std::vector<int32_t> value_lengths;
  if (is_packed) {
    if (info.Length() < 4 || !info[3].IsTypedArray() ||
        info[3].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array ||
        info[3].As<Napi::Int32Array>().ElementLength() != count) {
      ThrowInvalidArgument(env, "applyBatch: valueLengths must be an Int32Array with one entry per operation");
      return Napi::Value();
    }
    const int32_t* lengths = info[3].As<Napi::Int32Array>().Data();
    value_lengths.assign(lengths, lengths + count);
  } else if (!info[2].IsArray()) {
    ThrowInvalidArgument(env, "applyBatch: values must be an array or a Uint8Array");
    return Napi::Value();
  }

  bool split_mismatch = false;
  KeyList keys;
  if (!keys.Read(env, info[1], 0, count, count, "ops", &core_->key_scratch, &split_mismatch)) {
    return split_mismatch ? Napi::Number::New(env, -1) : Napi::Value();
  }

  WriteBatch batch;
  const size_t max_value_bytes = engine->MaxValueBytes();
  // Array values first (reading them can run JS); packed bytes after.
  for (size_t i = 0; i < count && !is_packed; ++i) {
    const Slice key = keys.data()[i];
    const uint8_t type = types[i];
    if (type == kBatchDelete) {
      batch.Delete(key);
      continue;
    }
    napi_value element;
    napi_get_element(env, info[2], static_cast<uint32_t>(i), &element);
    if (type == kBatchIncrement) {
      int64_t delta = 1;
      napi_valuetype t;
      napi_typeof(env, element, &t);
      if (t != napi_undefined && !ReadInt64(env, element, {"ops", static_cast<int64_t>(i), ".delta"}, &delta)) {
        return Napi::Value();
      }
      char operand[kCounterBytes];
      StoreFixed64(operand, static_cast<uint64_t>(delta));
      batch.Merge(key, MergeOp::kAddInt64, Slice(operand, sizeof operand));
      continue;
    }
    if (type != kBatchPut && type != kBatchAppend) {
      ThrowInvalidArgument(env, "ops[" + std::to_string(i) + "] has an unknown type");
      return Napi::Value();
    }
    Slice bytes;
    if (!ReadBytes(env, element, &core_->value_scratch, max_value_bytes,
                   {"ops", static_cast<int64_t>(i), type == kBatchPut ? ".value" : ".bytes"}, &bytes)) {
      return Napi::Value();
    }
    if (type == kBatchPut) {
      batch.Put(key, bytes);
    } else {
      batch.Merge(key, MergeOp::kAppend, bytes);
    }
  }
  if (is_packed) {
    uint8_t* packed = nullptr;
    size_t packed_bytes = 0;
    if (!ReadUint8Array(env, info[2], "values", &packed, &packed_bytes)) return Napi::Value();
    size_t offset = 0;
    for (size_t i = 0; i < count; ++i) {
      const Slice key = keys.data()[i];
      const uint8_t type = types[i];
      if (type == kBatchDelete) {
        batch.Delete(key);
        continue;
      }
      const int32_t n = value_lengths[i];
      if (n < 0 || offset + n > packed_bytes) {
        ThrowInvalidArgument(env, "applyBatch: valueLengths do not match values");
        return Napi::Value();
      }
      const Slice bytes(reinterpret_cast<const char*>(packed) + offset, n);
      offset += n;
      switch (type) {
        case kBatchPut:
          if (bytes.size() > max_value_bytes) {
            ThrowInvalidArgument(env, "ops[" + std::to_string(i) + "].value of " + std::to_string(bytes.size()) +
                                          " bytes exceeds the limit of " + std::to_string(max_value_bytes));
            return Napi::Value();
          }
          batch.Put(key, bytes);
          break;
        case kBatchAppend: batch.Merge(key, MergeOp::kAppend, bytes); break;
        case kBatchIncrement:
          if (bytes.size() != kCounterBytes) {
            ThrowInvalidArgument(env, "applyBatch: a packed delta must be 8 bytes");
            return Napi::Value();
          }
          batch.Merge(key, MergeOp::kAddInt64, bytes);
          break;
        default:
          ThrowInvalidArgument(env, "ops[" + std::to_string(i) + "] has an unknown type");
          return Napi::Value();
      }
    }
  }
  if (OpenEngine(env) == nullptr) return Napi::Value();  // closed by JS that ran while reading
  int64_t* add_results = nullptr;
  if (info.Length() > 4 && !info[4].IsUndefined()) {
    if (!info[4].IsTypedArray() || info[4].As<Napi::TypedArray>().TypedArrayType() != napi_bigint64_array ||
        info[4].As<Napi::TypedArray>().ElementLength() != count) {
      ThrowInvalidArgument(env, "applyBatch: addResults must be a BigInt64Array with one entry per operation");
      return Napi::Value();
    }
    napi_typedarray_type type;
    size_t length = 0;
    void* data = nullptr;
    napi_get_typedarray_info(env, info[4], &type, &length, &data, nullptr, nullptr);
    add_results = static_cast<int64_t*>(data);
  }
  if (Status s = engine->ApplyBatch(batch, add_results); !s.ok()) {
    Throw(env, s);
    return Napi::Value();
  }
  return Napi::Number::New(env, 0);
}

Napi::Value EngineHandle::Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Engine* engine = OpenEngine(env);
  if (engine == nullptr) return Napi::Value();
  EngineStats stats;
  engine->GetStats(&stats);
  Napi::Object o = Napi::Object::New(env);
  o.Set("keys", Napi::Number::New(env, static_cast<double>(stats.keys)));
  o.Set("memoryBytes", Napi::Number::New(env, static_cast<double>(stats.memory_bytes)));
  o.Set("diskBytes", Napi::Number::New(env, static_cast<double>(stats.disk_bytes)));
  for (const auto& [name, value] : stats.extra) o.Set(name, Napi::Number::New(env, static_cast<double>(value)));
  return o;
}

Napi::Value EngineHandle::MaxValueBytes(const Napi::CallbackInfo& info) {
  Engine* engine = OpenEngine(info.Env());
  if (engine == nullptr) return Napi::Value();
  return Napi::Number::New(info.Env(), static_cast<double>(engine->MaxValueBytes()));
}

Napi::Value EngineHandle::Verify(const Napi::CallbackInfo& info) {
  Engine* engine = OpenEngine(info.Env());
  if (engine == nullptr) return Napi::Value();
  if (Status s = engine->Verify(); !s.ok()) Throw(info.Env(), s);
  return Napi::Value();
}

Napi::Value EngineHandle::Compact(const Napi::CallbackInfo& info) {
  Engine* engine = OpenEngine(info.Env());
  if (engine == nullptr) return Napi::Value();
  auto* worker = new CompactWorker(info.This().As<Napi::Object>(), core_->engine);
  napi_value promise = worker->Promise();
  worker->Queue();  // the worker deletes itself after OnOK
  return Napi::Value(info.Env(), promise);
}

// checkpoint(meta?) -> Promise<info>. The cut is taken now, before this
// returns: the checkpoint holds exactly the calls made before it.
Napi::Value EngineHandle::Checkpoint(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  Engine* engine = OpenEngine(env);
  if (engine == nullptr) return Napi::Value();
  CheckpointRequest request;
  if (info.Length() > 0 && !info[0].IsUndefined()) {
    Slice meta;
    if (!ReadBytes(env, info[0], &core_->value_scratch, kMaxCheckpointMetaBytes, {"meta"}, &meta)) {
      return Napi::Value();
    }
    request.meta.assign(meta.data(), meta.size());
    request.meta_kind = info[0].IsString() ? MetaKind::kText : MetaKind::kBytes;
  }
  std::shared_ptr<CheckpointTicket> ticket;
  if (Status s = engine->BeginCheckpoint(request, &ticket); !s.ok()) {
    Throw(env, s);
    return Napi::Value();
  }
  auto* worker = new CheckpointWorker(info.This().As<Napi::Object>(), core_->engine, std::move(ticket));
  napi_value promise = worker->Promise();
  worker->Queue();
  return Napi::Value(env, promise);
}

Napi::Value EngineHandle::Checkpoints(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  Engine* engine = OpenEngine(env);
  if (engine == nullptr) return Napi::Value();
  std::vector<CheckpointInfo> list;
  engine->ListCheckpoints(&list);
  napi_value array;
  napi_create_array_with_length(env, list.size(), &array);
  for (size_t i = 0; i < list.size(); ++i) napi_set_element(env, array, static_cast<uint32_t>(i), CheckpointInfoToJs(env, list[i]));
  return Napi::Value(env, array);
}

Napi::Value EngineHandle::Version(const Napi::CallbackInfo& info) {
  Engine* engine = OpenEngine(info.Env());
  if (engine == nullptr) return Napi::Value();
  return Napi::Number::New(info.Env(), static_cast<double>(engine->LastCheckpointVersion()));
}

Napi::Value EngineHandle::Restore(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Engine* engine = OpenEngine(env);
  if (engine == nullptr) return Napi::Value();
  if (info.Length() < 1 || !info[0].IsNumber()) {
    ThrowInvalidArgument(env, "version must be a positive integer");
    return Napi::Value();
  }
  const double v = info[0].As<Napi::Number>().DoubleValue();
  if (!(v >= 1) || v > 9007199254740991.0 || v != static_cast<double>(static_cast<uint64_t>(v))) {
    ThrowInvalidArgument(env, "version must be a positive integer");
    return Napi::Value();
  }
  auto* worker = new RestoreWorker(info.This().As<Napi::Object>(), core_->engine, static_cast<uint64_t>(v));
  napi_value promise = worker->Promise();
  worker->Queue();
  return Napi::Value(env, promise);
}

Napi::Value EngineHandle::Close(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (core_ == nullptr || core_->engine == nullptr) {  // closing twice is not an error
    auto deferred = Napi::Promise::Deferred::New(env);
    deferred.Resolve(env.Undefined());
    return deferred.Promise();
  }
  core_->ReleaseCursors();  // the engine never closes under a cursor; their views go now
  auto* worker = new CloseWorker(info.This().As<Napi::Object>(), std::move(core_->engine));
  core_->engine.reset();
  napi_value promise = worker->Promise();
  worker->Queue();
  return Napi::Value(env, promise);
}

Napi::Value EngineHandle::Capabilities(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Engine* engine = OpenEngine(env);
  if (engine == nullptr) return Napi::Value();
  const EngineCapabilities capabilities = engine->Capabilities();
  Napi::Object o = Napi::Object::New(env);
  o.Set("ordered", Napi::Boolean::New(env, capabilities.ordered));
  return o;
}

CursorHolder* EngineHandle::CursorOf(napi_env env, napi_value value) {
  napi_valuetype type = napi_undefined;
  napi_typeof(env, value, &type);
  bool tagged = false;
  if (type == napi_external) napi_check_object_type_tag(env, value, &kCursorTypeTag, &tagged);
  void* data = nullptr;
  if (tagged) napi_get_value_external(env, value, &data);
  auto* holder = static_cast<CursorHolder*>(data);
  if (holder == nullptr || holder->core != core_) {
    ThrowInvalidArgument(env, "cursor must be one this store's rangeOpen() returned");
    return nullptr;
  }
  return holder;
}

// rangeOpen(options?: { gt?, gte?, lt?, lte?: key, reverse?: boolean,
//   limit?: number }) -> cursor, an External to pass to rangeNext and
// rangeClose. The view is taken now: later writes, checkpoints, compactions
// and restores do not change what the cursor yields. Freed by rangeClose,
// when the range is exhausted, when the store closes, or by GC.
Napi::Value EngineHandle::RangeOpen(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  if (OpenEngine(env) == nullptr) return Napi::Value();
  RangeOptions range;
  if (!ReadRangeOptions(env, info[0], &core_->key_scratch, &range)) {  // info[0] is undefined when absent
    return Napi::Value();
  }
  Engine* engine = OpenEngine(env);  // reading the options can run JS that closes the store
  if (engine == nullptr) return Napi::Value();
  std::unique_ptr<RangeCursor> cursor;
  if (Status s = engine->NewRangeCursor(range, &cursor); !s.ok()) {
    Throw(env, s);
    return Napi::Value();
  }
  auto* holder = new CursorHolder{core_, core_->engine, std::move(cursor), {}};
  napi_value external;
  if (napi_create_external(env, holder, FinalizeCursor, nullptr, &external) != napi_ok) {
    holder->Release();
    delete holder;
    return Napi::Value();
  }
  core_->cursors.insert(holder);
  napi_type_tag_object(env, external, &kCursorTypeTag);
  return Napi::Value(env, external);
}

// rangeNext(cursor, out: Uint8Array) -> number
//   n > 0   n entries are packed in `out` from offset 0, in range order, each
//           as u32 LE key length, u32 LE value length, the key bytes, the
//           value bytes (no padding);
//   0       the range is exhausted (the cursor's view is already freed);
//   n < 0   nothing was packed: the next entry needs -n bytes of `out`
//           (8 + key + value); call again with a buffer that large.
// ERR_CLOSED once the store is closed. A cursor freed by rangeClose reads as
// exhausted. An engine error frees the cursor and is thrown.
Napi::Value EngineHandle::RangeNext(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  if (info.Length() < 2) {
    ThrowInvalidArgument(env, "rangeNext(cursor, out): bad arguments");
    return Napi::Value();
  }
  CursorHolder* holder = CursorOf(env, info[0]);
  if (holder == nullptr || OpenEngine(env) == nullptr) return Napi::Value();
  uint8_t* out = nullptr;
  size_t out_bytes = 0;
  if (!ReadUint8Array(env, info[1], "out", &out, &out_bytes)) return Napi::Value();

  size_t used = 0, count = 0;
  if (!holder->pending.empty()) {
    if (holder->pending.size() > out_bytes) {
      return Napi::Number::New(env, -static_cast<double>(holder->pending.size()));
    }
    std::memcpy(out, holder->pending.data(), holder->pending.size());
    used = holder->pending.size();
    count = 1;
    holder->pending.clear();
  }
  if (holder->cursor == nullptr) return Napi::Number::New(env, static_cast<double>(count));
  // An entry that does not fit goes to `pending`: the cursor counts an entry
  // as delivered once handed to us, so stopping must not lose it.
  bool stopped = false;
  const auto pack = [&](Slice key, Slice value) {
    const size_t need = kRangeEntryHeaderBytes + key.size() + value.size();
    char* dst;
    if (need <= out_bytes - used) {
      dst = reinterpret_cast<char*>(out + used);
      used += need;
      ++count;
    } else {
      holder->pending.resize(need);
      dst = holder->pending.data();
      stopped = true;
    }
    StoreFixed32(dst, static_cast<uint32_t>(key.size()));
    StoreFixed32(dst + 4, static_cast<uint32_t>(value.size()));
    if (!key.empty()) std::memcpy(dst + kRangeEntryHeaderBytes, key.data(), key.size());
    if (!value.empty()) std::memcpy(dst + kRangeEntryHeaderBytes + key.size(), value.data(), value.size());
    return !stopped;
  };
  bool done = false;
  // Next returns when pack stops it or the range ends; loop in case an engine
  // returns early. A full `out` needs no call.
  while (!done && !stopped && (count == 0 || used < out_bytes)) {
    if (Status s = holder->cursor->Next(pack, &done); !s.ok()) {
      holder->Release();
      Throw(env, s);
      return Napi::Value();
    }
  }
  if (done) holder->ReleaseView();  // free the view now; `pending` is still handed out
  if (count == 0 && !holder->pending.empty()) {
    return Napi::Number::New(env, -static_cast<double>(holder->pending.size()));
  }
  return Napi::Number::New(env, static_cast<double>(count));
}

// rangeClose(cursor): frees the cursor and its view now (idempotent; also
// after the store closed).
Napi::Value EngineHandle::RangeClose(const Napi::CallbackInfo& info) {
  napi_env env = info.Env();
  if (info.Length() < 1) {
    ThrowInvalidArgument(env, "rangeClose(cursor): bad arguments");
    return Napi::Value();
  }
  CursorHolder* holder = CursorOf(env, info[0]);
  if (holder == nullptr) return Napi::Value();
  holder->Release();
  return Napi::Value();
}

}  // namespace tidekv::binding
