// CSP-DAG synthesizer: draws random programs (graph IR DAGs) exactly uniformly, up to isomorphism,
// from a difficulty class. Algorithm and proofs: docs/SYNTH.md. Python: drtriton.synth.synthesize.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "drtriton/ir.h"
#include "drtriton/ops.h"

namespace drtriton::synth {

/// Written into every task: bump when the same seed and config can give a different program.
// 2: rank-class DP with a rank-priority traversal, tensors of rank <= 6, coverage-seeded streams.
// 3: levels above 6 draw by a Markov chain (mcmc_steps), approximate; levels 1..6 as in 2.
// 4: levels 1..6: proposal a of a draw uses the stream StreamSeed(seed, a) (was one generator for all
//    attempts), so early rejection, which stops a walk part-way, cannot change what is drawn. Same
//    distribution (exactly uniform); other bytes. Levels above 6 as in 3.
// 5: level 7 draws by exact rejection from the rank-class DP (was the chain); levels 1..6 and 8..32
//    as in 4 (same bytes).
inline constexpr std::string_view kGeneratorVersion = "csp-dag/5";

/// Input shapes of the level tables: small ones for CPU tests, KernelBench-like ones for GPU runs.
enum class ShapeScale : uint8_t { kSmall, kRealistic };

/// A difficulty class: the space programs are drawn from, uniformly. Every field is a constraint.
struct SynthConfig {
  int level = 5;                     // recorded in each task; LevelConfig(level) sets the rest
  int min_nodes = 5;                 // compute operators per program (inclusive range)
  int max_nodes = 5;
  int max_inputs = 4;                // graph inputs (forward's arguments), at least 1
  int heavy_min = 0;                 // operators with OpSpec::heavy (matmul/conv class)
  int heavy_max = 2;
  int reductions_min = 0;            // operators with OpSpec::reduces
  int reductions_max = 2;
  int max_fanout = 3;                // most consumer edges out of one operator node
  // The counting DP tracks the rank of every pending value (a much tighter superset, far fewer
  // rejections; its state grows fast with the node count); false: one class, the first design's DP.
  // Both sample exactly uniformly; the program space is the same.
  bool rank_classes = true;
  std::vector<ir::Shape> shape_menu;  // every graph input's shape is one of these (float32)
  double max_flops = 1e9;            // whole-program budgets (ops::EstimateCost summed)
  double max_bytes = 1e9;
  std::vector<ops::OpId> ops;        // operators allowed; empty means every registered operator
  // 0: exact rejection sampling (every accepted draw exactly uniform). > 0: each draw is the state of
  // a Markov chain after this many steps from a searched valid start; the chain's stationary
  // distribution is uniform over valid programs, a finite chain only approximately (docs/SYNTH.md).
  // Levels above 7 use it: exact rejection accepts too few proposals there. No coverage strata then.
  int mcmc_steps = 0;
};

/// The level table (docs/SYNTH.md): level = number of compute operators (1..32), plus knobs.
/// Throws drtriton::ValueError for a level outside 1..32.
SynthConfig LevelConfig(int level, ShapeScale scale = ShapeScale::kSmall);

/// Why a proposal was rejected (each valid program is one accepted superset point).
enum class Reject : uint8_t {
  kShape,         // some node's InferOutput failed (rank, broadcast, channels, axis...)
  kValueRange,    // an operator's input domain does not hold (log of a possibly negative value...)
  kBudget,        // FLOP or byte budget exceeded
  kFanout,        // a node has more consumer edges than max_fanout
  kDuplicate,     // two nodes compute the same thing (same op, attrs, inputs)
  kDegenerate,    // a static rule proves the output constant or input-insensitive
  kNonCanonical,  // another operand order of commutative ops gives the canonical sequence
  kCount
};

std::string_view RejectName(Reject reason);

/// A stratum of the coverage-seeded stream: the valid programs whose output node applies `consumer`
/// and whose second-materialized node (always an argument of the output) applies `producer`, or,
/// with producer == OpId::kCount, every valid program whose output node applies `consumer`.
struct Stratum {
  ops::OpId producer = ops::OpId::kCount;
  ops::OpId consumer = ops::OpId::kCount;
};

/// Counts over every proposal a sampler made.
struct SynthStats {
  uint64_t proposals = 0;
  uint64_t accepted = 0;
  std::array<uint64_t, static_cast<int>(Reject::kCount)> rejected{};
  uint64_t chain_moves = 0;     // Markov-chain levels: moves accepted (proposals also count searches)
  uint64_t chain_restarts = 0;  // searches for a valid start that gave up and began afresh
};

class SamplerImpl;

/// Draws programs from one SynthConfig. Not thread-safe (it memoizes counts); use one per thread.
class Sampler {
 public:
  /// Validates the config (unknown shapes, empty op set, inconsistent ranges) and counts the
  /// superset; throws drtriton::ValueError or InfeasibleError with a one-line fix.
  explicit Sampler(SynthConfig config);
  ~Sampler();
  Sampler(Sampler&&) noexcept;
  Sampler& operator=(Sampler&&) noexcept;

  const SynthConfig& config() const;

  /// Size of the proposal superset (structural sequences x attrs x input shapes), as a double.
  double SupersetSize() const;

  /// One proposal from the uniform superset (of `stratum`, -1: the whole space), drawn with a fresh
  /// generator seeded by `seed`: the program if valid and canonical, else nullopt (the reason is
  /// counted in stats()).
  std::optional<ir::Graph> Propose(uint64_t seed, int stratum = -1);

  /// Draws until a proposal is accepted (at most `max_attempts`; InfeasibleError after that): exactly
  /// uniform over the valid programs of the space, or of `stratum` when it is >= 0. Attempt a is
  /// Propose(StreamSeed(seed, a)) (chain levels: one chain seeded by `seed`).
  /// Deterministic: the same seed gives the same program on every machine.
  ir::Graph Draw(uint64_t seed, uint64_t max_attempts = 1'000'000, int stratum = -1);

  /// The coverage strata of the space (docs/SYNTH.md): one per legal operator pair (level >= 2), then
  /// one per legal operator that no legal pair contains. Computed on first use.
  const std::vector<Stratum>& Strata();

  /// The stratum row `index` of base seed `seed` is drawn from in the coverage-seeded stream: rows
  /// 0..Strata().size()-1 visit every stratum once in a seeded random order; later rows, and every
  /// row when `strict_uniform`, return -1 (the whole space).
  int RowStratum(uint64_t seed, uint64_t index, bool strict_uniform = false);

  const SynthStats& stats() const;
  void ResetStats();

  SamplerImpl& impl() { return *impl_; }

 private:
  SamplerImpl* impl_;
};

/// Every valid program of a small space, each isomorphism class once (exhaustive walk of the
/// superset). Throws InfeasibleError when the superset has more than `max_points` points.
std::vector<ir::Graph> EnumerateValid(const SynthConfig& config, uint64_t max_points = 10'000'000);

/// Canonical key of a single-output program up to isomorphism (inputs renumbered by first use,
/// commutative operands unordered): equal keys <=> isomorphic programs. Bytes, not text.
std::string ProgramKey(const ir::Graph& graph);

/// Operator and producer->consumer pair statistics of a space (index pair = producer*kNumOps+consumer).
struct Coverage {
  std::vector<uint64_t> op_counts;       // per OpId: nodes drawn
  std::vector<uint64_t> pair_counts;     // per pair: edges drawn
  std::vector<uint8_t> op_legal;         // 1 if the op occurs in some valid program of the space
  std::vector<uint8_t> pair_legal;       // 1 if the pair occurs in some valid 2-node program
  uint64_t programs = 0;
};

/// Legality of ops and pairs in a space (by exhaustive search over 1- and 2-node programs under the
/// config's shapes, attrs, budgets); counts stay zero.
Coverage LegalCoverage(const SynthConfig& config);

/// Adds the ops and edges of `graph` to `coverage`'s counts.
void CountCoverage(const ir::Graph& graph, Coverage& coverage);

}  // namespace drtriton::synth
