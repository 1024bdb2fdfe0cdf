// Sampler tests: exact uniformity (chi-square over an enumerated space, and the same test rejecting a
// biased sampler), the DP count, canonical keys, determinism, difficulty ranges, coverage, bad input.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "drtriton/error.h"
#include "drtriton/synth.h"
#include "synth/csp.h"
#include "synth_test_support.h"

namespace drtriton::synth {
namespace {

using testing::ChiSquarePValue;
using testing::ClassCounts;
using testing::SmallSpace;

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
  ClassCounts counts(EnumerateValid(config));
  EXPECT_GT(counts.size(), 100u);
  SamplerImpl impl(config);
  Rng rng(12345);
  auto chooser = make_chooser(rng);
  for (int drawn = 0; drawn < samples;) {
    ir::Graph graph = impl.Build(impl.Walk(chooser));
    if (impl.Check(graph)) continue;
    if (!counts.Add(graph)) {
      ADD_FAILURE() << "sampled a program the enumeration does not contain";
      return 0;
    }
    ++drawn;
  }
  return counts.UniformPValue();
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

TEST(SynthDeterminism, BinarySearchPickMatchesTheLinearScanDrawForDraw) {
  Rng weights_rng(11);
  for (int trial = 0; trial < 2000; ++trial) {
    const int n = 1 + static_cast<int>(weights_rng.Below(64));
    std::vector<double> w(n), cum(n);
    double run = 0;
    for (int i = 0; i < n; ++i) {
      // spans many magnitudes (DP counts do), so rounding in the running sums is exercised
      w[i] = std::ldexp(1.0 + weights_rng.Unit(), static_cast<int>(weights_rng.Below(80)) - 40);
      cum[i] = run += w[i];
    }
    Rng a(trial), b(trial);
    RngChooser linear(a), binary(b);
    for (int k = 0; k < 8; ++k) {
      ASSERT_EQ(linear.Weighted(w.data(), n), binary.WeightedPositive(w.data(), cum.data(), n));
    }
  }
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

// Counts legal ops and pairs never drawn, and fails on any illegal op or pair drawn.
void ExpectOnlyLegal(const Coverage& cov, int* missing_ops, int* missing_pairs, int* legal_pairs) {
  *missing_ops = *missing_pairs = *legal_pairs = 0;
  for (int op = 0; op < ops::kNumOps; ++op) {
    *missing_ops += cov.op_legal[op] && cov.op_counts[op] == 0;
    EXPECT_FALSE(!cov.op_legal[op] && cov.op_counts[op] > 0) << "drew an op marked illegal: " << op;
  }
  for (size_t pair = 0; pair < cov.pair_legal.size(); ++pair) {
    *legal_pairs += cov.pair_legal[pair];
    *missing_pairs += cov.pair_legal[pair] && cov.pair_counts[pair] == 0;
    EXPECT_FALSE(!cov.pair_legal[pair] && cov.pair_counts[pair] > 0) << "drew an illegal pair " << pair;
  }
}

TEST(SynthCoverage, SeededStreamCoversEveryLegalOperatorAndPairIn100kDraws) {
  const SynthConfig config = LevelConfig(2);
  Coverage cov = LegalCoverage(config);
  Sampler sampler(config);
  const uint64_t seed = 3;
  ASSERT_LT(sampler.Strata().size(), 100'000u);
  for (uint64_t i = 0; i < 100'000; ++i) {
    CountCoverage(sampler.Draw(StreamSeed(seed, i), 1'000'000, sampler.RowStratum(seed, i)), cov);
  }
  int missing_ops, missing_pairs, legal_pairs;
  ExpectOnlyLegal(cov, &missing_ops, &missing_pairs, &legal_pairs);
  EXPECT_EQ(missing_ops, 0);
  EXPECT_EQ(missing_pairs, 0) << "of " << legal_pairs << " legal pairs";
  EXPECT_GT(legal_pairs, 1000);
}

TEST(SynthCoverage, StrictUniformStreamDrawsOnlyLegalOperatorsAndPairs) {
  const SynthConfig config = LevelConfig(2);
  Coverage cov = LegalCoverage(config);
  Sampler sampler(config);
  for (uint64_t i = 0; i < 20'000; ++i) {
    EXPECT_EQ(sampler.RowStratum(3, i, /*strict_uniform=*/true), -1);
    CountCoverage(sampler.Draw(StreamSeed(3, i)), cov);
  }
  int missing_ops, missing_pairs, legal_pairs;
  ExpectOnlyLegal(cov, &missing_ops, &missing_pairs, &legal_pairs);
  EXPECT_LT(missing_pairs, legal_pairs);  // uniform over programs: rare pairs stay unseen
}

TEST(SynthCoverage, RowStrataVisitEveryStratumOnceInASeededOrder) {
  Sampler sampler(LevelConfig(2));
  const size_t n = sampler.Strata().size();
  std::vector<int> seen(n, 0);
  std::vector<int> first, other;
  for (uint64_t i = 0; i < n; ++i) {
    const int s = sampler.RowStratum(5, i);
    ASSERT_GE(s, 0);
    ++seen[s];
    first.push_back(s);
    other.push_back(sampler.RowStratum(6, i));
  }
  EXPECT_EQ(std::count(seen.begin(), seen.end(), 1), static_cast<long>(n));
  EXPECT_EQ(sampler.RowStratum(5, n), -1);
  EXPECT_NE(first, other);
  for (uint64_t i = 0; i < n; ++i) ASSERT_EQ(sampler.RowStratum(5, i), first[i]);  // cached order
}

// Inside a stratum the draws are exactly uniform too: enumerate the stratum with the odometer and
// chi-square the draws against it (and check every program has the stratum's output and producer).
TEST(SynthUniformity, StratumDrawsAreUniformInsideTheStratum) {
  const SynthConfig config = SmallSpace();
  SamplerImpl impl(config);
  const auto& strata = impl.strata();
  const ops::OpId relu = *ops::FindOp("relu"), add = *ops::FindOp("add");
  int stratum = -1;
  for (size_t i = 0; i < strata.size(); ++i) {
    if (strata[i].producer == relu && strata[i].consumer == add) stratum = static_cast<int>(i);
  }
  ASSERT_GE(stratum, 0);
  std::vector<ir::Graph> members;
  OdometerChooser odometer;
  do {
    ir::Graph graph = impl.Build(impl.Walk(odometer, stratum));
    if (!impl.Check(graph)) members.push_back(std::move(graph));
  } while (odometer.Advance());
  ClassCounts counts(members);
  ASSERT_GT(counts.size(), 50u);
  Rng rng(99);
  RngChooser chooser(rng);
  const int samples = 50'000;
  for (int drawn = 0; drawn < samples;) {
    ir::Graph graph = impl.Build(impl.Walk(chooser, stratum));
    if (impl.Check(graph)) continue;
    ASSERT_EQ(graph.nodes.back().op, add);
    bool fed_by_relu = false;
    for (int32_t v : graph.nodes.back().inputs) {
      fed_by_relu |= v >= static_cast<int>(graph.inputs.size()) &&
                     graph.nodes[v - graph.inputs.size()].op == relu;
    }
    ASSERT_TRUE(fed_by_relu);
    ASSERT_TRUE(counts.Add(graph));
    ++drawn;
  }
  EXPECT_GT(counts.UniformPValue(), 0.001);
}

TEST(SynthRanks, RankRuleAgreesWithInferOutput) {
  // Whenever the registry accepts an application, its output rank is the one RankOut predicts (the
  // DP's classes would otherwise count programs under the wrong class and break uniformity).
  const std::vector<ir::Shape> shapes = {{}, {1}, {16}, {8, 16}, {1, 16}, {4, 8, 16}, {2, 8, 8, 8},
                                         {2, 4, 6, 6, 6}, {1, 2, 3, 4, 5, 6}, {3, 1, 2}};
  int checked = 0;
  for (const auto& spec : ops::Registry()) {
    // true stops the enumeration: the first disagreement fails the test
    ForEachAttrs(spec, [&](const std::vector<double>& attrs) {
      for (const auto& a : shapes) {
        for (const auto& b : shapes) {
          std::vector<ir::TensorType> in = {{a}, {b}};
          in.resize(spec.arity);
          auto out = ops::InferOutput(spec.id, in, attrs);
          if (!out) continue;
          auto rank = RankOut(spec.id, attrs, in[0].Rank(), spec.arity == 2 ? in[1].Rank() : 0);
          EXPECT_TRUE(rank.has_value()) << spec.name;
          if (!rank) return true;
          EXPECT_EQ(*rank, out->Rank()) << spec.name;
          if (HasFailure()) return true;
          ++checked;
        }
      }
      return false;
    });
    ASSERT_FALSE(HasFailure());
  }
  EXPECT_GT(checked, 1000);
}

TEST(SynthSampler, OneClassDpIsAlsoExactAndCountsEveryPoint) {
  SynthConfig config = SmallSpace();
  config.rank_classes = false;
  SamplerImpl impl(config);
  OdometerChooser chooser;
  uint64_t points = 0;
  do {
    impl.Walk(chooser);
    ++points;
  } while (chooser.Advance());
  EXPECT_EQ(static_cast<double>(points), impl.SupersetSize());
  // Same valid programs with either DP (the space does not depend on the knob).
  std::set<std::string> one, ranked;
  for (const auto& g : EnumerateValid(config)) one.insert(ProgramKey(g));
  for (const auto& g : EnumerateValid(SmallSpace())) ranked.insert(ProgramKey(g));
  EXPECT_EQ(one, ranked);
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
