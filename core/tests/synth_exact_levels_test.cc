// Level 7 is drawn by exact rejection from the rank-class DP (csp-dag/5; it was the Markov chain):
// a draw is the first accepted proposal of its seed's streams, valid under Check, reproducible, and
// level 8 stays on the chain. Uniformity of the rejection sampler itself: synth_sampler_test.cc.
#include <gtest/gtest.h>

#include <optional>

#include "drtriton/ir.h"
#include "drtriton/ops.h"
#include "drtriton/synth.h"
#include "synth/csp.h"
#include "synth/rng.h"

namespace drtriton::synth {
namespace {

TEST(SynthExactLevels, Level7UsesExactRejectionAndLevel8TheChain) {
  const SynthConfig seven = LevelConfig(7);
  EXPECT_EQ(seven.mcmc_steps, 0);
  EXPECT_TRUE(seven.rank_classes);
  const SynthConfig eight = LevelConfig(8);
  EXPECT_GT(eight.mcmc_steps, 0);
  EXPECT_FALSE(eight.rank_classes);
}

TEST(SynthExactLevels, Level7DrawIsTheFirstAcceptedProposalAndValid) {
  Sampler sampler(LevelConfig(7));
  Sampler proposer(LevelConfig(7));
  for (uint64_t seed = 0; seed < 5; ++seed) {
    ir::Graph drawn = sampler.Draw(seed);
    // Rejection: attempt a has its own stream, so the draw is the first accepted one (a chain draw
    // would be the end of a walk over valid points instead).
    std::optional<ir::Graph> first;
    for (uint64_t a = 0; !first && a < 1'000'000; ++a) {
      first = proposer.Propose(StreamSeed(seed, a));
    }
    ASSERT_TRUE(first.has_value());
    EXPECT_EQ(drawn, *first);
    EXPECT_EQ(drawn.nodes.size(), 7u);
    ir::Graph untyped = drawn;  // Check infers every type again and checks every constraint
    EXPECT_EQ(sampler.impl().Check(untyped), std::nullopt);
    // The level's knobs that the DP enforces by construction (Check does not count them).
    const SynthConfig& config = sampler.config();
    EXPECT_LE(static_cast<int>(drawn.inputs.size()), config.max_inputs);
    int heavy = 0, reductions = 0;
    for (const auto& node : drawn.nodes) {
      heavy += ops::Spec(node.op).heavy;
      reductions += ops::Spec(node.op).reduces;
    }
    EXPECT_LE(heavy, config.heavy_max);
    EXPECT_LE(reductions, config.reductions_max);
    EXPECT_NO_THROW(ir::Validate(drawn));
  }
}

TEST(SynthExactLevels, Level7DrawsAreReproducibleAcrossSamplers) {
  Sampler first(LevelConfig(7)), second(LevelConfig(7));
  for (uint64_t seed : {9u, 4u}) (void)second.Draw(seed);  // a warm cache must not change a draw
  for (uint64_t seed : {4u, 9u, 17u}) EXPECT_EQ(first.Draw(seed), second.Draw(seed));
}

}  // namespace
}  // namespace drtriton::synth
