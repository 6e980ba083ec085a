// The addon's entry point: the engines' open functions, the no-op floor for
// benchmarks, and the one place where a Status becomes a JS error.
//
// Errors: lib/errors.ts registers a factory (code number, message) ->
// TidekvError at load time, so the string codes users see are defined in
// TypeScript only. Each environment (main thread, each worker) has its own
// factory in its instance data.
#include <napi.h>

#include <functional>
#include <memory>
#include <string>

#include "binding/args.h"
#include "binding/engine_handle.h"
#include "binding/promise_worker.h"
#include "common/limits.h"
#include "hybridlog/hybrid_log.h"
#include "appendlog/append_log.h"
#include "lsm/lsm_engine.h"

namespace tidekv::binding {

Napi::Object Init(Napi::Env env, Napi::Object exports);

namespace {

struct AddonData {
  Napi::FunctionReference error_factory;
  Napi::FunctionReference store_class;
};

AddonData* Data(napi_env env) {
  void* data = nullptr;
  napi_get_instance_data(env, &data);
  return static_cast<AddonData*>(data);
}

Napi::Value SetErrorFactory(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsFunction()) {
    Napi::TypeError::New(info.Env(), "setErrorFactory(fn)").ThrowAsJavaScriptException();
    return Napi::Value();
  }
  Data(info.Env())->error_factory = Napi::Persistent(info[0].As<Napi::Function>());
  return info.Env().Undefined();
}

// The floor of every benchmark: the cost of crossing into native and back.
napi_value Noop(napi_env env, napi_callback_info) { return nullptr; }

// Reads an optional non-negative integer option; false after throwing.
bool ReadOption(Napi::Object options, const char* name, uint64_t* out) {
  Napi::Value v = options.Get(name);
  if (v.IsUndefined()) return true;
  if (!v.IsNumber()) {
    ThrowInvalidArgument(options.Env(), std::string("option ") + name + " must be a number");
    return false;
  }
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0) || d > 9007199254740991.0 || d != static_cast<double>(static_cast<uint64_t>(d))) {
    ThrowInvalidArgument(options.Env(), std::string("option ") + name + " must be a non-negative integer");
    return false;
  }
  *out = static_cast<uint64_t>(d);
  return true;
}

// Opens an engine on a worker thread. The factory (an engine's Open with its
// options and directory bound) runs there; each engine's open function below
// reads its own options on the JS thread and hands the worker a factory.
class OpenWorker final : public PromiseWorker {
 public:
  using Factory = std::function<Status(std::unique_ptr<Engine>*)>;
  OpenWorker(Napi::Env env, Factory factory) : PromiseWorker(env), factory_(std::move(factory)) {}
  void Execute() override {
    std::unique_ptr<Engine> engine;
    status_ = factory_(&engine);
    if (status_.ok()) engine_ = std::move(engine);
  }
  napi_value Result(napi_env env) override {
    AddonData* data = Data(env);
    if (data == nullptr || data->store_class.IsEmpty()) return nullptr;
    // The constructor copies the shared_ptr out of the External synchronously,
    // so pointing it at this member is safe. If the object cannot be made
    // (teardown), engine_ still owns the engine and closes it on destruction.
    napi_value external, store;
    if (napi_create_external(env, &engine_, nullptr, nullptr, &external) != napi_ok) return nullptr;
    if (napi_new_instance(env, data->store_class.Value(), 1, &external, &store) != napi_ok) {
      napi_value ignored;
      napi_get_and_clear_last_exception(env, &ignored);
      return nullptr;
    }
    engine_.reset();
    return store;
  }

 private:
  Factory factory_;
  std::shared_ptr<Engine> engine_;
};

// Reads dir (info[0]); false after throwing.
bool ReadDir(const Napi::CallbackInfo& info, std::string* dir) {
  *dir = info[0].As<Napi::String>().Utf8Value();
  if (dir->empty() || dir->find('\0') != std::string::npos) {
    ThrowInvalidArgument(info.Env(), "dir must be a non-empty path without NUL characters");
    return false;
  }
  return true;
}

Napi::Value QueueOpen(Napi::Env env, OpenWorker::Factory factory) {
  auto* worker = new OpenWorker(env, std::move(factory));
  napi_value promise = worker->Promise();
  worker->Queue();
  return Napi::Value(env, promise);
}

// openHybridLog(dir: string, options: object) -> Promise<NativeStore>
Napi::Value OpenHybridLog(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsObject()) {
    ThrowInvalidArgument(env, "openHybridLog(dir, options): bad arguments");
    return Napi::Value();
  }
  Napi::Object o = info[1].As<Napi::Object>();
  HybridLogOptions options;
  uint64_t page_bytes = options.page_bytes, index_buckets = options.index_buckets,
           slice = options.compaction_slice_micros, retain = options.retain_checkpoints;
  if (!ReadOption(o, "memoryBudgetBytes", &options.memory_budget_bytes) || !ReadOption(o, "pageBytes", &page_bytes) ||
      !ReadOption(o, "segmentBytes", &options.segment_bytes) || !ReadOption(o, "indexBuckets", &index_buckets) ||
      !ReadOption(o, "compactionSliceMicros", &slice) || !ReadOption(o, "retainCheckpoints", &retain)) {
    return Napi::Value();
  }
  if (retain < 1 || retain > kMaxRetainedCheckpoints) {
    ThrowInvalidArgument(env, "option retainCheckpoints must be between 1 and " + std::to_string(kMaxRetainedCheckpoints));
    return Napi::Value();
  }
  options.retain_checkpoints = static_cast<uint32_t>(retain);
  options.fold_over = o.Get("foldOver").ToBoolean().Value();
  options.recover_latest_valid = o.Get("recoverLatestValid").ToBoolean().Value();
  if (page_bytes > UINT32_MAX || index_buckets > UINT32_MAX || slice > UINT32_MAX) {
    ThrowInvalidArgument(env, "pageBytes, indexBuckets and compactionSliceMicros must fit 32 bits");
    return Napi::Value();
  }
  options.page_bytes = static_cast<uint32_t>(page_bytes);
  options.index_buckets = static_cast<uint32_t>(index_buckets);
  options.compaction_slice_micros = static_cast<uint32_t>(slice);
  Napi::Value fraction = o.Get("mutableFraction");
  if (!fraction.IsUndefined()) {
    if (!fraction.IsNumber()) {
      ThrowInvalidArgument(env, "option mutableFraction must be a number");
      return Napi::Value();
    }
    options.mutable_fraction = fraction.As<Napi::Number>().DoubleValue();
  }
  std::string dir;
  if (!ReadDir(info, &dir)) return Napi::Value();
  return QueueOpen(env, [options, dir](std::unique_ptr<Engine>* engine) {
    return HybridLog::Open(options, dir, engine);
  });
}

// Reads an optional option that the engine keeps in 32 bits; false after throwing.
bool ReadOption32(Napi::Object options, const char* name, uint32_t* out) {
  uint64_t v = *out;
  if (!ReadOption(options, name, &v)) return false;
  if (v > UINT32_MAX) {
    ThrowInvalidArgument(options.Env(),
                         std::string("option ") + name + " must be at most " + std::to_string(UINT32_MAX));
    return false;
  }
  *out = static_cast<uint32_t>(v);
  return true;
}

// openLsm(dir: string, options: object) -> Promise<NativeStore>. Only types
// are checked here; the engine checks ranges and relations (Lsm::Open names
// the option in its error).
Napi::Value OpenLsm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsObject()) {
    ThrowInvalidArgument(env, "openLsm(dir, options): bad arguments");
    return Napi::Value();
  }
  Napi::Object o = info[1].As<Napi::Object>();
  LsmOptions options;
  uint32_t style = static_cast<uint32_t>(options.compaction_style);
  if (!ReadOption(o, "memoryBudgetBytes", &options.memory_budget_bytes) ||
      !ReadOption(o, "memtableBytes", &options.memtable_bytes) ||
      !ReadOption32(o, "maxImmutableMemtables", &options.max_immutable_memtables) ||
      !ReadOption32(o, "compactionStyle", &style) || !ReadOption32(o, "runsPerLevel", &options.runs_per_level) ||
      !ReadOption32(o, "levelSizeRatio", &options.level_size_ratio) ||
      !ReadOption(o, "level1Bytes", &options.level1_bytes) ||
      !ReadOption(o, "targetTableBytes", &options.target_table_bytes) ||
      !ReadOption32(o, "slowdownRuns", &options.slowdown_runs) || !ReadOption32(o, "stopRuns", &options.stop_runs) ||
      !ReadOption32(o, "bloomBitsPerKey", &options.bloom_bits_per_key) ||
      !ReadOption32(o, "blockBytes", &options.block_bytes) ||
      !ReadOption32(o, "retainCheckpoints", &options.retain_checkpoints)) {
    return Napi::Value();
  }
  if (style != static_cast<uint32_t>(LsmCompactionStyle::kLeveled) &&
      style != static_cast<uint32_t>(LsmCompactionStyle::kSizeTiered)) {
    ThrowInvalidArgument(env, "option compactionStyle must be 1 (leveled) or 2 (size-tiered)");
    return Napi::Value();
  }
  options.compaction_style = static_cast<LsmCompactionStyle>(style);
  options.recover_latest_valid = o.Get("recoverLatestValid").ToBoolean().Value();
  std::string dir;
  if (!ReadDir(info, &dir)) return Napi::Value();
  return QueueOpen(env, [options, dir](std::unique_ptr<Engine>* engine) {
    return Lsm::Open(options, dir, engine);
  });
}

// openAppendLog(dir: string, options: object) -> Promise<NativeStore>. Only
// types are checked here; AppendLog::Open checks ranges and names the option.
Napi::Value OpenAppendLog(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsObject()) {
    ThrowInvalidArgument(env, "openAppendLog(dir, options): bad arguments");
    return Napi::Value();
  }
  Napi::Object o = info[1].As<Napi::Object>();
  AppendLogOptions options;
  if (!ReadOption(o, "memoryBudgetBytes", &options.memory_budget_bytes) ||
      !ReadOption(o, "segmentBytes", &options.segment_bytes) ||
      !ReadOption32(o, "retainCheckpoints", &options.retain_checkpoints)) {
    return Napi::Value();
  }
  Napi::Value ratio = o.Get("mergeDeadRatio");
  if (!ratio.IsUndefined()) {
    if (!ratio.IsNumber()) {
      ThrowInvalidArgument(env, "option mergeDeadRatio must be a number");
      return Napi::Value();
    }
    options.merge_dead_ratio = ratio.As<Napi::Number>().DoubleValue();
  }
  options.recover_latest_valid = o.Get("recoverLatestValid").ToBoolean().Value();
  std::string dir;
  if (!ReadDir(info, &dir)) return Napi::Value();
  return QueueOpen(env, [options, dir](std::unique_ptr<Engine>* engine) {
    return AppendLog::Open(options, dir, engine);
  });
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* data = new AddonData();
  env.SetInstanceData<AddonData>(data);  // deleted at environment teardown
  data->store_class = Napi::Persistent(EngineHandle::Define(env));
  exports.Set("setErrorFactory", Napi::Function::New(env, SetErrorFactory, "setErrorFactory"));
  exports.Set("openHybridLog", Napi::Function::New(env, OpenHybridLog, "openHybridLog"));
  exports.Set("openLsm", Napi::Function::New(env, OpenLsm, "openLsm"));
  exports.Set("openAppendLog", Napi::Function::New(env, OpenAppendLog, "openAppendLog"));
  napi_value noop;
  napi_create_function(env, "noop", NAPI_AUTO_LENGTH, Noop, nullptr, &noop);
  exports.Set("noop", Napi::Value(env, noop));
  exports.Set("statusCodeCount", Napi::Number::New(env, kStatusCodeCount));
  return exports;
}

napi_value MakeError(napi_env env, const Status& status) {
  AddonData* data = Data(env);
  const std::string message(status.message());
  napi_value code, text, error = nullptr;
  napi_create_double(env, static_cast<double>(static_cast<int>(status.code())), &code);
  napi_create_string_utf8(env, message.data(), message.size(), &text);
  if (data != nullptr && !data->error_factory.IsEmpty()) {
    napi_value argv[2] = {code, text};
    napi_value undefined;
    napi_get_undefined(env, &undefined);
    if (napi_call_function(env, undefined, data->error_factory.Value(), 2, argv, &error) != napi_ok) {
      napi_value ignored;
      napi_get_and_clear_last_exception(env, &ignored);
      return nullptr;
    }
    return error;
  }
  // No factory (the addon loaded outside lib/): a plain Error with the number.
  if (napi_create_error(env, nullptr, text, &error) != napi_ok) return nullptr;
  napi_set_named_property(env, error, "statusCode", code);
  return error;
}

void ThrowStatus(napi_env env, const Status& status) {
  if (napi_value error = MakeError(env, status)) napi_throw(env, error);
}

}  // namespace tidekv::binding

static Napi::Object InitTidekv(Napi::Env env, Napi::Object exports) {
  return tidekv::binding::Init(env, exports);
}
NODE_API_MODULE(tidekv, InitTidekv)
