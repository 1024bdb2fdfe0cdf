// Internal machinery of the sampler (core/src/synth): the counting DP over structural sequences, the
// walk that turns choices into a program, and the validity/canonicity check. Tests include it to
// drive the walk with their own chooser (exhaustive enumeration, a deliberately biased sampler).
#pragma once

#include <cstdint>
#include <optional>
#include <unordered_map>
#include <vector>

#include "drtriton/ir.h"
#include "drtriton/ops.h"
#include "drtriton/synth.h"
#include "synth/rng.h"

namespace drtriton::synth {

/// Source of the walk's decisions.
class Chooser {
 public:
  virtual ~Chooser() = default;
  /// An index in [0, n) with probability proportional to `weights` (>= 0, at least one > 0).
  virtual int Weighted(const double* weights, int n) = 0;
  /// A uniform index in [0, n), n > 0.
  virtual uint64_t Uniform(uint64_t n) = 0;
};

/// Exact sampler: weighted picks by cumulative sums over 53-bit uniform doubles.
class RngChooser final : public Chooser {
 public:
  explicit RngChooser(Rng& rng) : rng_(rng) {}
  int Weighted(const double* weights, int n) override;
  uint64_t Uniform(uint64_t n) override { return rng_.Below(n); }

 private:
  Rng& rng_;
};

/// Visits every superset point once: replays a path of choices, then advances it like an odometer.
/// Only options of positive weight are branches.
class OdometerChooser final : public Chooser {
 public:
  int Weighted(const double* weights, int n) override;
  uint64_t Uniform(uint64_t n) override;
  /// Moves to the next path; false when every path has been visited.
  bool Advance();

 private:
  uint64_t Next(uint64_t branches);
  std::vector<std::pair<uint64_t, uint64_t>> path_;  // (chosen, branches) per decision
  size_t pos_ = 0;
};

/// An argument of a node under construction: a graph input (by first-use index) or a node.
struct Ref {
  bool is_input = false;
  int id = 0;  // input index, or node creation id
};

struct ProtoNode {
  ops::OpId op{};
  std::vector<double> attrs;
  std::vector<Ref> args;
};

/// A drawn structural sequence with its attrs and input shapes.
struct Proto {
  std::vector<ProtoNode> nodes;  // by creation id; 0 is the sink
  std::vector<int> order;        // creation ids in materialization order (sink first)
  std::vector<int> input_shapes;  // shape-menu index of each graph input, by first-use index
};

class SamplerImpl {
 public:
  explicit SamplerImpl(SynthConfig config);

  const SynthConfig& config() const { return config_; }
  double SupersetSize() { return F(1, 0, 1, 0, 0, 0); }

  /// One walk through the superset driven by `chooser`.
  Proto Walk(Chooser& chooser);
  /// The program of a walk: nodes in topological order (reverse materialization), types inferred
  /// lazily by Check.
  ir::Graph Build(const Proto& proto) const;
  /// Infers types and checks every constraint; nullopt when the program is valid and canonical.
  std::optional<Reject> Check(ir::Graph& graph) const;

  std::optional<ir::Graph> Propose(Rng& rng);

  SynthStats stats;

 private:
  struct OpChoice {
    ops::OpId op;
    uint64_t combos;  // product of the attr domain sizes
  };
  struct OpClass {
    int arity = 1;
    int heavy = 0;   // counted in the DP state (0 when the heavy knob is not tracked)
    int reduce = 0;
    uint64_t combos = 0;  // sum over its ops
    std::vector<OpChoice> ops;
  };

  double F(int c, int m, int q, int u, int h, int d);
  double G(int s, int c, int m, int q, int u, int h, int d);
  uint64_t Key(int s, int c, int m, int q, int u, int h, int d) const;

  SynthConfig config_;
  std::vector<OpClass> classes_;
  bool track_heavy_ = false;
  bool track_reduce_ = false;
  std::unordered_map<uint64_t, double> memo_;
};

}  // namespace drtriton::synth
