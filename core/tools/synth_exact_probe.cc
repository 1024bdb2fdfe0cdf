// Measurements behind docs/SYNTH.md, "Exact sampling above level 7": how far each candidate
// superset is from the valid programs, per level, before building a sampler on it. Modes
// (`--seconds` is the time per level; for closure, the largest tree size):
//   synth_exact_probe accept --levels 5,6,10 --seconds 15
//       one-class DP proposals with early rejection: acceptance, proposals/s, rejection counts
//   synth_exact_probe rank --levels 5,6,7 --seconds 20
//       the same with the rank-class DP, and its build time
//   synth_exact_probe ceilings --levels 5,8 --seconds 60
//       one-class points walked in full: the share that is rank-typable, typable with the types of
//       <= 0/1/2-operator trees kept exact, shape-typable, range-valid, valid. A sampler uniform
//       over superset A would accept P(valid) / P(A): measured without building it
//   synth_exact_probe strata --levels 7       sampler build and coverage-strata seconds
//   synth_exact_probe closure --levels 20 --seconds 4
//       distinct tensor types of trees of exactly 1..4 operators over the level's menu
// One core, no output files.
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "drtriton/synth.h"
#include "synth/csp.h"
#include "synth/rng.h"

using namespace drtriton;
using namespace drtriton::synth;

namespace {

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::vector<int> ParseList(const char* s) {
  std::vector<int> out;
  for (const char* p = s; *p;) {
    out.push_back(std::atoi(p));
    while (*p && *p != ',') ++p;
    if (*p == ',') ++p;
  }
  return out;
}

// Acceptance of the one-class (or rank) DP with early rejection, as Draw uses it, and the reasons.
void Accept(const std::vector<int>& levels, double seconds, bool rank) {
  for (int level : levels) {
    SynthConfig config = LevelConfig(level);
    config.mcmc_steps = 0;
    config.rank_classes = rank;
    const double t0 = Now();
    SamplerImpl impl(config);
    const double t1 = Now();
    Rng rng(12345 + level);
    uint64_t n = 0;
    while (Now() - t1 < seconds) {
      for (int i = 0; i < 1000; ++i, ++n) impl.Propose(rng);
    }
    const double dt = Now() - t1;
    const auto& s = impl.stats;
    std::printf(
        "level %d %s superset %.3e build %.2fs proposals %llu (%.0f/s) accepted %llu (%.3e)", level,
        rank ? "rank" : "one-class", impl.SupersetSize(), t1 - t0, (unsigned long long)s.proposals,
        s.proposals / dt, (unsigned long long)s.accepted, double(s.accepted) / s.proposals);
    for (int r = 0; r < static_cast<int>(Reject::kCount); ++r) {
      std::printf(" %s=%llu", std::string(RejectName(static_cast<Reject>(r))).c_str(),
                  (unsigned long long)s.rejected[r]);
    }
    std::printf("\n");
    std::fflush(stdout);
  }
}

// True when every node's rank rule holds on the ranks of its arguments (RankOut, rank <= 6) and
// only the output may be an int64 (argmax/argmin) value: the point lies in the rank-class superset.
bool RankTypable(const ir::Graph& g) {
  const int k = static_cast<int>(g.inputs.size());
  std::vector<int> rank(g.inputs.size() + g.nodes.size());
  for (int i = 0; i < k; ++i) rank[i] = g.inputs[i].Rank();
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const auto& node = g.nodes[i];
    const auto& spec = ops::Spec(node.op);
    if (spec.dtype == ops::DtypeRule::kIndexOut &&
        static_cast<int>(i) + 1 != static_cast<int>(g.nodes.size()))
      return false;
    const int r0 = rank[node.inputs[0]];
    const int r1 = node.inputs.size() > 1 ? rank[node.inputs[1]] : 0;
    auto out = RankOut(node.op, node.attrs, r0, r1);
    if (!out || *out < 0 || *out > kMaxRank) return false;
    rank[k + i] = *out;
  }
  return true;
}

// Which per-node constraints a shape-typable program breaks: value range (any node), degenerate
// (a non-commutative binary rule on one value twice). Types must be inferred (Check did).
struct NodeFlags {
  bool range_ok = true, degenerate = false;
};
NodeFlags Flags(const ir::Graph& g) {
  NodeFlags f;
  const int k = static_cast<int>(g.inputs.size());
  std::vector<ops::Range> range(g.inputs.size() + g.nodes.size(), ops::Range::kAny);
  std::array<ops::Range, ops::kMaxArity> arg{};
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const auto& node = g.nodes[i];
    const int arity = static_cast<int>(node.inputs.size());
    for (int a = 0; a < arity; ++a) {
      arg[a] = range[node.inputs[a]];
      if (!ops::Within(arg[a], ops::InputDomain(node.op, a, node.attrs))) f.range_ok = false;
    }
    range[k + i] = ops::OutputRange(node.op, std::span(arg.data(), arity), node.attrs);
    if (arity == 2 && node.inputs[0] == node.inputs[1] && DegenerateOnOneValue(node.op))
      f.degenerate = true;
  }
  return f;
}

// Every node's InferOutput holds (types left in the graph for Check(typed)).
bool ShapeTypable(ir::Graph& g) {
  std::vector<ir::TensorType> args;
  for (auto& node : g.nodes) {
    args.clear();
    for (int32_t v : node.inputs) args.push_back(g.TypeOf(v));
    auto out = ops::InferOutput(node.op, args, node.attrs);
    if (!out || out->Rank() > kMaxRank) return false;
    node.type = std::move(*out);
  }
  return true;
}

// A sound abstraction of types between ranks and exact shapes: a type in `tracked` is kept exactly,
// any other is only its rank (and dtype). A node whose arguments are all tracked is typed by
// InferOutput; otherwise by RankOut. Every shape-typable program is abstractly typable.
using TypeKey = std::pair<int, std::vector<int64_t>>;
TypeKey KeyOf(const ir::TensorType& t) { return {static_cast<int>(t.dtype), t.shape}; }

std::set<TypeKey> TypesWithin(const SynthConfig& config, int max_nodes) {
  std::set<TypeKey> all;
  std::vector<std::vector<ir::TensorType>> by_n(max_nodes + 1);
  for (const auto& shape : config.shape_menu) {
    ir::TensorType t{shape, ir::DType::kFloat32};
    if (all.insert(KeyOf(t)).second) by_n[0].push_back(t);
  }
  for (int n = 1; n <= max_nodes; ++n) {
    std::vector<ir::TensorType> args;
    auto add = [&](const std::optional<ir::TensorType>& out) {
      if (out && out->Rank() <= kMaxRank && all.insert(KeyOf(*out)).second) by_n[n].push_back(*out);
    };
    for (const auto& spec : ops::Registry()) {
      ForEachAttrs(spec, [&](const std::vector<double>& attrs) {
        if (spec.arity == 1) {
          for (const auto& t : by_n[n - 1]) add(ops::InferOutput(spec.id, std::span(&t, 1), attrs));
        } else {
          for (int a = 0; a <= n - 1; ++a) {
            for (const auto& t1 : by_n[a]) {
              for (const auto& t2 : by_n[n - 1 - a]) {
                args = {t1, t2};
                if (!ExtentsClash(spec.id, attrs, args))
                  add(ops::InferOutput(spec.id, args, attrs));
              }
            }
          }
        }
        return false;
      });
    }
  }
  return all;
}

bool AbstractTypable(const ir::Graph& g, const std::set<TypeKey>& tracked) {
  struct Abs {
    bool exact;
    ir::TensorType type;  // exact type, or only rank (shape of that many 0s) and dtype
  };
  std::vector<Abs> value(g.inputs.size() + g.nodes.size());
  const int k = static_cast<int>(g.inputs.size());
  for (int i = 0; i < k; ++i) value[i] = {true, g.inputs[i]};
  std::vector<ir::TensorType> args;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const auto& node = g.nodes[i];
    bool exact = true;
    args.clear();
    for (int32_t v : node.inputs) {
      exact = exact && value[v].exact;
      args.push_back(value[v].type);
    }
    const bool last = i + 1 == g.nodes.size();
    if (exact) {
      auto out = ops::InferOutput(node.op, args, node.attrs);
      if (!out || out->Rank() > kMaxRank) return false;
      const bool keep = tracked.count(KeyOf(*out)) > 0;
      value[k + i] = {keep, keep ? *out : ir::TensorType{ir::Shape(out->Rank(), 0), out->dtype}};
      continue;
    }
    for (const auto& a : args) {
      if (a.dtype != ir::DType::kFloat32) return false;  // int64 values feed no operator
    }
    const auto& spec = ops::Spec(node.op);
    if (spec.dtype == ops::DtypeRule::kIndexOut && !last) return false;
    auto r = RankOut(node.op, node.attrs, args[0].Rank(), args.size() > 1 ? args[1].Rank() : 0);
    if (!r || *r < 0 || *r > kMaxRank) return false;
    value[k + i] = {
        false,
        {ir::Shape(*r, 0),
         spec.dtype == ops::DtypeRule::kIndexOut ? ir::DType::kInt64 : ir::DType::kFloat32}};
  }
  return true;
}

// One-class proposals walked in full: the share that is rank-typable, shape-typable (every
// InferOutput holds), and valid. acceptance of a superset that is exact in A = P(valid) / P(A ok).
void Ceilings(const std::vector<int>& levels, double seconds) {
  for (int level : levels) {
    SynthConfig config = LevelConfig(level);
    config.mcmc_steps = 0;
    config.rank_classes = false;
    SamplerImpl impl(config);
    Rng rng(777 + level);
    uint64_t n = 0, rank_ok = 0, shape_ok = 0, valid = 0, range_ok = 0, nondegenerate = 0;
    std::vector<std::set<TypeKey>> tracked;
    for (int d = 0; d <= 2; ++d) tracked.push_back(TypesWithin(config, d));
    std::vector<uint64_t> abs_ok(tracked.size(), 0);
    std::array<uint64_t, static_cast<int>(Reject::kCount)> why{};
    const double t0 = Now();
    while (Now() - t0 < seconds) {
      for (int i = 0; i < 200; ++i, ++n) {
        RngChooser chooser(rng);
        ir::Graph g = impl.Build(impl.Walk(chooser));
        if (!RankTypable(g)) continue;
        ++rank_ok;
        for (size_t d = 0; d < tracked.size(); ++d) abs_ok[d] += AbstractTypable(g, tracked[d]);
        if (!ShapeTypable(g)) continue;
        ++shape_ok;
        const NodeFlags flags = Flags(g);
        if (flags.range_ok) ++range_ok;
        if (flags.range_ok && !flags.degenerate) ++nondegenerate;
        auto reason = impl.Check(g, /*typed=*/true);
        if (!reason)
          ++valid;
        else
          ++why[static_cast<int>(*reason)];
      }
    }
    std::printf(
        "level %d full walks %llu rank_ok %llu (%.4e) shape_ok %llu (%.4e) valid %llu (%.4e)\n",
        level, (unsigned long long)n, (unsigned long long)rank_ok, double(rank_ok) / n,
        (unsigned long long)shape_ok, double(shape_ok) / n, (unsigned long long)valid,
        double(valid) / n);
    for (size_t d = 0; d < tracked.size(); ++d) {
      std::printf("  types within %zu nodes tracked (%zu types): abstract ok %llu (%.4e)\n", d,
                  tracked[d].size(), (unsigned long long)abs_ok[d], double(abs_ok[d]) / n);
    }
    std::printf("  shape+range ok %llu (%.4e), and not degenerate %llu (%.4e)\n",
                (unsigned long long)range_ok, double(range_ok) / n,
                (unsigned long long)nondegenerate, double(nondegenerate) / n);
    std::printf("  shape-ok but rejected (first reason):");
    for (int r = 1; r < static_cast<int>(Reject::kCount); ++r) {
      std::printf(" %s=%.3f", std::string(RejectName(static_cast<Reject>(r))).c_str(),
                  double(why[r]) / shape_ok);
    }
    std::printf("\n");
    std::fflush(stdout);
  }
}

// Types producible by trees of exactly n operators over the level's menu (leaves: menu shapes), and
// the number of such typed trees (each leaf counted once): is a typed count over types feasible?
void Closure(int level, int max_n) {
  SynthConfig config = LevelConfig(level);
  std::map<std::pair<int, std::vector<int64_t>>, int> index;
  std::vector<ir::TensorType> types;
  auto id_of = [&](const ir::TensorType& t) {
    auto key = std::make_pair(static_cast<int>(t.dtype), t.shape);
    auto it = index.find(key);
    if (it != index.end()) return it->second;
    index.emplace(key, static_cast<int>(types.size()));
    types.push_back(t);
    return static_cast<int>(types.size()) - 1;
  };
  std::vector<std::map<int, double>> count(max_n + 1);  // count[n][type]
  for (const auto& shape : config.shape_menu) count[0][id_of({shape, ir::DType::kFloat32})] += 1;
  struct OA {
    ops::OpId op;
    std::vector<double> attrs;
  };
  std::vector<OA> unary, binary;
  for (const auto& spec : ops::Registry()) {
    ForEachAttrs(spec, [&](const std::vector<double>& a) {
      (spec.arity == 1 ? unary : binary).push_back({spec.id, a});
      return false;
    });
  }
  std::printf("op-attr combos: %zu unary, %zu binary\n", unary.size(), binary.size());
  uint64_t rules = 0;
  for (int n = 1; n <= max_n; ++n) {
    const double t0 = Now();
    std::vector<ir::TensorType> args(1);
    for (const auto& [t, c] : count[n - 1]) {
      args[0] = types[t];
      for (const auto& oa : unary) {
        auto out = ops::InferOutput(oa.op, args, oa.attrs);
        if (!out || out->Rank() > kMaxRank) continue;
        if (4.0 * static_cast<double>(out->Numel()) > config.max_bytes)
          continue;  // over budget alone
        ++rules;
        count[n][id_of(*out)] += c;
      }
    }
    args.resize(2);
    for (int a = 0; a <= n - 1; ++a) {
      for (const auto& [t1, c1] : count[a]) {
        for (const auto& [t2, c2] : count[n - 1 - a]) {
          args[0] = types[t1];
          args[1] = types[t2];
          for (const auto& oa : binary) {
            if (ExtentsClash(oa.op, oa.attrs, args)) continue;
            auto out = ops::InferOutput(oa.op, args, oa.attrs);
            if (!out || out->Rank() > kMaxRank) continue;
            if (4.0 * static_cast<double>(out->Numel()) > config.max_bytes) continue;
            ++rules;
            count[n][id_of(*out)] += c1 * c2;
          }
        }
      }
    }
    double total = 0;
    for (const auto& [t, c] : count[n]) total += c;
    std::printf("n=%d types_at_n=%zu all_types=%zu trees=%.3e rules_so_far=%llu (%.1fs)\n", n,
                count[n].size(), types.size(), total, (unsigned long long)rules, Now() - t0);
    std::fflush(stdout);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr,
                 "usage: synth_exact_probe accept|rank|ceilings|strata|closure --levels 5,6 "
                 "--seconds 10 (modes: the header of core/tools/synth_exact_probe.cc)\n");
    return 2;
  }
  std::vector<int> levels = {5, 6, 7, 8};
  double seconds = 10;
  for (int i = 2; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--levels")) levels = ParseList(argv[i + 1]);
    if (!std::strcmp(argv[i], "--seconds")) seconds = std::atof(argv[i + 1]);
  }
  const std::string mode = argv[1];
  if (mode == "accept") Accept(levels, seconds, false);
  if (mode == "rank") Accept(levels, seconds, true);
  if (mode == "ceilings") Ceilings(levels, seconds);
  if (mode == "strata") {
    for (int level : levels) {
      const double t0 = Now();
      Sampler sampler(LevelConfig(level));
      const double t1 = Now();
      const size_t strata = sampler.Strata().size();
      std::printf("level %d build %.2fs strata %zu in %.2fs\n", level, t1 - t0, strata, Now() - t1);
    }
  }
  if (mode == "closure") Closure(levels[0], static_cast<int>(seconds));
  return 0;
}
