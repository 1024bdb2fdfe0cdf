// Internal machinery of the sampler (core/src/synth): the rank-class counting DP over structural
// sequences, the walk that turns choices into a program, and the validity/canonicity check. Tests
// include it to drive the walk with their own chooser (exhaustive enumeration, a biased sampler).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <utility>
#include <algorithm>
#include <vector>

#include "drtriton/ir.h"
#include "drtriton/ops.h"
#include "drtriton/synth.h"
#include "synth/rng.h"

namespace drtriton::synth {

/// Tensor ranks 0..kMaxRank are the classes of pending values; the sink has its own class (any rank,
/// any dtype), always materialized first. Programs with a tensor of rank > kMaxRank are invalid.
inline constexpr int kMaxRank = 6;
inline constexpr int kRankClasses = kMaxRank + 1;
inline constexpr int kSinkClass = kRankClasses;
inline constexpr int kNumClasses = kRankClasses + 1;
/// Calls fn(attrs) for every combination of an op's attr choices; stops when fn returns true.
template <class Fn>
bool ForEachAttrs(const ops::OpSpec& spec, Fn&& fn) {
  std::vector<double> attrs(spec.attrs.size());
  std::vector<size_t> idx(spec.attrs.size(), 0);
  while (true) {
    for (size_t j = 0; j < idx.size(); ++j) attrs[j] = spec.attrs[j].choices[idx[j]];
    if (fn(attrs)) return true;
    size_t j = 0;
    while (j < idx.size() && ++idx[j] == spec.attrs[j].choices.size()) idx[j++] = 0;
    if (j == idx.size()) return false;
  }
}

/// Bounds of every level: compute operators and graph inputs of one program.
inline constexpr int kMaxNodes = 32;
inline constexpr int kMaxInputs = 15;

/// The output rank InferOutput gives `id` with `attrs` on inputs of ranks r0 (and r1 when binary),
/// or nullopt when the rank rule alone rejects them (rank limits, an axis attr >= rank, conv/pool
/// rank, equal ranks of loss/concat/bmm). Mirrors core/src/ops/shape.cc; a property test checks it.
std::optional<int> RankOut(ops::OpId id, std::span<const double> attrs, int r0, int r1);

/// True only when InferOutput surely rejects `id` on `inputs` for extents alone (binary operands that
/// do not broadcast, concat/loss/matmul/bmm extents that differ, squeeze of an extent != 1, unflatten
/// of an extent `size` does not divide); false means "ask InferOutput". Early rejection asks this
/// first because InferOutput formats a message on failure, and these are ~95% of the failures at
/// level 5. Mirrors core/src/ops/shape.cc; a property test checks it never contradicts InferOutput.
bool ExtentsClash(ops::OpId id, std::span<const double> attrs,
                  std::span<const ir::TensorType> inputs);

/// True when the binary operator applied to one value twice is statically degenerate (x - x, x / x,
/// mse_loss(x, x), cosine_similarity(x, x)): such programs are invalid (docs/SYNTH.md).
bool DegenerateOnOneValue(ops::OpId op);

/// Places in the walk a Markov-chain move can change (docs/SYNTH.md, "Levels above 7").
enum class Site : uint8_t {
  kStep,        // a materialization step starts
  kOpInGroup,   // the next decision is the (op, attrs) inside the chosen group (unforced steps only)
  kInputShape,  // the next decision is a new graph input's shape inside its rank's menu
};

/// Source of the walk's decisions.
class Chooser {
 public:
  virtual ~Chooser() = default;
  /// Called by the walk just before the decisions of `site`; ignored unless a chooser records them.
  virtual void Mark(Site) {}
  /// An index in [0, n) with probability proportional to `weights` (>= 0, at least one > 0).
  virtual int Weighted(const double* weights, int n) = 0;
  /// A uniform index in [0, n), n > 0.
  virtual uint64_t Uniform(uint64_t n) = 0;
  /// Weighted() for positive weights whose running sums (cumulative[i] = weights[0] + ... + weights[i],
  /// summed in that order) are known: the same index Weighted(weights, n) gives, faster where it matters.
  virtual int WeightedPositive(const double* weights, const double* /*cumulative*/, int n) {
    return Weighted(weights, n);
  }
};

/// Exact sampler: weighted picks by cumulative sums over 53-bit uniform doubles.
class RngChooser final : public Chooser {
 public:
  explicit RngChooser(Rng& rng) : rng_(rng) {}
  int Weighted(const double* weights, int n) override;
  uint64_t Uniform(uint64_t n) override { return rng_.Below(n); }
  /// Binary search over the running sums: the same draw and the same index as Weighted.
  int WeightedPositive(const double* weights, const double* cumulative, int n) override;

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

/// Records every decision of a walk (a tape) and where its sites are; replays the first `replay`
/// decisions of a given tape and draws the rest from an Rng. A superset point is its tape, so a chain
/// move edits a tape and replays it (core/src/synth/mcmc.cc).
class TapeChooser final : public Chooser {
 public:
  struct Decision {
    uint64_t value = 0;     // the index chosen
    uint64_t branches = 0;  // n of the call (a replay must see the same n)
  };
  /// Keeps tape[0..replay) and truncates the rest; later decisions are drawn from `rng`.
  void Start(Rng& rng, size_t replay);
  int Weighted(const double* weights, int n) override;
  uint64_t Uniform(uint64_t n) override;
  void Mark(Site site) override;

  std::vector<Decision> tape;
  std::vector<uint32_t> steps;        // tape position where each materialization step starts
  std::vector<int32_t> op_sites;      // per step: tape position of its op-in-group decision, or -1
  std::vector<uint32_t> shape_sites;  // tape position of each new input's shape decision

 private:
  Rng* rng_ = nullptr;
  size_t replay_ = 0;
  size_t pos_ = 0;
};

/// An argument of a node under construction: a graph input (by first-use index) or a node.
struct Ref {
  bool is_input = false;
  int id = 0;  // input index, or node creation id
};

struct ProtoNode {
  ops::OpId op{};
  std::span<const double> attrs;  // into the sampler's attr table (no allocation per proposal)
  std::array<Ref, ops::kMaxArity> args{};
  int arity = 0;
  int cls = 0;  // demanded class: the output rank, or kSinkClass
};

/// A drawn structural sequence with its attrs and input shapes.
struct Proto {
  std::vector<ProtoNode> nodes;   // by creation id; 0 is the sink
  std::vector<int> order;         // creation ids in materialization order (sink first)
  std::vector<int> input_shapes;  // shape-menu index of each graph input, by first-use index
  void Clear() {
    nodes.clear();
    order.clear();
    input_shapes.clear();
  }
};

/// Counters of the DP: how many values of each class are ready, open, or graph inputs already used.
struct DpState {
  std::array<uint8_t, kNumClasses> ready{};
  std::array<uint8_t, kRankClasses> open{};
  std::array<uint8_t, kRankClasses> inputs{};
  int c = 0, m = 0, u = 0, h = 0, d = 0;  // created, materialized, inputs, heavy, reductions
};

class SamplerImpl {
 public:
  explicit SamplerImpl(SynthConfig config);

  const SynthConfig& config() const { return config_; }
  double SupersetSize() { return StratumSize(-1); }

  /// One walk through the superset driven by `chooser`; stratum -1 is the whole space, otherwise an
  /// index into strata(): the sink's operator (and the second node's) is forced.
  Proto Walk(Chooser& chooser, int stratum = -1);
  /// With `early`, a node's type is inferred as soon as its arguments' types are known, and the walk
  /// stops (returns false, `proto` incomplete) at the first node whose shape rule fails: Check would
  /// reject that program too, so the accepted proposals are the same; only the rest of the walk is
  /// saved. The chooser then sees fewer decisions (Propose only; enumeration and chains walk fully).
  bool WalkInto(Chooser& chooser, int stratum, Proto& proto, bool early = false);
  /// The program of a walk: nodes in topological order (reverse materialization), types inferred
  /// by Check.
  ir::Graph Build(const Proto& proto) const;
  void BuildInto(const Proto& proto, ir::Graph& graph) const;
  /// Infers types and checks every constraint; nullopt when the program is valid and canonical.
  /// `typed`: every node's type is already the one InferOutput gives (an early walk inferred them).
  std::optional<Reject> Check(ir::Graph& graph, bool typed = false) const;

  std::optional<ir::Graph> Propose(Rng& rng, int stratum = -1);
  /// Levels with config.mcmc_steps > 0 (mcmc.cc): a Markov chain over valid superset points whose
  /// stationary distribution is uniform; its start is found by a greedy search. nullopt when no valid
  /// start was found within `max_proposals` walks.
  std::optional<ir::Graph> DrawChain(Rng& rng, int stratum, uint64_t max_proposals);
  /// Nodes (in topological order) whose shape rule, rank bound and value domain hold with every input
  /// good: the search's score (n when only whole-program checks can still fail). Infers types.
  int GoodNodes(ir::Graph& graph) const;
  int SearchScore(ir::Graph& graph, Reject reason) const;

  /// Weighted size of the superset restricted to a stratum (-1: all).
  double StratumSize(int stratum);
  /// The coverage strata (computed on first use): one per legal pair (level >= 2), then one per
  /// legal operator no pair contains. Order: producer-major, as in Coverage.
  const std::vector<Stratum>& strata();

  size_t MemoSize() const { return memo_.Size(); }

  SynthStats stats;
  // The seeded order of strata of the last base seed asked for (Sampler::RowStratum).
  std::vector<int> stratum_order;
  std::optional<uint64_t> stratum_order_seed;

 private:
  struct Choice {
    ops::OpId op;
    uint32_t attrs;  // offset into attr_pool_
  };
  // Every (op, attrs) whose rank rule maps input classes `in` to the group's output class.
  struct Group {
    int arity = 1;
    int heavy = 0;  // counted in the DP state (0 when the heavy knob is not tracked)
    int reduce = 0;
    std::array<int8_t, ops::kMaxArity> in{};
    uint32_t first = 0, count = 0;  // range of choices_
  };
  struct Key {
    uint64_t a, b, c;
    friend bool operator==(const Key&, const Key&) = default;
  };
  struct KeyHash {
    static uint64_t Mix(uint64_t z) {  // splitmix64's finalizer: every input bit moves every output bit
      z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
      z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
      return z ^ (z >> 31);
    }
    size_t operator()(const Key& k) const {
      return static_cast<size_t>(Mix(Mix(Mix(k.a) ^ k.b) ^ k.c));
    }
  };

  // Open addressing with linear probing: one cache line per lookup in the common case (the DP and
  // the walk are lookup-bound). Pointers from Find are valid until the next Insert.
  template <class V>
  class FlatMap {
   public:
    const V* Find(const Key& key) const {
      if (slots_.empty()) return nullptr;
      for (size_t i = KeyHash{}(key) & mask_;; i = (i + 1) & mask_) {
        const Slot& slot = slots_[i];
        if (!slot.used) return nullptr;
        if (slot.key == key) return &slot.value;
      }
    }
    void Insert(const Key& key, V value) {  // key must be absent
      if ((size_ + 1) * 2 > slots_.size()) Rehash(std::max<size_t>(64, slots_.size() * 2));
      size_t i = KeyHash{}(key) & mask_;
      while (slots_[i].used) i = (i + 1) & mask_;
      slots_[i] = {key, value, true};
      ++size_;
    }
    template <class Pred>
    void EraseIf(Pred pred) {
      std::vector<Slot> old = std::move(slots_);
      slots_.assign(old.size(), Slot{});
      size_ = 0;
      for (const Slot& slot : old) {
        if (slot.used && !pred(slot.key)) Insert(slot.key, slot.value);
      }
    }
    void Clear() {
      slots_.clear();
      size_ = 0;
    }
    size_t Size() const { return size_; }

   private:
    struct Slot {
      Key key{0, 0, 0};
      V value{};
      bool used = false;
    };
    void Rehash(size_t capacity) {
      std::vector<Slot> old = std::move(slots_);
      slots_.assign(capacity, Slot{});
      mask_ = capacity - 1;
      size_ = 0;
      for (const Slot& slot : old) {
        if (slot.used) Insert(slot.key, slot.value);
      }
    }
    std::vector<Slot> slots_;
    size_t mask_ = 0;
    size_t size_ = 0;
  };

  double F(const DpState& st, int tag);
  double G(int s, const int8_t* slots, const DpState& st, int tag);
  Key MakeKey(int s, const int8_t* slots, const DpState& st, int tag) const;
  // Choices of group g allowed at materialization step m of stratum tag-1 (all when unforced).
  double Allowed(const Group& g, int m, int tag) const;
  int ForcedOp(int m, int tag) const;
  // A new node may be created (node budget).
  bool CanCreate(const DpState& st) const;

  SynthConfig config_;
  std::array<std::vector<Group>, kNumClasses> groups_;
  std::vector<Choice> choices_;
  std::vector<double> attr_pool_;
  std::array<std::vector<int>, kRankClasses> menu_of_rank_;  // shape-menu indices per class
  bool track_heavy_ = false;
  bool track_reduce_ = false;
  std::vector<Stratum> strata_;
  bool strata_ready_ = false;
  FlatMap<double> memo_;
  std::pair<uint32_t, uint32_t> Picks(const DpState& before, int r, int tag);
  static constexpr size_t kMaxCachedPicks = size_t{1} << 24;  // 16M picks, ~200 MB at most
  FlatMap<std::pair<uint32_t, uint32_t>> pick_cache_;
  std::vector<double> pick_weights_;
  std::vector<double> pick_cumulative_;  // running sums of each cached pick list (WeightedPositive)
  std::vector<uint32_t> pick_groups_;
  // ---- the walk cache: the DP states a walk visits, linked by the walk's transitions ----
  // A step node is a state where the next ready value is materialized: its positive group picks
  // (weights, running sums, group; a copy of Picks) and the slot node each pick leads to. A slot node
  // is a state inside a node with argument slots still to fill: the six argument-choice weights (the
  // terms of G) and the node each choice leads to (the next slot, or after the last slot the next
  // step). Links are resolved on first use through the state's key (step_index_, slot_index_); then a
  // walk follows indices instead of hashing its state at every decision (the walk was ~60% of level-5
  // time, most of it in hash lookups that missed the cache). Same doubles, same draws.
  static constexpr int32_t kUnresolved = -1;
  static constexpr size_t kMaxWalkCache = size_t{1} << 22;  // nodes + picks; then start afresh
  struct StepNode {
    uint32_t first = 0, len = 0;  // range of step_weights_ / _cumulative_ / _groups_ / _children_
  };
  struct SlotNode {
    std::array<double, 6> w{0, 0, 0, 0, 0, 0};
    std::array<int32_t, 6> child{kUnresolved, kUnresolved, kUnresolved,
                                 kUnresolved, kUnresolved, kUnresolved};
  };
  std::vector<StepNode> step_nodes_;
  std::vector<double> step_weights_, step_cumulative_;
  std::vector<uint32_t> step_groups_;
  std::vector<int32_t> step_children_;
  std::vector<SlotNode> slot_nodes_;
  FlatMap<int32_t> step_index_, slot_index_;
  std::pair<int32_t, int> root_step_{kUnresolved, 0};  // (step node, stratum tag) a walk starts at
  // The node of a state about to materialize its lowest ready class r / about to fill `slots`.
  int32_t StepNodeOf(const DpState& st, int r, int tag);
  int32_t SlotNodeOf(int s, const int8_t* slots, const DpState& st, int tag);
  void ClearWalkCache();
  // Early rejection in the walk (WalkInto with early): the type of each created node once known, how
  // many of its node arguments are still untyped, and its consumer edges (a linked list per producer).
  struct WalkTypes {
    std::array<ir::TensorType, kMaxNodes> type;
    std::array<uint8_t, kMaxNodes> pending{};
    std::array<int8_t, kMaxNodes> first_edge{};
    std::array<int8_t, kMaxNodes * ops::kMaxArity> edge_to{}, edge_next{};
    int edges = 0;
  };
  WalkTypes walk_types_;
  std::vector<ir::TensorType> menu_types_;  // the shape menu as float32 tensor types
  // The type of a leaf (a node whose arguments are all graph inputs) per (op, attrs, menu indices),
  // an index into leaf_types_ or kNoType when the rule fails: InferOutput is a pure function, and
  // this table is bounded (choices x menu entries^arity), so leaves skip it once seen.
  static constexpr int32_t kNoType = -1;
  FlatMap<int32_t> leaf_type_index_;
  std::vector<ir::TensorType> leaf_types_;
  // The output type of `node` on `args` (ExtentsClash, then InferOutput), or nullopt.
  std::optional<ir::TensorType> InferNode(const ProtoNode& node, std::span<const ir::TensorType> args) const;
  // Types node v, then every consumer whose last untyped argument it was; false at the first node
  // whose shape rule fails (or whose rank exceeds kMaxRank).
  bool TypeUpward(const Proto& proto, int v);
  // Scratch of the walk and the check (reused: no allocation per rejected proposal once warm).
  Proto proto_;
  ir::Graph graph_;
  mutable std::vector<ir::TensorType> scratch_args_;
  mutable std::vector<ops::Range> scratch_ranges_;
  mutable std::vector<int> scratch_fanout_;
  // The chain's current point and its trial move (mcmc.cc).
  TapeChooser chain_cur_, chain_trial_;
  ir::Graph chain_graph_;
  bool ChainMove(Rng& rng);
  bool FixMove(Rng& rng);
  bool SearchStart(Rng& rng, uint64_t max_proposals);
  void RunChain(Rng& rng, int steps);
  std::vector<std::optional<std::pair<TapeChooser, ir::Graph>>> start_pool_;
  // Nodes that fail while their inputs are good: of the last GoodNodes call, of the current point.
  mutable std::vector<int> frontier_;
  std::vector<int> frontier_cur_;
  std::optional<Reject> EvalTrial(int stratum);
};

}  // namespace drtriton::synth
