// The hybrid-log engine without JS: YCSB-style workloads on one thread.
//
//   make -C native bench                       (defaults below)
//   make -C native bench ARGS="--records=1000000 --ops=10000000 --budget-mb=16"
//
// Records are "user" + a 12-digit number with 100-byte values, as in the JS
// benchmark (bench/), so the two can be compared. Prints one line per
// workload: ops/s and the engine's memory/disk figures.
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "bench/zipfian.h"
#include "common/slice.h"
#include "common/write_batch.h"
#include "hybridlog/hybrid_log.h"

using namespace tidekv;

namespace {

struct Args {
  uint64_t records = 1000000;
  uint64_t ops = 10000000;
  uint64_t budget_mb = 1024;
  uint32_t page_kb = 4096;
  std::string dir = "/tmp/tidekv-native-bench";
};

Args Parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const char* s = argv[i];
    auto num = [&](const char* name, uint64_t* out) {
      const size_t n = std::strlen(name);
      if (std::strncmp(s, name, n) == 0 && s[n] == '=') *out = std::strtoull(s + n + 1, nullptr, 10);
    };
    uint64_t page_kb = a.page_kb;
    num("--records", &a.records);
    num("--ops", &a.ops);
    num("--budget-mb", &a.budget_mb);
    num("--page-kb", &page_kb);
    a.page_kb = static_cast<uint32_t>(page_kb);
    if (std::strncmp(s, "--dir=", 6) == 0) a.dir = s + 6;
  }
  return a;
}

std::string KeyOf(uint64_t i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "user%012" PRIu64, i);
  return buf;
}

double Seconds(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void Die(const Status& s, const char* what) {
  std::fprintf(stderr, "%s: %s\n", what, s.ToString().c_str());
  std::exit(1);
}

uint64_t Extra(Engine* e, const char* name) {
  EngineStats st;
  e->GetStats(&st);
  for (auto& [k, v] : st.extra) {
    if (k == name) return v;
  }
  return 0;
}

void Report(const char* name, uint64_t ops, double seconds, Engine* e) {
  EngineStats st;
  e->GetStats(&st);
  std::printf("%-28s %10.2f M ops/s   logMemory %6.1f MiB  index %6.1f MiB  disk %7.1f MiB\n", name,
              static_cast<double>(ops) / seconds / 1e6, Extra(e, "logMemoryBytes") / 1048576.0,
              Extra(e, "indexBytes") / 1048576.0, st.disk_bytes / 1048576.0);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  const Args args = Parse(argc, argv);
  std::filesystem::remove_all(args.dir);
  HybridLogOptions options;
  options.memory_budget_bytes = args.budget_mb << 20;
  options.page_bytes = args.page_kb << 10;
  options.index_buckets = 1u << 18;
  std::unique_ptr<Engine> db;
  if (Status s = HybridLog::Open(options, args.dir, &db); !s.ok()) Die(s, "open");

  std::vector<std::string> keys(args.records);
  for (uint64_t i = 0; i < args.records; ++i) keys[i] = KeyOf(i);
  std::vector<std::string> counter_keys(args.records);
  for (uint64_t i = 0; i < args.records; ++i) counter_keys[i] = "c" + keys[i];
  std::string value(100, 'v');
  char out[256];
  char delta_one[8];
  StoreFixed64(delta_one, 1);

  std::printf("hybrid log, %" PRIu64 " records x 100 B, %" PRIu64 " ops per workload, budget %" PRIu64
              " MiB, page %u KiB\n", args.records, args.ops, args.budget_mb, args.page_kb);
  auto t0 = std::chrono::steady_clock::now();
  for (uint64_t i = 0; i < args.records; ++i) {
    if (Status s = db->Put(keys[i], value); !s.ok()) Die(s, "load");
  }
  Report("load", args.records, Seconds(t0), db.get());

  for (int dist = 0; dist < 2; ++dist) {
    const bool zipf = dist == 0;
    bench::ZipfianChooser zipfian(args.records, 0.99, 42);
    std::mt19937_64 uniform(7);
    // Pre-draw the key sequence so the timed loop measures the engine only.
    std::vector<uint32_t> seq(args.ops);
    for (auto& k : seq) k = static_cast<uint32_t>(zipf ? zipfian.Next() : uniform() % args.records);
    std::mt19937_64 coin(3);
    std::vector<uint8_t> is_write(args.ops);
    struct Mix { const char* name; int write_pct; bool rmw; };
    const Mix mixes[] = {{"A 50/50", 50, false}, {"B 95/5", 5, false}, {"C read-only", 0, false}, {"RMW increment", 100, true}};
    for (const Mix& mix : mixes) {
      for (auto& w : is_write) w = static_cast<int>(coin() % 100) < mix.write_pct;
      t0 = std::chrono::steady_clock::now();
      uint64_t found = 0;
      for (uint64_t i = 0; i < args.ops; ++i) {
        const std::string& key = keys[seq[i]];
        if (mix.rmw) {
          // Counters live under their own keys ("c" + key) so values keep their type.
          int64_t r;
          if (Status s = db->Merge(counter_keys[seq[i]], MergeOp::kAddInt64, Slice(delta_one, 8), &r); !s.ok()) {
            Die(s, "rmw");
          }
        } else if (is_write[i]) {
          if (Status s = db->Put(key, value); !s.ok()) Die(s, "update");
        } else {
          size_t n = 0;
          if (db->Get(key, out, sizeof out, &n).ok()) ++found;
        }
      }
      const double secs = Seconds(t0);
      char name[64];
      std::snprintf(name, sizeof name, "%s %s", mix.name, zipf ? "zipfian" : "uniform");
      Report(name, args.ops, secs, db.get());
      if (!mix.rmw && mix.write_pct < 100 && found == 0) Die(Status::Corruption("no reads found"), name);
    }
    // Batched: reads through GetMany, writes through ApplyBatch, 1000 at a time.
    {
      struct CountingSink final : GetManySink {
        uint64_t found = 0;
        bool OnResult(size_t, const Slice* value) override {
          found += value != nullptr;
          return true;
        }
      };
      constexpr size_t kChunk = 1000;
      std::vector<Slice> chunk;
      t0 = std::chrono::steady_clock::now();
      CountingSink sink;
      for (uint64_t i = 0; i < args.ops; i += kChunk) {
        chunk.clear();
        for (uint64_t j = i; j < std::min(args.ops, i + kChunk); ++j) chunk.push_back(keys[seq[j]]);
        if (Status s = db->GetMany(chunk.data(), chunk.size(), &sink); !s.ok()) Die(s, "getmany");
      }
      char name[64];
      std::snprintf(name, sizeof name, "C batched %s", zipf ? "zipfian" : "uniform");
      Report(name, args.ops, Seconds(t0), db.get());
      if (sink.found != args.ops) Die(Status::Corruption("batched reads missed keys"), name);
      t0 = std::chrono::steady_clock::now();
      WriteBatch batch;
      for (uint64_t i = 0; i < args.ops; i += kChunk) {
        batch.Clear();
        for (uint64_t j = i; j < std::min(args.ops, i + kChunk); ++j) batch.Put(keys[seq[j]], value);
        if (Status s = db->ApplyBatch(batch); !s.ok()) Die(s, "batch");
      }
      std::snprintf(name, sizeof name, "update batched %s", zipf ? "zipfian" : "uniform");
      Report(name, args.ops, Seconds(t0), db.get());
    }
  }
  if (Status s = db->Close(); !s.ok()) Die(s, "close");
  std::filesystem::remove_all(args.dir);
  return 0;
}
