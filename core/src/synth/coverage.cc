// Coverage of a space: which operators and producer->consumer pairs are legal (an exhaustive search
// over 1- and 2-node programs under the config's shapes, attrs, value ranges and budgets), and the
// counts a set of drawn programs reaches.
#include <algorithm>
#include <array>

#include "support/check.h"
#include "synth/csp.h"

namespace drtriton::synth {

namespace {

struct Typed {
  ir::TensorType type;
  ops::Range range = ops::Range::kAny;
  double flops = 0, bytes = 0;
  friend bool operator==(const Typed& a, const Typed& b) {
    return a.type == b.type && a.range == b.range;
  }
};

// Output of `id` on typed arguments, if its shape rule and input domains accept them.
std::optional<Typed> Apply(ops::OpId id, std::span<const Typed> args, std::span<const double> attrs) {
  std::array<ir::TensorType, ops::kMaxArity> types;
  std::array<ops::Range, ops::kMaxArity> ranges{};
  for (size_t a = 0; a < args.size(); ++a) {
    types[a] = args[a].type;
    ranges[a] = args[a].range;
    if (!ops::Within(ranges[a], ops::InputDomain(id, static_cast<int>(a), attrs))) return std::nullopt;
  }
  std::span<const ir::TensorType> in(types.data(), args.size());
  auto out = ops::InferOutput(id, in, attrs);
  if (!out) return std::nullopt;
  const ops::Cost cost = ops::EstimateCost(id, in, attrs, *out);
  Typed typed{*out, ops::OutputRange(id, std::span(ranges.data(), args.size()), attrs)};
  typed.flops = cost.flops;
  typed.bytes = cost.bytes;
  for (const Typed& arg : args) {
    typed.flops += arg.flops;
    typed.bytes += arg.bytes;
  }
  return typed;
}

}  // namespace

Coverage LegalCoverage(const SynthConfig& config) {
  SamplerImpl impl(config);  // validates the config
  const SynthConfig& cfg = impl.config();
  Coverage cov;
  cov.op_counts.assign(ops::kNumOps, 0);
  cov.pair_counts.assign(ops::kNumOps * ops::kNumOps, 0);
  cov.op_legal.assign(ops::kNumOps, 0);
  cov.pair_legal.assign(ops::kNumOps * ops::kNumOps, 0);
  std::vector<Typed> leaves;
  for (const auto& shape : cfg.shape_menu) leaves.push_back({{shape, ir::DType::kFloat32}});
  auto fits = [&](const Typed& t) { return t.flops <= cfg.max_flops && t.bytes <= cfg.max_bytes; };
  // Every output each op can make from graph inputs alone.
  std::vector<std::vector<Typed>> outs(ops::kNumOps);
  for (ops::OpId id : cfg.ops) {
    const ops::OpSpec& spec = ops::Spec(id);
    if ((spec.heavy && cfg.heavy_max < 1) || (spec.reduces && cfg.reductions_max < 1)) continue;
    std::vector<Typed> made;
    ForEachAttrs(spec, [&](const std::vector<double>& attrs) {
      for (const Typed& a : leaves) {
        for (const Typed& b : leaves) {
          std::array<Typed, 2> args = {a, b};
          auto out = Apply(id, std::span(args.data(), spec.arity), attrs);
          if (out && fits(*out) && std::find(made.begin(), made.end(), *out) == made.end()) {
            made.push_back(*out);
          }
          if (spec.arity == 1) break;
        }
      }
      return false;
    });
    cov.op_legal[static_cast<int>(id)] = !made.empty();
    outs[static_cast<int>(id)] = std::move(made);
  }
  if (cfg.max_nodes < 2) return cov;
  for (ops::OpId pa : cfg.ops) {
    const auto& made = outs[static_cast<int>(pa)];
    const ops::OpSpec& sa = ops::Spec(pa);
    for (ops::OpId cb : cfg.ops) {
      const ops::OpSpec& sb = ops::Spec(cb);
      if (sa.heavy + sb.heavy > cfg.heavy_max || sa.reduces + sb.reduces > cfg.reductions_max) continue;
      bool legal = false;
      for (const Typed& x : made) {
        legal = ForEachAttrs(sb, [&](const std::vector<double>& attrs) {
          if (sb.arity == 1) {
            auto out = Apply(cb, std::span(&x, 1), attrs);
            return out.has_value() && fits(*out);
          }
          std::vector<Typed> others = leaves;
          if (!DegenerateOnOneValue(cb)) others.push_back(x);  // b(x, x)
          for (const Typed& y : others) {
            for (int slot = 0; slot < 2; ++slot) {
              std::array<Typed, 2> args = slot == 0 ? std::array<Typed, 2>{x, y} : std::array<Typed, 2>{y, x};
              auto out = Apply(cb, args, attrs);
              if (out && fits(*out)) return true;
            }
          }
          return false;
        });
        if (legal) break;
      }
      cov.pair_legal[static_cast<int>(pa) * ops::kNumOps + static_cast<int>(cb)] = legal;
      // An op that only accepts another op's output (no menu shape fits it) is legal through the pair.
      if (legal) cov.op_legal[static_cast<int>(cb)] = 1;
    }
  }
  return cov;
}

void CountCoverage(const ir::Graph& graph, Coverage& coverage) {
  if (coverage.op_counts.empty()) coverage.op_counts.assign(ops::kNumOps, 0);
  if (coverage.pair_counts.empty()) coverage.pair_counts.assign(ops::kNumOps * ops::kNumOps, 0);
  const int k = static_cast<int>(graph.inputs.size());
  for (const auto& node : graph.nodes) {
    ++coverage.op_counts[static_cast<int>(node.op)];
    for (int32_t v : node.inputs) {
      if (v < k) continue;
      const int producer = static_cast<int>(graph.nodes[v - k].op);
      ++coverage.pair_counts[producer * ops::kNumOps + static_cast<int>(node.op)];
    }
  }
  ++coverage.programs;
}

}  // namespace drtriton::synth
