// The CSP-DAG sampler: an exact count of structural sequences (DP), a walk that draws one sequence
// proportionally to its weight, and the program it spells. docs/SYNTH.md has the derivation.
#include <algorithm>
#include <deque>
#include <utility>

#include "support/check.h"
#include "synth/csp.h"

// Same seed, same bytes: forbid fused multiply-add contraction in the DP sums and weighted draws.
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

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

// ---- config validation and op classes ----

namespace {

constexpr int kMaxNodes = 32;
constexpr int kMaxInputs = 15;
constexpr int kMaxArity = 6;

uint64_t AttrCombos(const ops::OpSpec& spec) {
  uint64_t combos = 1;
  for (const auto& attr : spec.attrs) combos *= attr.choices.size();
  return combos;
}

}  // namespace

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
  for (const auto& shape : c.shape_menu) {
    for (int64_t dim : shape) {
      DRT_CHECK(dim > 0, ValueError, "shape menu has a non-positive extent " << dim << "; use >= 1");
    }
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
  for (ops::OpId id : config_.ops) {
    const ops::OpSpec& spec = ops::Spec(id);
    DRT_ICHECK(spec.arity >= 1 && spec.arity <= kMaxArity);
    DRT_ICHECK(!spec.commutative || spec.arity == 2);
    const uint64_t combos = AttrCombos(spec);
    DRT_ICHECK(combos > 0);
    const int heavy = track_heavy_ && spec.heavy;
    const int reduce = track_reduce_ && spec.reduces;
    auto it = std::find_if(classes_.begin(), classes_.end(), [&](const OpClass& k) {
      return k.arity == spec.arity && k.heavy == heavy && k.reduce == reduce;
    });
    if (it == classes_.end()) {
      classes_.push_back(OpClass{.arity = spec.arity, .heavy = heavy, .reduce = reduce});
      it = classes_.end() - 1;
    }
    it->combos += combos;
    it->ops.push_back({id, combos});
  }
  DRT_CHECK(SupersetSize() > 0, InfeasibleError,
            "no program has " << c.min_nodes << ".." << c.max_nodes << " operators, <= "
                              << c.max_inputs << " inputs, heavy " << c.heavy_min << ".."
                              << c.heavy_max << " and reductions " << c.reductions_min << ".."
                              << c.reductions_max
                              << " with the allowed operators; widen the ranges or allow more ops");
}

// ---- the counting DP ----
// F: weighted number of completions when the next ready node is about to be materialized.
// G: the same inside a node, with s argument slots of the current node still to fill.
// State: c nodes created, m materialized, q ready (closed, waiting), u inputs, h heavy, d reductions;
// open nodes (created, still taking references) are o = c - m - q.

uint64_t SamplerImpl::Key(int s, int c, int m, int q, int u, int h, int d) const {
  return static_cast<uint64_t>(s) | static_cast<uint64_t>(c) << 3 | static_cast<uint64_t>(m) << 9 |
         static_cast<uint64_t>(q) << 15 | static_cast<uint64_t>(u) << 21 |
         static_cast<uint64_t>(h) << 25 | static_cast<uint64_t>(d) << 31;
}

double SamplerImpl::F(int c, int m, int q, int u, int h, int d) {
  const SynthConfig& cfg = config_;
  if (q == 0) {
    if (c != m || c < cfg.min_nodes) return 0;  // open nodes never closed, or too few operators
    if (track_heavy_ && h < cfg.heavy_min) return 0;
    if (track_reduce_ && d < cfg.reductions_min) return 0;
    return 1;
  }
  const uint64_t key = Key(7, c, m, q, u, h, d);
  if (auto it = memo_.find(key); it != memo_.end()) return it->second;
  double total = 0;
  for (const OpClass& k : classes_) {
    if (track_heavy_ && h + k.heavy > cfg.heavy_max) continue;
    if (track_reduce_ && d + k.reduce > cfg.reductions_max) continue;
    total += static_cast<double>(k.combos) * G(k.arity, c, m + 1, q - 1, u, h + k.heavy, d + k.reduce);
  }
  memo_.emplace(key, total);
  return total;
}

double SamplerImpl::G(int s, int c, int m, int q, int u, int h, int d) {
  if (s == 0) return F(c, m, q, u, h, d);
  const uint64_t key = Key(s, c, m, q, u, h, d);
  if (auto it = memo_.find(key); it != memo_.end()) return it->second;
  const SynthConfig& cfg = config_;
  const int o = c - m - q;
  double total = 0;
  if (c < cfg.max_nodes) {
    total += G(s - 1, c + 1, m, q + 1, u, h, d);  // a new node, referenced only here
    total += G(s - 1, c + 1, m, q, u, h, d);      // a new node that will be referenced again
  }
  if (o > 0) {
    total += o * G(s - 1, c, m, q, u, h, d);      // an open node, still open after
    total += o * G(s - 1, c, m, q + 1, u, h, d);  // an open node, this is its last reference
  }
  if (u > 0) total += u * G(s - 1, c, m, q, u, h, d);  // a graph input already used
  if (u < cfg.max_inputs) {
    total += static_cast<double>(cfg.shape_menu.size()) * G(s - 1, c, m, q, u + 1, h, d);
  }
  memo_.emplace(key, total);
  return total;
}

// ---- the walk ----

Proto SamplerImpl::Walk(Chooser& chooser) {
  const SynthConfig& cfg = config_;
  Proto proto;
  proto.nodes.emplace_back();  // the sink
  std::deque<int> ready = {0};
  std::vector<int> open;
  int c = 1, m = 0, u = 0, h = 0, d = 0;
  std::vector<double> weights(classes_.size());
  while (!ready.empty()) {
    const int v = ready.front();
    ready.pop_front();
    ++m;
    proto.order.push_back(v);
    const int q = static_cast<int>(ready.size());
    for (size_t i = 0; i < classes_.size(); ++i) {
      const OpClass& k = classes_[i];
      const bool fits = (!track_heavy_ || h + k.heavy <= cfg.heavy_max) &&
                        (!track_reduce_ || d + k.reduce <= cfg.reductions_max);
      weights[i] = fits ? static_cast<double>(k.combos) *
                              G(k.arity, c, m, q, u, h + k.heavy, d + k.reduce)
                        : 0;
    }
    const OpClass& k = classes_[chooser.Weighted(weights.data(), static_cast<int>(weights.size()))];
    h += k.heavy;
    d += k.reduce;
    // (op, attrs) uniform over the class's combinations: each combination has the same completions.
    uint64_t index = chooser.Uniform(k.combos);
    ProtoNode node;
    for (const OpChoice& choice : k.ops) {
      if (index >= choice.combos) {
        index -= choice.combos;
        continue;
      }
      node.op = choice.op;
      for (const auto& attr : ops::Spec(choice.op).attrs) {
        node.attrs.push_back(attr.choices[index % attr.choices.size()]);
        index /= attr.choices.size();
      }
      break;
    }
    for (int slot = 0; slot < k.arity; ++slot) {
      const int rest = k.arity - slot - 1;
      const int qn = static_cast<int>(ready.size());
      const int o = static_cast<int>(open.size());
      double w[6] = {
          c < cfg.max_nodes ? G(rest, c + 1, m, qn + 1, u, h, d) : 0,
          c < cfg.max_nodes ? G(rest, c + 1, m, qn, u, h, d) : 0,
          o > 0 ? o * G(rest, c, m, qn, u, h, d) : 0,
          o > 0 ? o * G(rest, c, m, qn + 1, u, h, d) : 0,
          u > 0 ? u * G(rest, c, m, qn, u, h, d) : 0,
          u < cfg.max_inputs
              ? static_cast<double>(cfg.shape_menu.size()) * G(rest, c, m, qn, u + 1, h, d)
              : 0,
      };
      Ref ref;
      switch (chooser.Weighted(w, 6)) {
        case 0:  // new node, closed at once
          ref = {false, c++};
          proto.nodes.emplace_back();
          ready.push_back(ref.id);
          break;
        case 1:  // new node, open
          ref = {false, c++};
          proto.nodes.emplace_back();
          open.push_back(ref.id);
          break;
        case 2:  // open node, keep open
          ref = {false, open[chooser.Uniform(o)]};
          break;
        case 3: {  // open node, close
          const auto pos = chooser.Uniform(o);
          ref = {false, open[pos]};
          open.erase(open.begin() + static_cast<std::ptrdiff_t>(pos));
          ready.push_back(ref.id);
          break;
        }
        case 4:  // graph input already used
          ref = {true, static_cast<int>(chooser.Uniform(u))};
          break;
        default:  // new graph input
          ref = {true, u++};
          proto.input_shapes.push_back(static_cast<int>(chooser.Uniform(cfg.shape_menu.size())));
          break;
      }
      node.args.push_back(ref);
    }
    proto.nodes[v] = std::move(node);
  }
  DRT_ICHECK(open.empty() && c == m);
  return proto;
}

ir::Graph SamplerImpl::Build(const Proto& proto) const {
  const int k = static_cast<int>(proto.input_shapes.size());
  const int n = static_cast<int>(proto.nodes.size());
  std::vector<int> value_of(n);  // creation id -> value id; reverse materialization is topological
  for (int pos = 0; pos < n; ++pos) value_of[proto.order[pos]] = k + (n - 1 - pos);
  ir::Graph graph;
  for (int shape : proto.input_shapes) {
    graph.inputs.push_back({config_.shape_menu[shape], ir::DType::kFloat32});
  }
  graph.nodes.resize(n);
  for (int pos = 0; pos < n; ++pos) {
    const ProtoNode& src = proto.nodes[proto.order[pos]];
    ir::Node& dst = graph.nodes[n - 1 - pos];
    dst.op = src.op;
    dst.attrs = src.attrs;
    for (const Ref& ref : src.args) dst.inputs.push_back(ref.is_input ? ref.id : value_of[ref.id]);
  }
  graph.outputs = {k + n - 1};
  return graph;
}

std::optional<ir::Graph> SamplerImpl::Propose(Rng& rng) {
  RngChooser chooser(rng);
  ir::Graph graph = Build(Walk(chooser));
  ++stats.proposals;
  if (auto reason = Check(graph)) {
    ++stats.rejected[static_cast<int>(*reason)];
    return std::nullopt;
  }
  ++stats.accepted;
  return graph;
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

std::optional<ir::Graph> Sampler::Propose(uint64_t seed) {
  Rng rng(seed);
  return impl_->Propose(rng);
}

ir::Graph Sampler::Draw(uint64_t seed, uint64_t max_attempts) {
  Rng rng(seed);
  for (uint64_t attempt = 0; attempt < max_attempts; ++attempt) {
    if (auto graph = impl_->Propose(rng)) return std::move(*graph);
  }
  DRT_CHECK(false, InfeasibleError,
            "no valid program in " << max_attempts << " proposals (level " << config().level
                                   << "); widen the shape menu, budgets or operator set");
  return {};
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
