// Key choosers for the YCSB workloads (Cooper et al., SoCC 2010): uniform and
// scrambled zipfian. The zipfian draw follows Gray et al., "Quickly generating
// billion-record synthetic databases" (SIGMOD 1994); scrambling hashes the
// rank so the hot keys are spread over the key space instead of clustered at
// its start (as YCSB's ScrambledZipfianGenerator does).
#pragma once

#include <cmath>
#include <cstdint>
#include <random>

namespace tidekv::bench {

class ZipfianChooser {
 public:
  ZipfianChooser(uint64_t n, double theta, uint64_t seed) : n_(n), theta_(theta), rng_(seed) {
    double zetan = 0;
    for (uint64_t i = 1; i <= n; ++i) zetan += 1.0 / std::pow(static_cast<double>(i), theta);
    const double zeta2 = 1.0 + 1.0 / std::pow(2.0, theta);
    zetan_ = zetan;
    alpha_ = 1.0 / (1.0 - theta);
    eta_ = (1.0 - std::pow(2.0 / static_cast<double>(n), 1.0 - theta)) / (1.0 - zeta2 / zetan);
    half_pow_theta_ = 1.0 + std::pow(0.5, theta);
  }
  // A rank in [0, n): 0 is the hottest.
  uint64_t NextRank() {
    const double u = uniform_(rng_);
    const double uz = u * zetan_;
    if (uz < 1.0) return 0;
    if (uz < half_pow_theta_) return 1;
    const auto r = static_cast<uint64_t>(static_cast<double>(n_) * std::pow(eta_ * u - eta_ + 1.0, alpha_));
    return r < n_ ? r : n_ - 1;
  }
  // A key number in [0, n), hot ranks scattered by a 64-bit mix.
  uint64_t Next() { return Scramble(NextRank()) % n_; }
  static uint64_t Scramble(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
  }

 private:
  uint64_t n_;
  double theta_, zetan_ = 0, alpha_ = 0, eta_ = 0, half_pow_theta_ = 0;
  std::mt19937_64 rng_;
  std::uniform_real_distribution<double> uniform_{0.0, 1.0};
};

}  // namespace tidekv::bench
