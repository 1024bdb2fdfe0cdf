// Markov-chain levels (above 7; core/src/synth/mcmc.cc): the chain's draws are uniform on a small
// enumerated space (chi-square), a chain too short to mix fails the same test, and level 20 gives
// valid 20-operator programs, reproducibly, in bounded time.
#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <string>

#include "drtriton/error.h"
#include "drtriton/synth.h"
#include "synth/csp.h"
#include "synth_test_support.h"

namespace drtriton::synth {
namespace {

// The uniformity test's small space (synth_sampler_test.cc), drawn by the chain over the one-class DP.
SynthConfig SmallChainSpace(int steps) {
  SynthConfig config = testing::SmallSpace();
  config.rank_classes = false;  // the one-class DP, as the chain levels use
  config.mcmc_steps = steps;
  return config;
}

// Chi-square p-value of `samples` chain draws (each its own seed) against uniform over the space.
double ChainUniformityPValue(int steps, int samples) {
  const SynthConfig config = SmallChainSpace(steps);
  testing::ClassCounts counts(EnumerateValid(config));
  EXPECT_GT(counts.size(), 100u);
  Sampler sampler(config);
  for (int i = 0; i < samples; ++i) {
    if (!counts.Add(sampler.Draw(StreamSeed(99, i)))) {
      ADD_FAILURE() << "the chain drew a program the enumeration does not contain";
      return 0;
    }
  }
  return counts.UniformPValue();
}

TEST(SynthChain, DrawsAreUniformOnAnEnumeratedSpaceAfterBurnIn) {
  EXPECT_GT(ChainUniformityPValue(250, 20'000), 0.001);
}

TEST(SynthChain, AChainTooShortToMixFailsTheSameChiSquare) {
  EXPECT_LT(ChainUniformityPValue(1, 20'000), 0.001);
}

int CountIf(const ir::Graph& g, bool ops::OpSpec::*flag) {
  int n = 0;
  for (const auto& node : g.nodes) n += ops::Spec(node.op).*flag;
  return n;
}

TEST(SynthChain, Level20DrawsAreValidTwentyOperatorProgramsInBoundedTime) {
  const SynthConfig config = LevelConfig(20);
  ASSERT_GT(config.mcmc_steps, 0);
  Sampler sampler(config);
  const auto start = std::chrono::steady_clock::now();
  std::set<std::string> keys;
  constexpr int kDraws = 16;
  for (int i = 0; i < kDraws; ++i) {
    ir::Graph g = sampler.Draw(StreamSeed(5, i));
    ASSERT_EQ(static_cast<int>(g.nodes.size()), 20);
    ASSERT_LE(static_cast<int>(g.inputs.size()), config.max_inputs);
    EXPECT_LE(CountIf(g, &ops::OpSpec::heavy), config.heavy_max);
    EXPECT_LE(CountIf(g, &ops::OpSpec::reduces), config.reductions_max);
    EXPECT_NO_THROW(ir::Validate(g));
    EXPECT_FALSE(sampler.impl().Check(g).has_value()) << "a level-20 draw fails the validity check";
    keys.insert(ProgramKey(g));
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  // ~6 programs/s measured on the loaded 2-core machine, start pool included (docs/SYNTH.md); 60 s
  // for 24 leaves a wide margin and still catches a search that stalls.
  EXPECT_LT(seconds, 60.0);
  EXPECT_GE(keys.size(), static_cast<size_t>(kDraws) - 2) << "level-20 draws repeat";
}

TEST(SynthChain, Level20DrawsAreReproducibleFromTheSeed) {
  Sampler first(LevelConfig(20)), second(LevelConfig(20));
  // The second sampler fills its start pool in another order: draws must not depend on it.
  for (uint64_t seed : {3u, 1u, 2u}) (void)second.Draw(StreamSeed(11, seed + 100));
  for (uint64_t seed : {1u, 2u, 3u}) {
    EXPECT_EQ(first.Draw(StreamSeed(11, seed)), second.Draw(StreamSeed(11, seed)));
  }
}

TEST(SynthChain, ChainLevelsHaveNoStrata) {
  Sampler sampler(LevelConfig(8));
  EXPECT_TRUE(sampler.Strata().empty());
  EXPECT_EQ(sampler.RowStratum(0, 0), -1);
  EXPECT_THROW(sampler.Draw(1, 1'000'000, 0), ValueError);
}

}  // namespace
}  // namespace drtriton::synth
