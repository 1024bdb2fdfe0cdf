// Deterministic random numbers for the synthesizer: xoshiro256** seeded through splitmix64, and
// integer-only draws (Lemire's unbiased bounded draw), so a seed gives the same program bytes on any
// machine and standard library (std::uniform_*_distribution is implementation-defined; we avoid it).
#pragma once

#include <cstdint>

namespace drtriton::synth {

/// splitmix64 step: the seeding mixer recommended by the xoshiro authors.
inline uint64_t SplitMix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

/// Seed of the `index`-th stream of a base seed: lets row i of a dataset be drawn on its own (resume,
/// parallel shards) and still give the same bytes as a sequential run.
inline uint64_t StreamSeed(uint64_t seed, uint64_t index) {
  uint64_t s = seed ^ 0x5851F42D4C957F2DULL;
  uint64_t a = SplitMix64(s);
  s = a ^ (index * 0xD1B54A32D192ED03ULL);
  return SplitMix64(s);
}

/// xoshiro256**: small, fast, 256-bit state, well tested (Blackman & Vigna).
class Rng {
 public:
  explicit Rng(uint64_t seed = 0) { Seed(seed); }

  void Seed(uint64_t seed) {
    uint64_t s = seed;
    for (auto& word : s_) word = SplitMix64(s);
  }

  uint64_t Next() {
    const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }

  /// Uniform integer in [0, n), exactly (Lemire 2019, with the rejection step). n must be > 0.
  uint64_t Below(uint64_t n) {
    unsigned __int128 m = static_cast<unsigned __int128>(Next()) * n;
    uint64_t low = static_cast<uint64_t>(m);
    if (low < n) {
      const uint64_t threshold = (0 - n) % n;
      while (low < threshold) {
        m = static_cast<unsigned __int128>(Next()) * n;
        low = static_cast<uint64_t>(m);
      }
    }
    return static_cast<uint64_t>(m >> 64);
  }

  /// Uniform double in [0, 1) with 53 random bits (exact, no platform rounding differences).
  double Unit() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

}  // namespace drtriton::synth
