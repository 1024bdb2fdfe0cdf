// The CSP-DAG sampler: an exact count of structural sequences (DP), the choosers a walk (walk.cc) draws
// one sequence with, and the program it spells. docs/SYNTH.md has the derivation.
#include <algorithm>
#include <map>
#include <tuple>
#include <utility>

#include "support/check.h"
#include "synth/csp.h"
#include "synth/no_fp_contract.h"

namespace drtriton::synth {

// ---- choosers ----

int RngChooser::Weighted(const double* weights, int n) {
  double total = 0;
  for (int i = 0; i < n; ++i) total += weights[i];
  DRT_ICHECK(total > 0);
  const double x = rng_.Unit() * total;
  double cumulative = 0;
  int last_positive = -1;
  for (int i = 0; i < n; ++i) {
    if (weights[i] <= 0) continue;
    last_positive = i;
    cumulative += weights[i];
    if (x < cumulative) return i;
  }
  return last_positive;  // x rounded up to the total: the last positive option
}

int RngChooser::WeightedPositive(const double* weights, const double* cumulative, int n) {
  DRT_ICHECK(n > 0 && cumulative[n - 1] > 0);
  (void)weights;
  // Weighted sums the same weights in the same order (adding no zeros here), so total, x and the first
  // running sum above x are the same doubles.
  const double x = rng_.Unit() * cumulative[n - 1];
  const double* hit = std::upper_bound(cumulative, cumulative + n, x);
  return hit == cumulative + n ? n - 1 : static_cast<int>(hit - cumulative);
}

uint64_t OdometerChooser::Next(uint64_t branches) {
  DRT_ICHECK(branches > 0);
  if (pos_ < path_.size()) {
    DRT_ICHECK(path_[pos_].second == branches);
    return path_[pos_++].first;
  }
  path_.emplace_back(0, branches);
  ++pos_;
  return 0;
}

int OdometerChooser::Weighted(const double* weights, int n) {
  int positive = 0;
  for (int i = 0; i < n; ++i) positive += weights[i] > 0;
  uint64_t j = Next(static_cast<uint64_t>(positive));
  for (int i = 0; i < n; ++i) {
    if (weights[i] > 0 && j-- == 0) return i;
  }
  DRT_ICHECK(false);
  return -1;
}

uint64_t OdometerChooser::Uniform(uint64_t n) { return Next(n); }

bool OdometerChooser::Advance() {
  path_.resize(pos_);
  pos_ = 0;
  while (!path_.empty() && path_.back().first + 1 == path_.back().second) path_.pop_back();
  if (path_.empty()) return false;
  ++path_.back().first;
  return true;
}

// ---- rank rules ----

std::optional<int> RankOut(ops::OpId id, std::span<const double> attrs, int r0, int r1) {
  using ops::ShapeRule;
  const ops::OpSpec& spec = ops::Spec(id);
  if (r0 < spec.min_rank || r0 > spec.max_rank) return std::nullopt;
  auto attr = [&](std::string_view name) {
    return static_cast<int64_t>(attrs[static_cast<size_t>(ops::AttrIndex(id, name))]);
  };
  auto when = [](bool ok, int rank) -> std::optional<int> {
    return ok ? std::optional<int>(rank) : std::nullopt;
  };
  switch (spec.shape) {
    case ShapeRule::kSameAsInput:
      return r0;
    case ShapeRule::kSameAlongAxis:
      return when(attr("dim") < r0, r0);
    case ShapeRule::kSpatialStats:
      return when(r0 >= 3, r0);  // rank <= 2 has one spatial element per channel
    case ShapeRule::kGroupNorm:
      return when(r0 >= 2, r0);
    case ShapeRule::kBroadcast:
      return std::max(r0, r1);
    case ShapeRule::kReduceAxis:
      return when(attr("dim") < r0, attr("keepdim") ? r0 : r0 - 1);
    case ShapeRule::kLoss:
      return when(r0 == r1, 0);
    case ShapeRule::kBroadcastReduce:
      return when(attr("dim") < std::max(r0, r1), std::max(r0, r1) - 1);
    case ShapeRule::kLinear:
      return when(r0 >= 1, r0);
    case ShapeRule::kMatmul:
      return when(r1 >= spec.min_rank && r1 <= spec.max_rank && r0 >= 2 && r1 >= 2,
                  std::max(r0, r1));
    case ShapeRule::kBmm:
      return when(r1 >= spec.min_rank && r1 <= spec.max_rank && r0 >= 2 && r0 == r1, r0);
    case ShapeRule::kConvTranspose:  // output_padding < stride, whatever the shapes
      return when(r0 == spec.spatial + 2 && attr("output_padding") < attr("stride"), r0);
    case ShapeRule::kConv:
    case ShapeRule::kPool:
    case ShapeRule::kAdaptivePool:
      return when(r0 == spec.spatial + 2, r0);
    case ShapeRule::kFlatten:
      return when(attr("start_dim") < r0, static_cast<int>(attr("start_dim")) + 1);
    case ShapeRule::kUnflatten:
      return when(attr("dim") < r0, r0 + 1);
    case ShapeRule::kTranspose:
      return when(attr("dim0") < r0 && attr("dim1") < r0 && attr("dim0") < attr("dim1"), r0);
    case ShapeRule::kUnsqueeze:
      return when(attr("dim") <= r0, r0 + 1);
    case ShapeRule::kSqueeze:
      return when(attr("dim") < r0, r0 - 1);
    case ShapeRule::kConcat:
      return when(attr("dim") < r0 && r1 == r0, r0);
  }
  return std::nullopt;
}

// ---- config validation and the (class, op, attrs, input classes) table ----

SamplerImpl::SamplerImpl(SynthConfig config) : config_(std::move(config)) {
  const SynthConfig& c = config_;
  DRT_CHECK(c.min_nodes >= 1 && c.min_nodes <= c.max_nodes && c.max_nodes <= kMaxNodes, ValueError,
            "node range must satisfy 1 <= min_nodes <= max_nodes <= " << kMaxNodes << ", got "
                << c.min_nodes << ".." << c.max_nodes << "; pick a level in 1.." << kMaxNodes);
  DRT_CHECK(c.max_inputs >= 1 && c.max_inputs <= kMaxInputs, ValueError,
            "max_inputs must be in 1.." << kMaxInputs << ", got " << c.max_inputs);
  DRT_CHECK(c.heavy_min >= 0 && c.heavy_min <= c.heavy_max, ValueError,
            "heavy range must satisfy 0 <= min <= max, got " << c.heavy_min << ".." << c.heavy_max
                                                             << "; pass e.g. --heavy 0:2");
  DRT_CHECK(c.reductions_min >= 0 && c.reductions_min <= c.reductions_max, ValueError,
            "reductions range must satisfy 0 <= min <= max, got "
                << c.reductions_min << ".." << c.reductions_max << "; pass e.g. --reductions 0:2");
  DRT_CHECK(c.heavy_min <= c.max_nodes && c.reductions_min <= c.max_nodes, InfeasibleError,
            "heavy_min " << c.heavy_min << " / reductions_min " << c.reductions_min
                         << " exceed the " << c.max_nodes << " operators of the level; lower them");
  DRT_CHECK(c.max_fanout >= 1, ValueError,
            "max_fanout must be at least 1, got " << c.max_fanout << "; pass --max-fanout 2 or more");
  DRT_CHECK(!c.shape_menu.empty(), ValueError, "shape menu is empty; give at least one input shape");
  for (size_t i = 0; i < c.shape_menu.size(); ++i) {
    const auto& shape = c.shape_menu[i];
    DRT_CHECK(static_cast<int>(shape.size()) <= kMaxRank, ValueError,
              "shape menu entry " << i << " has rank " << shape.size() << ", above the limit "
                                  << kMaxRank << "; use tensors of rank <= " << kMaxRank);
    for (int64_t dim : shape) {
      DRT_CHECK(dim > 0, ValueError, "shape menu has a non-positive extent " << dim << "; use >= 1");
    }
    menu_of_rank_[c.rank_classes ? shape.size() : 0].push_back(static_cast<int>(i));
    menu_types_.push_back({.shape = shape, .dtype = ir::DType::kFloat32});
  }
  DRT_CHECK(c.max_flops > 0 && c.max_bytes > 0, ValueError,
            "FLOP and byte budgets must be positive, got " << c.max_flops << " and " << c.max_bytes);

  if (config_.ops.empty()) {
    for (const auto& spec : ops::Registry()) config_.ops.push_back(spec.id);
  }
  std::sort(config_.ops.begin(), config_.ops.end());
  config_.ops.erase(std::unique(config_.ops.begin(), config_.ops.end()), config_.ops.end());

  track_heavy_ = !(c.heavy_min == 0 && c.heavy_max >= c.max_nodes);
  track_reduce_ = !(c.reductions_min == 0 && c.reductions_max >= c.max_nodes);
  // Group every (op, attrs, input ranks) by (output class, heavy, reduce, input classes): the DP only
  // needs each group's size; the walk picks uniformly inside the chosen group. Ops are in id order
  // inside a group (stratum counts use binary search on it).
  // Without rank classes every value is class 0 and each (op, attrs) joins its group once.
  const auto cls = [&](int rank) { return c.rank_classes ? rank : 0; };
  using GroupKey = std::tuple<int, int, int, int, int, int>;  // class, heavy, reduce, arity, in0, in1
  std::map<GroupKey, std::vector<Choice>> table;
  auto add = [&](const GroupKey& key, Choice choice) {
    auto& list = table[key];
    if (c.rank_classes || list.empty() || list.back().op != choice.op ||
        list.back().attrs != choice.attrs) {
      list.push_back(choice);
    }
  };
  for (ops::OpId id : config_.ops) {
    const ops::OpSpec& spec = ops::Spec(id);
    DRT_ICHECK(spec.arity >= 1 && spec.arity <= ops::kMaxArity);
    DRT_ICHECK(!spec.commutative || spec.arity == 2);
    const int heavy = track_heavy_ && spec.heavy;
    const int reduce = track_reduce_ && spec.reduces;
    ForEachAttrs(spec, [&](const std::vector<double>& choice) {
      const auto offset = static_cast<uint32_t>(attr_pool_.size());
      attr_pool_.insert(attr_pool_.end(), choice.begin(), choice.end());
      const std::span<const double> attrs(attr_pool_.data() + offset, choice.size());
      for (int r0 = 0; r0 <= kMaxRank; ++r0) {
        for (int r1 = 0; r1 <= (spec.arity == 2 ? kMaxRank : 0); ++r1) {
          const auto out = RankOut(id, attrs, r0, spec.arity == 2 ? r1 : 0);
          if (!out || *out < 0 || *out > kMaxRank) continue;
          const int in0 = cls(r0), in1 = spec.arity == 2 ? cls(r1) : 0;
          // int64 outputs (argmax) feed no operator: they can only be the program's output.
          if (spec.dtype != ops::DtypeRule::kIndexOut) {
            add({cls(*out), heavy, reduce, spec.arity, in0, in1}, {id, offset});
          }
          add({kSinkClass, heavy, reduce, spec.arity, in0, in1}, {id, offset});
        }
      }
      return false;
    });
  }
  for (const auto& [key, list] : table) {
    const auto [cls, heavy, reduce, arity, r0, r1] = key;
    Group g;
    g.arity = arity;
    g.heavy = heavy;
    g.reduce = reduce;
    g.in = {static_cast<int8_t>(r0), static_cast<int8_t>(r1)};
    g.first = static_cast<uint32_t>(choices_.size());
    g.count = static_cast<uint32_t>(list.size());
    choices_.insert(choices_.end(), list.begin(), list.end());
    groups_[cls].push_back(g);
  }
  DRT_CHECK(SupersetSize() > 0, InfeasibleError,
            "no program has " << c.min_nodes << ".." << c.max_nodes << " operators, <= "
                              << c.max_inputs << " inputs, heavy " << c.heavy_min << ".."
                              << c.heavy_max << " and reductions " << c.reductions_min << ".."
                              << c.reductions_max
                              << " with the allowed operators; widen the ranges or allow more ops");
}

// ---- the counting DP ----
// F: weighted number of completions when the next ready value is about to be materialized (the
// lowest class first, FIFO within a class). G: the same inside a node, with s argument slots of
// classes slots[0..s) still to fill. A stratum tag forces the operator of the first two nodes, so it
// only enters the key while m <= 1.

SamplerImpl::Key SamplerImpl::MakeKey(int s, const int8_t* slots, const DpState& st, int tag) const {
  Key k{0, 0, 0};
  for (int i = 0; i < kNumClasses; ++i) k.a |= static_cast<uint64_t>(st.ready[i]) << (6 * i);
  k.a |= static_cast<uint64_t>(st.m) << 48 | static_cast<uint64_t>(s) << 54;
  if (s >= 1 && s <= 2) k.a |= static_cast<uint64_t>(slots[0]) << 56;
  if (s == 2) k.a |= static_cast<uint64_t>(slots[1]) << 59;
  for (int i = 0; i < kRankClasses; ++i) k.b |= static_cast<uint64_t>(st.open[i]) << (6 * i);
  k.b |= static_cast<uint64_t>(st.c) << 42 | static_cast<uint64_t>(st.h) << 48 |
         static_cast<uint64_t>(st.d) << 54;
  for (int i = 0; i < kRankClasses; ++i) k.c |= static_cast<uint64_t>(st.inputs[i]) << (4 * i);
  k.c |= static_cast<uint64_t>(st.m <= 1 ? tag : 0) << 32;
  return k;
}

bool SamplerImpl::CanCreate(const DpState& st) const { return st.c < config_.max_nodes; }

int SamplerImpl::ForcedOp(int m, int tag) const {
  if (tag == 0 || m > 1) return -1;
  const Stratum& s = strata_[tag - 1];
  if (m == 0) return static_cast<int>(s.consumer);
  return s.producer == ops::OpId::kCount ? -1 : static_cast<int>(s.producer);
}

double SamplerImpl::Allowed(const Group& g, int m, int tag) const {
  const int forced = ForcedOp(m, tag);
  if (forced < 0) return g.count;
  const Choice* begin = choices_.data() + g.first;
  const Choice* end = begin + g.count;
  const auto by_op = [](const Choice& a, const Choice& b) { return a.op < b.op; };
  const Choice probe{static_cast<ops::OpId>(forced), 0};
  const auto range = std::equal_range(begin, end, probe, by_op);
  return static_cast<double>(range.second - range.first);
}

double SamplerImpl::F(const DpState& st, int tag) {
  const SynthConfig& cfg = config_;
  int r = 0;
  while (r < kNumClasses && st.ready[r] == 0) ++r;
  if (r == kNumClasses) {
    for (uint8_t o : st.open) {
      if (o) return 0;  // open values never closed
    }
    if (st.c < cfg.min_nodes) return 0;
    if (st.m < 2 && ForcedOp(1, tag) >= 0) return 0;  // a pair stratum needs a second node
    if (track_heavy_ && st.h < cfg.heavy_min) return 0;
    if (track_reduce_ && st.d < cfg.reductions_min) return 0;
    return 1;
  }
  const Key key = MakeKey(3, nullptr, st, tag);
  if (const double* memo = memo_.Find(key)) return *memo;
  // The positive terms are also the walk's choices at this state: keep them (Picks).
  const auto [offset, len] = Picks(st, r, tag);
  double total = 0;
  for (uint32_t i = offset; i < offset + len; ++i) total += pick_weights_[i];
  memo_.Insert(key, total);
  return total;
}

double SamplerImpl::G(int s, const int8_t* slots, const DpState& st, int tag) {
  if (s == 0) return F(st, tag);
  const Key key = MakeKey(s, slots, st, tag);
  if (const double* memo = memo_.Find(key)) return *memo;
  const SynthConfig& cfg = config_;
  const int t = slots[0];
  const int8_t* rest = slots + 1;
  double total = 0;
  DpState next = st;
  if (CanCreate(st)) {
    ++next.c;
    ++next.ready[t];
    total += G(s - 1, rest, next, tag);  // a new node, referenced only here
    --next.ready[t];
    ++next.open[t];
    total += G(s - 1, rest, next, tag);  // a new node that will be referenced again
    next = st;
  }
  if (st.open[t] > 0) {
    const double o = st.open[t];
    total += o * G(s - 1, rest, st, tag);  // an open value of this class, still open after
    --next.open[t];
    ++next.ready[t];
    total += o * G(s - 1, rest, next, tag);  // an open value, this is its last reference
    next = st;
  }
  if (st.inputs[t] > 0) total += st.inputs[t] * G(s - 1, rest, st, tag);  // a used graph input
  if (st.u < cfg.max_inputs && !menu_of_rank_[t].empty()) {
    ++next.inputs[t];
    ++next.u;
    total += static_cast<double>(menu_of_rank_[t].size()) * G(s - 1, rest, next, tag);
  }
  memo_.Insert(key, total);
  return total;
}

double SamplerImpl::StratumSize(int stratum) {
  DpState st;
  st.ready[kSinkClass] = 1;
  st.c = 1;
  return F(st, stratum + 1);
}

const std::vector<Stratum>& SamplerImpl::strata() {
  if (strata_ready_) return strata_;
  if (config_.mcmc_steps > 0) {  // chain levels: no coverage strata (docs/SYNTH.md)
    strata_ready_ = true;
    return strata_;
  }
  const Coverage legal = LegalCoverage(config_);
  std::vector<uint8_t> in_pair(ops::kNumOps, 0);
  std::vector<Stratum> candidates;
  for (int a = 0; a < ops::kNumOps; ++a) {
    for (int b = 0; b < ops::kNumOps; ++b) {
      if (!legal.pair_legal[static_cast<size_t>(a) * ops::kNumOps + b]) continue;
      candidates.push_back({static_cast<ops::OpId>(a), static_cast<ops::OpId>(b)});
      in_pair[a] = in_pair[b] = 1;
    }
  }
  for (int a = 0; a < ops::kNumOps; ++a) {
    if (legal.op_legal[a] && !in_pair[a]) candidates.push_back({ops::OpId::kCount, static_cast<ops::OpId>(a)});
  }
  // Keep the strata the superset can reach (a legal pair whose producer is never the second node
  // materialized, e.g. at level 1, has an empty stratum).
  strata_ = candidates;
  strata_ready_ = true;
  std::vector<Stratum> kept;
  for (size_t i = 0; i < candidates.size(); ++i) {
    if (StratumSize(static_cast<int>(i)) > 0) kept.push_back(candidates[i]);
  }
  // Tags index strata_: forget the memo entries of the candidate numbering before renumbering.
  memo_.EraseIf([](const Key& key) { return (key.c >> 32) != 0; });
  pick_cache_.EraseIf([](const Key& key) { return (key.c >> 32) != 0; });
  ClearWalkCache();  // its nodes of stratum tags were keyed by the candidate numbering
  strata_ = std::move(kept);
  return strata_;
}

// ---- the walk's step choices (the walk itself: walk.cc) ----

// The groups of positive weight when the value of class r is materialized from state `before`
// (the lowest ready class is r), with their weights: cached per state, since summing them means one DP
// lookup per group. Returns [offset, len) in pick_weights_/pick_groups_.
std::pair<uint32_t, uint32_t> SamplerImpl::Picks(const DpState& before, int r, int tag) {
  const SynthConfig& cfg = config_;
  const Key key = MakeKey(3, nullptr, before, tag);  // the state before the pop decides r
  if (const auto* cached = pick_cache_.Find(key)) return *cached;
  // Collect first: the G calls below recurse into F and Picks, which append their own lists.
  std::vector<std::pair<double, uint32_t>> found;
  DpState next = before;
  --next.ready[r];
  ++next.m;
  const int m = before.m;
  const auto& groups = groups_[r];
  for (size_t i = 0; i < groups.size(); ++i) {
    const Group& g = groups[i];
    next.h = before.h + g.heavy;
    next.d = before.d + g.reduce;
    if (track_heavy_ && next.h > cfg.heavy_max) continue;
    if (track_reduce_ && next.d > cfg.reductions_max) continue;
    const double n = Allowed(g, m, tag);
    if (n <= 0) continue;
    const double w = n * G(g.arity, g.in.data(), next, tag);
    if (w > 0) found.emplace_back(w, static_cast<uint32_t>(i));
  }
  if (pick_weights_.size() + found.size() > kMaxCachedPicks) {  // bound the memory: start afresh
    pick_cache_.Clear();
    pick_weights_.clear();
    pick_cumulative_.clear();
    pick_groups_.clear();
  }
  const auto offset = static_cast<uint32_t>(pick_weights_.size());
  for (const auto& [w, i] : found) {
    pick_cumulative_.push_back((pick_weights_.size() > offset ? pick_cumulative_.back() : 0.0) + w);
    pick_weights_.push_back(w);
    pick_groups_.push_back(i);
  }
  const std::pair<uint32_t, uint32_t> range{offset, static_cast<uint32_t>(found.size())};
  pick_cache_.Insert(key, range);
  return range;
}

// ---- programs and proposals ----

ir::Graph SamplerImpl::Build(const Proto& proto) const {
  ir::Graph graph;
  BuildInto(proto, graph);
  return graph;
}

void SamplerImpl::BuildInto(const Proto& proto, ir::Graph& graph) const {
  const int k = static_cast<int>(proto.input_shapes.size());
  const int n = static_cast<int>(proto.nodes.size());
  // creation id -> value id; reverse materialization order is topological.
  std::array<int, kMaxNodes> value_of{};
  for (int pos = 0; pos < n; ++pos) value_of[proto.order[pos]] = k + (n - 1 - pos);
  graph.inputs.resize(k);
  for (int i = 0; i < k; ++i) {
    graph.inputs[i].shape = config_.shape_menu[proto.input_shapes[i]];
    graph.inputs[i].dtype = ir::DType::kFloat32;
  }
  graph.nodes.resize(n);
  for (int pos = 0; pos < n; ++pos) {
    const ProtoNode& src = proto.nodes[proto.order[pos]];
    ir::Node& dst = graph.nodes[n - 1 - pos];
    dst.op = src.op;
    dst.attrs.assign(src.attrs.begin(), src.attrs.end());
    dst.inputs.resize(src.arity);
    for (int a = 0; a < src.arity; ++a) {
      const Ref& ref = src.args[a];
      dst.inputs[a] = ref.is_input ? ref.id : value_of[ref.id];
    }
  }
  graph.outputs.assign(1, k + n - 1);
}

std::optional<ir::Graph> SamplerImpl::Propose(Rng& rng, int stratum) {
  RngChooser chooser(rng);
  ++stats.proposals;
  if (!WalkInto(chooser, stratum, proto_, /*early=*/true)) {  // a node's shape rule failed
    ++stats.rejected[static_cast<int>(Reject::kShape)];
    return std::nullopt;
  }
  BuildInto(proto_, graph_);
  const int n = static_cast<int>(proto_.order.size());
  for (int pos = 0; pos < n; ++pos) {  // the walk inferred every type: Check need not again
    graph_.nodes[n - 1 - pos].type = walk_types_.type[proto_.order[pos]];
  }
  if (auto reason = Check(graph_, /*typed=*/true)) {
    ++stats.rejected[static_cast<int>(*reason)];
    return std::nullopt;
  }
  ++stats.accepted;
  return graph_;
}

// ---- public API ----

Sampler::Sampler(SynthConfig config) : impl_(new SamplerImpl(std::move(config))) {}
Sampler::~Sampler() { delete impl_; }
Sampler::Sampler(Sampler&& other) noexcept : impl_(std::exchange(other.impl_, nullptr)) {}
Sampler& Sampler::operator=(Sampler&& other) noexcept {
  std::swap(impl_, other.impl_);
  return *this;
}

const SynthConfig& Sampler::config() const { return impl_->config(); }
double Sampler::SupersetSize() const { return impl_->SupersetSize(); }
const SynthStats& Sampler::stats() const { return impl_->stats; }
void Sampler::ResetStats() { impl_->stats = {}; }

std::optional<ir::Graph> Sampler::Propose(uint64_t seed, int stratum) {
  Rng rng(seed);
  return impl_->Propose(rng, stratum);
}

ir::Graph Sampler::Draw(uint64_t seed, uint64_t max_attempts, int stratum) {
  if (stratum >= 0) {
    DRT_CHECK(stratum < static_cast<int>(impl_->strata().size()), ValueError,
              "stratum " << stratum << " is out of range (" << impl_->strata().size()
                         << " strata); pass -1 for the whole space");
  }
  if (config().mcmc_steps > 0) {
    Rng rng(seed);
    if (auto graph = impl_->DrawChain(rng, stratum, max_attempts)) return std::move(*graph);
    DRT_CHECK(false, InfeasibleError,
              "no valid start for the level-" << config().level << " chain in " << max_attempts
                                              << " proposals; widen the shape menu, budgets or "
                                                 "operator set, or lower the level");
  }
  // Attempt a has its own stream: a draw depends on which proposals are accepted, never on how much
  // randomness a rejected one consumed (early rejection stops a walk part-way).
  for (uint64_t attempt = 0; attempt < max_attempts; ++attempt) {
    Rng attempt_rng(StreamSeed(seed, attempt));
    if (auto graph = impl_->Propose(attempt_rng, stratum)) return std::move(*graph);
  }
  DRT_CHECK(false, InfeasibleError,
            "no valid program in " << max_attempts << " proposals (level " << config().level
                                   << "); widen the shape menu, budgets or operator set");
  return {};
}

const std::vector<Stratum>& Sampler::Strata() { return impl_->strata(); }

int Sampler::RowStratum(uint64_t seed, uint64_t index, bool strict_uniform) {
  if (strict_uniform) return -1;
  const auto& strata = impl_->strata();
  if (index >= strata.size()) return -1;
  if (impl_->stratum_order_seed != seed) {
    // Fisher-Yates on a generator of its own (rows use StreamSeed(seed, i) for i >= 0).
    auto& order = impl_->stratum_order;
    order.resize(strata.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
    Rng rng(StreamSeed(seed ^ 0x636F766572616765ULL, ~0ULL));
    for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng.Below(i)]);
    impl_->stratum_order_seed = seed;
  }
  return impl_->stratum_order[index];
}

std::vector<ir::Graph> EnumerateValid(const SynthConfig& config, uint64_t max_points) {
  SamplerImpl impl(config);
  DRT_CHECK(impl.SupersetSize() <= static_cast<double>(max_points), InfeasibleError,
            "the space has " << impl.SupersetSize() << " superset points, over the limit "
                             << max_points << "; shrink it (fewer ops, shapes or nodes)");
  std::vector<ir::Graph> valid;
  OdometerChooser chooser;
  do {
    ir::Graph graph = impl.Build(impl.Walk(chooser));
    if (!impl.Check(graph)) valid.push_back(std::move(graph));
  } while (chooser.Advance());
  return valid;
}

}  // namespace drtriton::synth
