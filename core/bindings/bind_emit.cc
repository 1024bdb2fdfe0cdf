// Bindings of the Triton code generator (emit_triton.h): no logic, only argument conversion.
#include <nanobind/nanobind.h>
#include <nanobind/stl/map.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include "drtriton/emit_triton.h"
#include "drtriton/ir.h"
#include "drtriton/ir_json.h"
#include "emit/fusion.h"

namespace nb = nanobind;

namespace drtriton::bindings {
namespace {

// Knobs arrive as a dict of the TritonKnobs field names; unknown names are a caller error.
emit::TritonOptions MakeOptions(const nb::dict& knobs, const std::string& policy,
                                const std::vector<std::map<std::string, std::string>>& params,
                                const std::string& init_source, const std::string& preamble,
                                const std::string& dump_after,
                                const std::vector<std::string>& extra_inputs = {},
                                const std::map<int32_t, std::vector<int32_t>>& host_deps = {}) {
  emit::TritonOptions opt;
  opt.extra_inputs = extra_inputs;
  opt.host_deps = host_deps;
  opt.policy = emit::ParsePolicy(policy);
  opt.params = params;
  opt.init_source = init_source;
  opt.preamble = preamble;
  opt.dump_after = dump_after;
  emit::TritonKnobs& k = opt.knobs;
  for (auto [key, value] : knobs) {
    const std::string name = nb::cast<std::string>(key);
    if (name == "split") {
      k.split = nb::cast<std::vector<int32_t>>(value);
      continue;
    }
    int* ints[] = {&k.block, &k.reduce_block, &k.reduce_block_inner, &k.block_m, &k.block_n, &k.block_k,
                   &k.num_warps, &k.num_stages, &k.split_k};
    const char* int_names[] = {"block", "reduce_block", "reduce_block_inner", "block_m", "block_n",
                               "block_k", "num_warps", "num_stages", "split_k"};
    bool* bools[] = {&k.fuse_epilogue, &k.fuse_prologue, &k.allow_tf32, &k.exact_dot, &k.conv_channels_last,
                    &k.conv_tf32};
    const char* bool_names[] = {"fuse_epilogue", "fuse_prologue", "allow_tf32", "exact_dot", "conv_channels_last",
                                "conv_tf32"};
    bool found = false;
    for (size_t i = 0; i < std::size(ints) && !found; ++i) {
      if (name == int_names[i]) *ints[i] = nb::cast<int>(value), found = true;
    }
    for (size_t i = 0; i < std::size(bools) && !found; ++i) {
      if (name == bool_names[i]) *bools[i] = nb::cast<bool>(value), found = true;
    }
    if (!found) throw ValueError("unknown emitter knob '" + name + "'; see drtriton.frontend.CompileConfig");
  }
  return opt;
}

}  // namespace

void BindEmitTriton(nb::module_& m) {
  m.def(
      "emit_triton",
      [](const ir::Graph& graph, const nb::dict& knobs, const std::string& policy,
         const std::vector<std::map<std::string, std::string>>& params, const std::string& init_source,
         const std::string& preamble, const std::string& dump_after) {
        return emit::EmitTriton(graph, MakeOptions(knobs, policy, params, init_source, preamble, dump_after));
      },
      nb::arg("graph"), nb::arg("knobs") = nb::dict(), nb::arg("policy") = "mixed",
      nb::arg("params") = std::vector<std::map<std::string, std::string>>{}, nb::arg("init_source") = "",
      nb::arg("preamble") = "", nb::arg("dump_after") = "",
      "Fused Triton ModelNew source for a graph (or the plan dump after pass `dump_after`).");
  m.def(
      "emit_triton",
      [](const std::string& graph_json, const nb::dict& knobs, const std::string& policy,
         const std::vector<std::map<std::string, std::string>>& params, const std::string& init_source,
         const std::string& preamble, const std::string& dump_after,
         const std::vector<std::string>& extra_inputs,
         const std::map<int32_t, std::vector<int32_t>>& host_deps) {
        return emit::EmitTriton(
            ir::FromJson(graph_json),
            MakeOptions(knobs, policy, params, init_source, preamble, dump_after, extra_inputs, host_deps));
      },
      nb::arg("graph_json"), nb::arg("knobs") = nb::dict(), nb::arg("policy") = "mixed",
      nb::arg("params") = std::vector<std::map<std::string, std::string>>{}, nb::arg("init_source") = "",
      nb::arg("preamble") = "", nb::arg("dump_after") = "",
      nb::arg("extra_inputs") = std::vector<std::string>{},
      nb::arg("host_deps") = std::map<int32_t, std::vector<int32_t>>{},
      "As above, from the graph's JSON text (docs/ARCHITECTURE.md); host_deps: extra inputs that are\n"
      "PyTorch calls kept by the hybrid policy -> the value ids they read.");
  m.def(
      "triton_plan",
      [](const std::string& graph_json, const nb::dict& knobs, const std::string& policy,
         const std::vector<std::string>& extra_inputs, const std::map<int32_t, std::vector<int32_t>>& host_deps) {
        return emit::TritonPlanJson(ir::FromJson(graph_json),
                                    MakeOptions(knobs, policy, {}, "", "", "", extra_inputs, host_deps));
      },
      nb::arg("graph_json"), nb::arg("knobs") = nb::dict(), nb::arg("policy") = "mixed",
      nb::arg("extra_inputs") = std::vector<std::string>{},
      nb::arg("host_deps") = std::map<int32_t, std::vector<int32_t>>{});
  m.def(
      "triton_plan",
      [](const ir::Graph& graph, const nb::dict& knobs, const std::string& policy) {
        return emit::TritonPlanJson(graph, MakeOptions(knobs, policy, {}, "", "", ""));
      },
      nb::arg("graph"), nb::arg("knobs") = nb::dict(), nb::arg("policy") = "mixed",
      "The fusion plan as JSON: kernels (kind, root, anchor, ops) and unsupported nodes.");
  m.def(
      "triton_passes",
      [] {
        std::vector<std::pair<std::string, std::string>> out;
        for (const emit::PassInfo& p : emit::TritonPasses()) out.emplace_back(p.name, p.why);
        return out;
      },
      "The generator's passes in order, each (name, why); names are valid for dump_after.");
}

}  // namespace drtriton::bindings
