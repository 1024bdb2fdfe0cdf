// Sampler tests: exact uniformity (chi-square over an enumerated space, and the same test rejecting a
// biased sampler), the DP count, canonical keys, determinism, difficulty ranges, coverage, bad input.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>
#include <string>

#include "drtriton/error.h"
#include "drtriton/synth.h"
#include "synth/csp.h"

namespace drtriton::synth {
namespace {

// A small space: 1..3 operators over a 6-op subset, two input shapes, at most 2 inputs.
SynthConfig SmallSpace() {
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
double ChiSquarePValue(double chi2, double df) {
  const double z = (std::cbrt(chi2 / df) - (1 - 2 / (9 * df))) / std::sqrt(2 / (9 * df));
  return 0.5 * std::erfc(z / std::sqrt(2.0));
}

// A plausible but biased sampler: at every decision, each feasible option is equally likely
// (what a naive sequential generator does), ignoring how many programs lie behind it.
class NaiveChooser final : public Chooser {
 public:
  explicit NaiveChooser(Rng& rng) : rng_(rng) {}
  int Weighted(const double* weights, int n) override {
    int positive = 0;
    for (int i = 0; i < n; ++i) positive += weights[i] > 0;
    uint64_t j = rng_.Below(positive);
    for (int i = 0; i < n; ++i) {
      if (weights[i] > 0 && j-- == 0) return i;
    }
    return -1;
  }
  uint64_t Uniform(uint64_t n) override { return rng_.Below(n); }

 private:
  Rng& rng_;
};

// Draws `samples` accepted programs with `chooser_of(rng)` and returns the chi-square p-value of
// their class counts against uniform over the enumerated valid programs.
template <class MakeChooser>
double UniformityPValue(int samples, MakeChooser make_chooser) {
  const SynthConfig config = SmallSpace();
  std::map<std::string, int> index;
  for (const auto& graph : EnumerateValid(config)) index.emplace(ProgramKey(graph), index.size());
  EXPECT_GT(index.size(), 100u);
  SamplerImpl impl(config);
  Rng rng(12345);
  auto chooser = make_chooser(rng);
  std::vector<double> counts(index.size(), 0);
  for (int drawn = 0; drawn < samples;) {
    ir::Graph graph = impl.Build(impl.Walk(chooser));
    if (impl.Check(graph)) continue;
    auto it = index.find(ProgramKey(graph));
    EXPECT_NE(it, index.end()) << "sampled a program the enumeration does not contain";
    if (it == index.end()) return 0;
    ++counts[it->second];
    ++drawn;
  }
  const double expected = static_cast<double>(samples) / counts.size();
  double chi2 = 0;
  for (double c : counts) chi2 += (c - expected) * (c - expected) / expected;
  return ChiSquarePValue(chi2, counts.size() - 1.0);
}

TEST(SynthUniformity, ExactSamplerPassesChiSquare) {
  const double p = UniformityPValue(200'000, [](Rng& rng) { return RngChooser(rng); });
  EXPECT_GT(p, 0.001);
}

TEST(SynthUniformity, BiasedSamplerFailsTheSameChiSquare) {
  const double p = UniformityPValue(200'000, [](Rng& rng) { return NaiveChooser(rng); });
  EXPECT_LT(p, 0.001);
}

TEST(SynthSampler, DpCountsEverySupersetPointOnce) {
  SamplerImpl impl(SmallSpace());
  OdometerChooser chooser;
  uint64_t points = 0;
  do {
    impl.Walk(chooser);
    ++points;
  } while (chooser.Advance());
  EXPECT_EQ(static_cast<double>(points), impl.SupersetSize());
}

TEST(SynthCanonical, EnumeratedProgramsAreDistinctIsomorphismClasses) {
  const auto programs = EnumerateValid(SmallSpace());
  std::set<std::string> keys;
  for (const auto& graph : programs) keys.insert(ProgramKey(graph));
  EXPECT_EQ(keys.size(), programs.size());
}

TEST(SynthCanonical, SwappedCommutativeOperandsAndRenamedInputsShareAKey) {
  // out = add(relu(x), y) versus add(y, relu(x)) with the inputs passed in the other order.
  const ops::OpId relu = *ops::FindOp("relu"), add = *ops::FindOp("add");
  ir::Graph a, b;
  a.inputs = {{{4}}, {{2, 4}}};
  a.nodes = {{relu, {0}, {}, {}}, {add, {2, 1}, {}, {}}};
  a.outputs = {3};
  b.inputs = {{{2, 4}}, {{4}}};
  b.nodes = {{relu, {1}, {}, {}}, {add, {0, 2}, {}, {}}};
  b.outputs = {3};
  EXPECT_EQ(ProgramKey(a), ProgramKey(b));
  const ops::OpId sub = *ops::FindOp("sub");
  a.nodes[1].op = b.nodes[1].op = sub;  // not commutative: different programs
  EXPECT_NE(ProgramKey(a), ProgramKey(b));
}

TEST(SynthDeterminism, SameSeedGivesTheSameProgram) {
  Sampler first(LevelConfig(2)), second(LevelConfig(2));
  for (uint64_t seed = 0; seed < 50; ++seed) EXPECT_EQ(first.Draw(seed), second.Draw(seed));
  int differing = 0;
  for (uint64_t seed = 0; seed < 20; ++seed) differing += !(first.Draw(seed) == first.Draw(seed + 1000));
  EXPECT_GT(differing, 10);
}

TEST(SynthDifficulty, CountsStayInTheLevelRanges) {
  for (int level : {1, 2, 5}) {
    const SynthConfig config = LevelConfig(level);
    Sampler sampler(config);
    for (uint64_t seed = 0; seed < (level == 5 ? 40 : 300); ++seed) {
      const ir::Graph g = sampler.Draw(StreamSeed(7, seed));
      ASSERT_EQ(static_cast<int>(g.nodes.size()), level);
      ASSERT_LE(static_cast<int>(g.inputs.size()), config.max_inputs);
      int heavy = 0, reductions = 0;
      std::vector<int> fanout(g.nodes.size(), 0);
      for (const auto& node : g.nodes) {
        heavy += ops::Spec(node.op).heavy;
        reductions += ops::Spec(node.op).reduces;
        for (int32_t v : node.inputs) {
          if (v >= static_cast<int>(g.inputs.size())) ++fanout[v - g.inputs.size()];
        }
      }
      EXPECT_LE(heavy, config.heavy_max);
      EXPECT_LE(reductions, config.reductions_max);
      for (size_t i = 0; i + 1 < g.nodes.size(); ++i) {
        EXPECT_GE(fanout[i], 1);  // no dead code
        EXPECT_LE(fanout[i], config.max_fanout);
      }
      EXPECT_NO_THROW(ir::Validate(g));
    }
  }
}

TEST(SynthCoverage, LevelTwoDrawsCoverEveryLegalOperatorAndMostPairs) {
  const SynthConfig config = LevelConfig(2);
  Coverage cov = LegalCoverage(config);
  Sampler sampler(config);
  for (uint64_t i = 0; i < 100'000; ++i) CountCoverage(sampler.Draw(StreamSeed(3, i)), cov);
  int missing_ops = 0, missing_pairs = 0, legal_pairs = 0;
  for (int op = 0; op < ops::kNumOps; ++op) {
    missing_ops += cov.op_legal[op] && cov.op_counts[op] == 0;
    EXPECT_FALSE(!cov.op_legal[op] && cov.op_counts[op] > 0) << "drew an op marked illegal: " << op;
  }
  for (size_t pair = 0; pair < cov.pair_legal.size(); ++pair) {
    legal_pairs += cov.pair_legal[pair];
    missing_pairs += cov.pair_legal[pair] && cov.pair_counts[pair] == 0;
    EXPECT_FALSE(!cov.pair_legal[pair] && cov.pair_counts[pair] > 0) << "drew an illegal pair " << pair;
  }
  EXPECT_EQ(missing_ops, 0);
  // Uniform over programs is not uniform over pairs: 100k draws reached 5,576 of 6,538 legal pairs
  // (85%) when this was written; every legal pair has positive probability (the DP never zeroes
  // an op), but rare ones need more draws. This guards against coverage regressions.
  EXPECT_LE(missing_pairs, legal_pairs / 5) << "of " << legal_pairs << " legal pairs";
}

TEST(SynthConfig, BadInputSaysWhatToChange) {
  EXPECT_THROW(LevelConfig(0), ValueError);
  SynthConfig config = LevelConfig(5);
  config.heavy_min = 6;
  config.heavy_max = 6;
  EXPECT_THROW(Sampler{config}, InfeasibleError);
  config = LevelConfig(5);
  config.shape_menu = {};
  EXPECT_THROW(Sampler{config}, ValueError);
}

}  // namespace
}  // namespace drtriton::synth
