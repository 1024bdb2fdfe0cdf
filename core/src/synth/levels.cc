// The difficulty table: level L = L compute operators, plus the knobs that scale with it.
// docs/SYNTH.md prints the table; drtriton synth --level/--heavy/--reductions/--max-fanout override it.
#include <algorithm>

#include "support/check.h"
#include "drtriton/synth.h"

namespace drtriton::synth {

namespace {

// Small: every tensor <= 1,728 elements so 1,000 programs run under torch on a CPU in seconds. The
// extents are chosen to meet the registry's attr choices: last dims 16 broadcast against [16]; 8
// channels divide by groups 2 and num_groups 2/4; [16, 16] and [4, 8, 8]-like squares feed matmul.
const std::vector<ir::Shape> kSmallMenu = {
    {8, 16}, {16, 16}, {16}, {4, 8, 16}, {2, 8, 8, 8}, {2, 4, 6, 6, 6},
};

// Realistic: KernelBench-like extents (batch 16..128, features 1024, 64x64 images), for GPU runs.
const std::vector<ir::Shape> kRealisticMenu = {
    {128, 1024}, {1024, 1024}, {1024}, {32, 64, 512}, {16, 32, 64, 64}, {8, 16, 16, 32, 32},
};

// Chain steps per draw above kExactMaxLevel (docs/SYNTH.md, "Levels above 7", measured there).
constexpr int kChainSteps = 2000;

// The highest level drawn by exact rejection from the rank-class DP. Level 7 builds in ~2.4 s
// (peak ~0.6 GB) and accepts 0.7% of proposals: ~2,250 programs/s, exactly uniform (the chain gave
// ~180/s, approximately). Level 8 would take ~12 s and ~1.1 GB per sampler, so it stays on the
// chain (docs/SYNTH.md, "Measured throughput").
constexpr int kExactMaxLevel = 7;

}  // namespace

SynthConfig LevelConfig(int level, ShapeScale scale) {
  DRT_CHECK(level >= 1 && level <= 32, ValueError,
            "level must be in 1..32 (the number of compute operators), got " << level
                                                                             << "; try 1, 2, 5 or 20");
  SynthConfig config;
  config.level = level;
  config.min_nodes = config.max_nodes = level;
  // Enough inputs for every binary operator of a small level, and a few more as programs grow.
  config.max_inputs = std::min(2 + level / 3, 6);
  // Heavy operators (matmul/conv) and reductions: at most one per ~4 operators, at least 1 allowed.
  const int cap = level <= 4 ? 1 : (level <= 10 ? 2 : 4);
  config.heavy_min = 0;
  config.heavy_max = cap;
  config.reductions_min = 0;
  config.reductions_max = cap;
  config.max_fanout = 3;  // a residual plus a side branch; more is rare in KernelBench
  // The rank-class DP's state grows ~3x per operator (build 0.2 s at level 5, 0.7 s at 6, 2.4 s
  // at 7, 12 s at 8): above kExactMaxLevel the one-class DP keeps start-up instant.
  config.rank_classes = level <= kExactMaxLevel;
  // Above it exact rejection starts too slowly or accepts too few (docs/SYNTH.md): draws are the
  // end of a Markov chain whose stationary distribution is uniform over the valid programs
  // (approximate).
  config.mcmc_steps = level <= kExactMaxLevel ? 0 : kChainSteps;
  if (scale == ShapeScale::kSmall) {
    config.shape_menu = kSmallMenu;
    config.max_flops = 5e7;  // keeps the CPU execution tests fast
    config.max_bytes = 5e7;
  } else {
    config.shape_menu = kRealisticMenu;
    config.max_flops = 2e11;  // ~0.2 s of fp32 on one H100 at most
    config.max_bytes = 8e9;
  }
  return config;
}

}  // namespace drtriton::synth
