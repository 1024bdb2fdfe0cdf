// Hashing helpers: a 64-bit mixer for colours/keys and a 128-bit streaming hash for canonical
// forms. Not cryptographic; chosen for good avalanche (splitmix64 finalizer) and speed.
#pragma once

#include <bit>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>

namespace drtriton::support {

/// splitmix64 finalizer: a bijective 64-bit mix with full avalanche.
constexpr uint64_t Mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

/// Order-sensitive combination of a running hash with one more word.
constexpr uint64_t Combine(uint64_t seed, uint64_t value) {
  return Mix64(seed ^ (Mix64(value) + 0x9e3779b97f4a7c15ULL + (seed << 6) + (seed >> 2)));
}

inline uint64_t DoubleBits(double v) {
  if (v == 0) v = 0;  // +0 and -0 hash alike
  return std::bit_cast<uint64_t>(v);
}

/// 128-bit streaming hash: two independent 64-bit lanes over the same words.
class Hasher128 {
 public:
  void Add(uint64_t word) {
    lo_ = Mix64(lo_ ^ word) + 0x2545f4914f6cdd1dULL;
    hi_ = Mix64(hi_ + (word * 0xff51afd7ed558ccdULL)) ^ std::rotl(lo_, 17);
    ++count_;
  }
  void AddDouble(double v) { Add(DoubleBits(v)); }
  void AddString(std::string_view s) {
    Add(s.size());
    for (char c : s) Add(static_cast<unsigned char>(c));
  }
  /// 32 lowercase hex digits.
  std::string Hex() const {
    const uint64_t a = Mix64(hi_ ^ count_), b = Mix64(lo_ ^ std::rotl(hi_, 29));
    char buf[33];
    std::snprintf(buf, sizeof(buf), "%016llx%016llx", static_cast<unsigned long long>(a),
                  static_cast<unsigned long long>(b));
    return std::string(buf, 32);
  }

 private:
  uint64_t lo_ = 0x6a09e667f3bcc908ULL;
  uint64_t hi_ = 0xbb67ae8584caa73bULL;
  uint64_t count_ = 0;
};

}  // namespace drtriton::support
