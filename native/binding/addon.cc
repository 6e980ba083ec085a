// The addon's entry point: open(), the no-op floor for benchmarks, and the
// one place where a Status becomes a JS error.
//
// Errors: lib/errors.ts registers a factory (code number, message) ->
// TidekvError at load time, so the string codes users see are defined in
// TypeScript only. Each environment (main thread, each worker) has its own
// factory in its instance data.
#include <napi.h>

#include <memory>

#include "binding/args.h"
#include "binding/engine_handle.h"
#include "hybridlog/hybrid_log.h"

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

class OpenWorker final : public Napi::AsyncWorker {
 public:
  OpenWorker(Napi::Env env, HybridLogOptions options, std::string dir)
      : Napi::AsyncWorker(env), options_(options), dir_(std::move(dir)), deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise Promise() { return deferred_.Promise(); }
  void Execute() override {
    std::unique_ptr<Engine> engine;
    status_ = HybridLog::Open(options_, dir_, &engine);
    if (status_.ok()) engine_ = std::move(engine);
  }
  void OnOK() override {
    Napi::Env env = Env();
    if (!status_.ok()) {
      ThrowStatus(env, status_);
      deferred_.Reject(env.GetAndClearPendingException().Value());
      return;
    }
    // The constructor copies the shared_ptr out of the External synchronously,
    // so pointing it at this local is safe.
    std::shared_ptr<Engine> engine = std::move(engine_);
    Napi::Object store = Data(env)->store_class.New({Napi::External<std::shared_ptr<Engine>>::New(env, &engine)});
    if (env.IsExceptionPending()) {
      deferred_.Reject(env.GetAndClearPendingException().Value());
      return;
    }
    deferred_.Resolve(store);
  }

 private:
  HybridLogOptions options_;
  std::string dir_;
  Napi::Promise::Deferred deferred_;
  Status status_;
  std::shared_ptr<Engine> engine_;
};

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
           slice = options.compaction_slice_micros;
  if (!ReadOption(o, "memoryBudgetBytes", &options.memory_budget_bytes) || !ReadOption(o, "pageBytes", &page_bytes) ||
      !ReadOption(o, "segmentBytes", &options.segment_bytes) || !ReadOption(o, "indexBuckets", &index_buckets) ||
      !ReadOption(o, "compactionSliceMicros", &slice)) {
    return Napi::Value();
  }
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
  auto* worker = new OpenWorker(env, options, info[0].As<Napi::String>().Utf8Value());
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* data = new AddonData();
  env.SetInstanceData<AddonData>(data);  // deleted at environment teardown
  data->store_class = Napi::Persistent(EngineHandle::Define(env));
  exports.Set("setErrorFactory", Napi::Function::New(env, SetErrorFactory, "setErrorFactory"));
  exports.Set("openHybridLog", Napi::Function::New(env, OpenHybridLog, "openHybridLog"));
  napi_value noop;
  napi_create_function(env, "noop", NAPI_AUTO_LENGTH, Noop, nullptr, &noop);
  exports.Set("noop", Napi::Value(env, noop));
  exports.Set("statusCodeCount", Napi::Number::New(env, kStatusCodeCount));
  return exports;
}

void ThrowStatus(napi_env env, const Status& status) {
  AddonData* data = Data(env);
  Napi::Env e(env);
  const std::string message(status.message());
  const double code = static_cast<double>(static_cast<int>(status.code()));
  if (data != nullptr && !data->error_factory.IsEmpty()) {
    Napi::Value error = data->error_factory.Call({Napi::Number::New(e, code), Napi::String::New(e, message)});
    if (!e.IsExceptionPending()) napi_throw(env, error);
    return;
  }
  // No factory (the addon loaded outside lib/): a plain Error with the number.
  Napi::Error error = Napi::Error::New(e, message);
  error.Set("statusCode", Napi::Number::New(e, code));
  error.ThrowAsJavaScriptException();
}

}  // namespace tidekv::binding

static Napi::Object InitTidekv(Napi::Env env, Napi::Object exports) {
  return tidekv::binding::Init(env, exports);
}
NODE_API_MODULE(tidekv, InitTidekv)
