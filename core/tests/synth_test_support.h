// Shared by the synthesizer tests (synth_sampler_test.cc, synth_chain_test.cc): the small enumerable
// space the uniformity tests draw from, and draw counts per isomorphism class with their chi-square
// p-value against uniform.
#pragma once

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "drtriton/ir.h"
#include "drtriton/synth.h"

namespace drtriton::synth::testing {

// 1..3 operators over a 6-op subset, two input shapes, at most 2 inputs.
inline SynthConfig SmallSpace() {
  SynthConfig config;
  config.level = 3;
  config.min_nodes = 1;
  config.max_nodes = 3;
  config.max_inputs = 2;
  config.heavy_max = 3;
  config.reductions_max = 3;
  config.max_fanout = 3;
  config.shape_menu = {{4}, {2, 4}};
  for (const char* name : {"relu", "tanh", "add", "sub", "mul", "sum"}) config.ops.push_back(*ops::FindOp(name));
  return config;
}

// Upper tail of chi-square (Wilson-Hilferty normal approximation, accurate for df > 30).
inline double ChiSquarePValue(double chi2, double df) {
  const double z = (std::cbrt(chi2 / df) - (1 - 2 / (9 * df))) / std::sqrt(2 / (9 * df));
  return 0.5 * std::erfc(z / std::sqrt(2.0));
}

// Draws counted per isomorphism class of a known list of programs.
class ClassCounts {
 public:
  explicit ClassCounts(const std::vector<ir::Graph>& programs) {
    for (const auto& graph : programs) index_.emplace(ProgramKey(graph), index_.size());
    counts_.assign(index_.size(), 0);
  }
  size_t size() const { return counts_.size(); }
  // False (nothing counted) when `graph` is none of the programs.
  bool Add(const ir::Graph& graph) {
    auto it = index_.find(ProgramKey(graph));
    if (it == index_.end()) return false;
    ++counts_[it->second];
    ++total_;
    return true;
  }
  // Chi-square p-value of the counts against uniform over the programs.
  double UniformPValue() const {
    const double expected = static_cast<double>(total_) / counts_.size();
    double chi2 = 0;
    for (double c : counts_) chi2 += (c - expected) * (c - expected) / expected;
    return ChiSquarePValue(chi2, counts_.size() - 1.0);
  }

 private:
  std::map<std::string, int> index_;
  std::vector<double> counts_;
  int total_ = 0;
};

}  // namespace drtriton::synth::testing
