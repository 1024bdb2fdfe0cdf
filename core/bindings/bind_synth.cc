// Python view of the synthesizer: _core.Synthesizer (one per level/config; draw, draw_tasks, stats,
// coverage), _core.synth_level_config, _core.stream_seed, _core.GENERATOR_VERSION. No logic here
// beyond turning names into OpIds and results into dicts.
#include <nanobind/nanobind.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/string_view.h>
#include <nanobind/stl/vector.h>

#include <string>
#include <tuple>

#include "drtriton/emit.h"
#include "drtriton/ir.h"
#include "drtriton/ir_json.h"
#include "drtriton/synth.h"
#include "support/check.h"
#include "synth/rng.h"

namespace nb = nanobind;

namespace drtriton::bindings {

namespace {

using synth::SynthConfig;

std::vector<ops::OpId> OpIds(const std::vector<std::string>& names, const char* flag) {
  std::vector<ops::OpId> ids;
  for (const auto& name : names) {
    auto id = ops::FindOp(name);
    DRT_CHECK(id.has_value(), ValueError,
              "unknown operator \"" << name << "\" in " << flag
                                    << "; run `drtriton ops` for the registered names");
    ids.push_back(*id);
  }
  return ids;
}

SynthConfig MakeConfig(int level, const std::string& scale, const std::vector<std::string>& only,
                       const std::vector<std::string>& exclude, std::optional<std::pair<int, int>> heavy,
                       std::optional<std::pair<int, int>> reductions, std::optional<int> max_fanout,
                       std::optional<int> max_inputs) {
  DRT_CHECK(scale == "small" || scale == "realistic", ValueError,
            "shape scale must be small or realistic, got \"" << scale << "\"");
  SynthConfig c = synth::LevelConfig(
      level, scale == "small" ? synth::ShapeScale::kSmall : synth::ShapeScale::kRealistic);
  if (!only.empty()) c.ops = OpIds(only, "--ops");
  if (!exclude.empty()) {
    if (c.ops.empty()) {
      for (const auto& spec : ops::Registry()) c.ops.push_back(spec.id);
    }
    for (ops::OpId id : OpIds(exclude, "--exclude-ops")) std::erase(c.ops, id);
    DRT_CHECK(!c.ops.empty(), InfeasibleError, "--exclude-ops removes every operator; allow some");
  }
  if (heavy) std::tie(c.heavy_min, c.heavy_max) = *heavy;
  if (reductions) std::tie(c.reductions_min, c.reductions_max) = *reductions;
  if (max_fanout) c.max_fanout = *max_fanout;
  if (max_inputs) c.max_inputs = *max_inputs;
  return c;
}

nb::dict ConfigDict(const SynthConfig& c) {
  nb::dict d;
  d["level"] = c.level;
  d["min_nodes"] = c.min_nodes;
  d["max_nodes"] = c.max_nodes;
  d["max_inputs"] = c.max_inputs;
  d["heavy"] = std::make_pair(c.heavy_min, c.heavy_max);
  d["reductions"] = std::make_pair(c.reductions_min, c.reductions_max);
  d["max_fanout"] = c.max_fanout;
  d["rank_classes"] = c.rank_classes;
  d["mcmc_steps"] = c.mcmc_steps;
  d["shape_menu"] = c.shape_menu;
  d["max_flops"] = c.max_flops;
  d["max_bytes"] = c.max_bytes;
  std::vector<std::string> names;
  for (ops::OpId id : c.ops) names.emplace_back(ops::Spec(id).name);
  d["ops"] = names;
  return d;
}

// One task row (docs/ARCHITECTURE.md): emission included, so Python throughput counts it.
nb::dict TaskDict(const ir::Graph& g, uint64_t seed, int level) {
  nb::dict d;
  d["hash"] = ir::CanonicalHash(g);
  d["program"] = emit::EmitPyTorch(g);
  d["graph_json"] = ir::ToJson(g);
  std::vector<std::string> names;
  for (const auto& node : g.nodes) names.emplace_back(ops::Spec(node.op).name);
  d["ops"] = names;
  std::vector<ir::Shape> shapes;
  for (const auto& t : g.inputs) shapes.push_back(t.shape);
  d["shapes"] = shapes;
  d["output_shape"] = g.TypeOf(g.outputs[0]).shape;
  const ops::Cost cost = ir::GraphCost(g);
  d["flops"] = cost.flops;
  d["bytes"] = cost.bytes;
  d["seed"] = seed;
  d["level"] = level;
  d["generator_version"] = std::string(synth::kGeneratorVersion);
  return d;
}

}  // namespace

void BindSynth(nb::module_& m) {
  m.attr("GENERATOR_VERSION") = std::string(synth::kGeneratorVersion);
  m.def("stream_seed", &synth::StreamSeed, nb::arg("seed"), nb::arg("index"),
        "Seed of row `index` of a dataset drawn from base seed `seed` (rows are independent).");
  m.def(
      "synth_level_config",
      [](int level, const std::string& scale) { return ConfigDict(MakeConfig(level, scale, {}, {}, {}, {}, {}, {})); },
      nb::arg("level"), nb::arg("scale") = "small", "The level table row (docs/SYNTH.md) as a dict.");

  nb::class_<synth::Sampler>(m, "Synthesizer",
                             "Uniform sampler of valid programs of one difficulty class: exact rejection at levels 1..6, a "
                             "Markov chain (approximately uniform) above; docs/SYNTH.md.")
      .def(
          "__init__",
          [](synth::Sampler* self, int level, const std::string& scale, const std::vector<std::string>& ops,
             const std::vector<std::string>& exclude_ops, std::optional<std::pair<int, int>> heavy,
             std::optional<std::pair<int, int>> reductions, std::optional<int> max_fanout,
             std::optional<int> max_inputs) {
            new (self) synth::Sampler(
                MakeConfig(level, scale, ops, exclude_ops, heavy, reductions, max_fanout, max_inputs));
          },
          nb::arg("level"), nb::arg("scale") = "small", nb::arg("ops") = std::vector<std::string>{},
          nb::arg("exclude_ops") = std::vector<std::string>{}, nb::arg("heavy") = nb::none(),
          nb::arg("reductions") = nb::none(), nb::arg("max_fanout") = nb::none(),
          nb::arg("max_inputs") = nb::none())
      .def_prop_ro("config", [](const synth::Sampler& s) { return ConfigDict(s.config()); })
      .def_prop_ro("superset_size", &synth::Sampler::SupersetSize)
      .def(
          "draw", [](synth::Sampler& s, uint64_t seed, int stratum) { return s.Draw(seed, 1'000'000, stratum); },
          nb::arg("seed"), nb::arg("stratum") = -1,
          "One valid program (a _core.Graph), deterministic in `seed`; uniform over the space, or over "
          "stratum `stratum` when >= 0.")
      .def(
          "draw_tasks",
          [](synth::Sampler& s, uint64_t seed, uint64_t start, uint64_t count, bool strict_uniform) {
            nb::list rows;
            for (uint64_t i = start; i < start + count; ++i) {
              const uint64_t row_seed = synth::StreamSeed(seed, i);
              const int stratum = s.RowStratum(seed, i, strict_uniform);
              rows.append(TaskDict(s.Draw(row_seed, 1'000'000, stratum), row_seed, s.config().level));
            }
            return rows;
          },
          nb::arg("seed"), nb::arg("start"), nb::arg("count"), nb::arg("strict_uniform") = false,
          "Task rows start..start+count-1 of the stream of base seed `seed` (each row's own seed is "
          "stream_seed(seed, i); its stratum row_stratum(seed, i, strict_uniform)).")
      .def(
          "draw_task",
          [](synth::Sampler& s, uint64_t row_seed, int stratum) {
            return TaskDict(s.Draw(row_seed, 1'000'000, stratum), row_seed, s.config().level);
          },
          nb::arg("row_seed"), nb::arg("stratum") = -1,
          "One task row drawn from `row_seed` itself (within `stratum` when >= 0).")
      .def("row_stratum", &synth::Sampler::RowStratum, nb::arg("seed"), nb::arg("index"),
           nb::arg("strict_uniform") = false,
           "The stratum row `index` of base seed `seed` is drawn from (-1: the whole space).")
      .def(
          "strata",
          [](synth::Sampler& s) {
            nb::list out;
            for (const auto& st : s.Strata()) {
              out.append(nb::make_tuple(
                  st.producer == ops::OpId::kCount ? std::string() : std::string(ops::Spec(st.producer).name),
                  std::string(ops::Spec(st.consumer).name)));
            }
            return out;
          },
          "The coverage strata as (producer or '', consumer) names, in stratum-index order.")
      .def("stats",
           [](const synth::Sampler& s) {
             const auto& st = s.stats();
             nb::dict d, rejected;
             d["proposals"] = st.proposals;
             d["accepted"] = st.accepted;
             d["chain_moves"] = st.chain_moves;
             d["chain_restarts"] = st.chain_restarts;
             for (int r = 0; r < static_cast<int>(synth::Reject::kCount); ++r) {
               rejected[std::string(synth::RejectName(static_cast<synth::Reject>(r))).c_str()] = st.rejected[r];
             }
             d["rejected"] = rejected;
             return d;
           })
      .def(
          "coverage",
          [](synth::Sampler& s, uint64_t n, uint64_t seed, bool strict_uniform) {
            synth::Coverage cov = synth::LegalCoverage(s.config());
            for (uint64_t i = 0; i < n; ++i) {
              const int stratum = s.RowStratum(seed, i, strict_uniform);
              synth::CountCoverage(s.Draw(synth::StreamSeed(seed, i), 1'000'000, stratum), cov);
            }
            nb::dict d;
            d["programs"] = cov.programs;
            nb::dict ops_d;
            nb::list pairs;
            for (int a = 0; a < ops::kNumOps; ++a) {
              const std::string name(ops::Spec(static_cast<ops::OpId>(a)).name);
              if (cov.op_legal[a] || cov.op_counts[a]) {
                ops_d[name.c_str()] = std::make_pair(cov.op_counts[a], static_cast<bool>(cov.op_legal[a]));
              }
              for (int b = 0; b < ops::kNumOps; ++b) {
                const size_t p = static_cast<size_t>(a) * ops::kNumOps + b;
                if (cov.pair_legal[p] || cov.pair_counts[p]) {
                  pairs.append(nb::make_tuple(name, std::string(ops::Spec(static_cast<ops::OpId>(b)).name),
                                              cov.pair_counts[p], static_cast<bool>(cov.pair_legal[p])));
                }
              }
            }
            d["ops"] = ops_d;
            d["pairs"] = pairs;
            return d;
          },
          nb::arg("n"), nb::arg("seed"), nb::arg("strict_uniform") = false,
          "Draws rows 0..n-1 of the stream of `seed`; returns {'programs', 'ops': {name: (count, legal)}, 'pairs': "
          "[(producer, consumer, count, legal)]}.");
}

}  // namespace drtriton::bindings
