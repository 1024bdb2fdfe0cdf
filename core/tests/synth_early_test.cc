// Early rejection (SamplerImpl::WalkInto with early, used by Propose and Draw): it must accept
// exactly the proposals the full walk plus Check accepts, its extent filter must never contradict
// InferOutput, and draws through it must stay uniform and depend only on the seed. The walk cache
// must not change what is drawn, however warm it is.
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "drtriton/ops.h"
#include "drtriton/synth.h"
#include "synth/csp.h"
#include "synth_test_support.h"

namespace drtriton::synth {
namespace {

using testing::ClassCounts;
using testing::SmallSpace;

TEST(SynthEarlyRejection, ExtentsClashNeverContradictsInferOutput) {
  // Whenever the filter says "surely fails", the registry's rule must fail too (otherwise early
  // rejection would drop valid programs and break uniformity); and it must catch real clashes.
  const std::vector<ir::Shape> shapes = {{},           {1},
                                         {16},         {8},
                                         {8, 16},      {16, 16},
                                         {1, 16},      {16, 8},
                                         {4, 8, 16},   {4, 16, 8},
                                         {1, 8, 16},   {2, 8, 8, 8},
                                         {2, 8, 8},    {2, 4, 6, 6, 6},
                                         {2, 4, 6, 6}, {1, 2, 3, 4, 5, 6},
                                         {3, 1, 2},    {4, 16},
                                         {2, 16, 4},   {2, 1, 16, 8}};
  int clashes = 0, checked = 0;
  for (const auto& spec : ops::Registry()) {
    // true stops the enumeration: the first contradiction fails the test
    ForEachAttrs(spec, [&](const std::vector<double>& attrs) {
      for (const auto& a : shapes) {
        for (const auto& b : shapes) {
          std::vector<ir::TensorType> in = {{a}, {b}};
          in.resize(spec.arity);
          if (!ExtentsClash(spec.id, attrs, in)) continue;
          ++clashes;
          EXPECT_FALSE(ops::InferOutput(spec.id, in, attrs).has_value())
              << spec.name << " accepts inputs ExtentsClash rejects";
          if (HasFailure()) return true;
        }
        ++checked;
      }
      return false;
    });
    ASSERT_FALSE(HasFailure());
  }
  EXPECT_GT(checked, 1000);
  EXPECT_GT(clashes, 1000);
}

// For each seed: the full walk (no early stop) + Check, and Propose (early rejection) on the same
// stream. They must accept the same seeds with the same programs; and early rejection must fire.
void ExpectSameAcceptance(const SynthConfig& config, int seeds) {
  SamplerImpl full(config), early(config);
  int accepted = 0;
  for (int s = 0; s < seeds; ++s) {
    Rng full_rng(StreamSeed(5, s)), early_rng(StreamSeed(5, s));
    RngChooser chooser(full_rng);
    ir::Graph graph = full.Build(full.Walk(chooser));
    const bool valid = !full.Check(graph).has_value();
    const std::optional<ir::Graph> proposed = early.Propose(early_rng);
    ASSERT_EQ(valid, proposed.has_value()) << "seed " << s;
    if (valid) {
      ASSERT_EQ(graph, *proposed) << "seed " << s;
      ++accepted;
    }
  }
  EXPECT_GT(accepted, 0);
  EXPECT_EQ(early.stats.accepted, static_cast<uint64_t>(accepted));
  EXPECT_GT(early.stats.rejected[static_cast<int>(Reject::kShape)], 0u);
}

TEST(SynthEarlyRejection, AcceptsExactlyWhatTheFullCheckAcceptsOnTheSmallSpace) {
  ExpectSameAcceptance(SmallSpace(), 20'000);
}

TEST(SynthEarlyRejection, AcceptsExactlyWhatTheFullCheckAcceptsAtLevel5) {
  ExpectSameAcceptance(LevelConfig(5), 20'000);
}

TEST(SynthEarlyRejection, DrawsThroughProposeAreUniform) {
  // The chi-square of synth_sampler_test.cc, through Sampler::Draw (early rejection, a stream per
  // attempt) instead of the bare walk.
  const SynthConfig config = SmallSpace();
  ClassCounts counts(EnumerateValid(config));
  Sampler sampler(config);
  for (int i = 0; i < 100'000; ++i) ASSERT_TRUE(counts.Add(sampler.Draw(StreamSeed(21, i))));
  EXPECT_GT(counts.UniformPValue(), 0.001);
}

TEST(SynthEarlyRejection, DrawIsTheFirstAcceptedProposalOfItsAttemptStreams) {
  Sampler draws(LevelConfig(5)), proposals(LevelConfig(5));
  for (uint64_t seed = 0; seed < 20; ++seed) {
    std::optional<ir::Graph> first;
    for (uint64_t a = 0; !first; ++a) first = proposals.Propose(StreamSeed(seed, a));
    EXPECT_EQ(draws.Draw(seed), *first) << "seed " << seed;
  }
}

TEST(SynthWalkCache, ColdAndWarmCachesDrawTheSame) {
  // The walk cache links states on first use: a sampler whose cache is cold for every proposal (a
  // fresh one each time) must propose exactly what one long-lived sampler proposes; so must a
  // sampler whose cache has seen other streams first (links resolved in another order).
  const SynthConfig config = SmallSpace();
  Sampler warm(config), seasoned(config);
  for (int s = 0; s < 3'000; ++s) seasoned.Propose(StreamSeed(77, s));
  for (int s = 0; s < 500; ++s) {
    Sampler cold(config);
    const auto expected = cold.Propose(StreamSeed(8, s));
    EXPECT_EQ(warm.Propose(StreamSeed(8, s)), expected) << "seed " << s;
    EXPECT_EQ(seasoned.Propose(StreamSeed(8, s)), expected) << "seed " << s;
  }
  Sampler level5(LevelConfig(5)), level5_seasoned(LevelConfig(5));
  for (int s = 0; s < 20'000; ++s) level5_seasoned.Propose(StreamSeed(78, s));
  for (int s = 0; s < 2'000; ++s) {
    EXPECT_EQ(level5.Propose(StreamSeed(9, s)), level5_seasoned.Propose(StreamSeed(9, s))) << s;
  }
}

}  // namespace
}  // namespace drtriton::synth
