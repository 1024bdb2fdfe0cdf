// JSON form of the graph IR (ir::FromJson / ir::ToJson), using nlohmann/json.
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "drtriton/ir_json.h"
#include "support/check.h"

namespace drtriton::ir {
namespace {

using nlohmann::json;

std::string ChoicesStr(const ops::AttrSpec& a) {
  std::string s;
  for (size_t i = 0; i < a.choices.size(); ++i) {
    if (i) s += ", ";
    if (a.kind == ops::AttrKind::kEnum) {
      s += std::to_string(i) + "=" + std::string(a.enum_names[i]);
    } else {
      json v = a.choices[i];
      s += v.dump();
    }
  }
  return s;
}

double AttrValue(const json& v, const ops::AttrSpec& a, size_t node, std::string_view op) {
  if (v.is_boolean()) return v.get<bool>() ? 1 : 0;
  if (v.is_number()) return v.get<double>();
  if (v.is_string() && a.kind == ops::AttrKind::kFloat) {
    const auto text = v.get<std::string>();
    if (text == "inf" || text == "Infinity") return std::numeric_limits<double>::infinity();
    if (text == "-inf" || text == "-Infinity") return -std::numeric_limits<double>::infinity();
  }
  if (v.is_string() && a.kind == ops::AttrKind::kEnum) {
    const auto name = v.get<std::string>();
    for (size_t i = 0; i < a.enum_names.size(); ++i) {
      if (a.enum_names[i] == name) return static_cast<double>(i);
    }
  }
  DRT_CHECK(false, ValueError,
            "node " << node << " (" << op << ") attr \"" << a.name << "\" must be a number, got "
                    << v.dump() << "; choices: " << ChoicesStr(a));
  return 0;
}

TensorType ParseTensorType(const json& j, const std::string& where) {
  DRT_CHECK(j.is_object() && j.contains("shape") && j["shape"].is_array(), ValueError,
            where << " must be an object with a \"shape\" list, got " << j.dump());
  TensorType t;
  for (const json& d : j["shape"]) {
    DRT_CHECK(d.is_number_integer() && d.get<int64_t>() >= 1, ShapeError,
              where << " shape " << j["shape"].dump() << " must hold integers >= 1");
    t.shape.push_back(d.get<int64_t>());
  }
  if (j.contains("dtype")) {
    DRT_CHECK(j["dtype"].is_string(), ValueError,
              where << " dtype must be a string, got " << j["dtype"].dump());
    auto dtype = ParseDType(j["dtype"].get<std::string>());
    DRT_CHECK(
        dtype.has_value(), ValueError,
        where << " dtype " << j["dtype"].dump() << " is unknown; use float32, float16 or bfloat16");
    t.dtype = *dtype;
  }
  return t;
}

// Python's json.dumps writes float('inf') as the bare token Infinity (not JSON); quote such tokens
// outside strings so they parse, and AttrValue reads them back as +-inf.
std::string QuoteNonFinite(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      out += c;
      if (c == '\\' && i + 1 < text.size()) {
        out += text[++i];
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') in_string = true;
    bool replaced = false;
    for (std::string_view token : {"-Infinity", "Infinity", "NaN"}) {
      if (text.substr(i, token.size()) == token) {
        out += '"';
        out += token;
        out += '"';
        i += token.size() - 1;
        replaced = true;
        break;
      }
    }
    if (!replaced) out += c;
  }
  return out;
}

}  // namespace

std::optional<DType> ParseDType(std::string_view name) {
  for (DType d : {DType::kFloat32, DType::kFloat16, DType::kBFloat16, DType::kInt64}) {
    if (DTypeName(d) == name) return d;
  }
  return std::nullopt;
}

Graph FromJson(std::string_view text) {
  json j;
  try {
    const std::string quoted = QuoteNonFinite(text);
    j = json::parse(quoted);
  } catch (const json::parse_error& e) {
    DRT_CHECK(false, ValueError,
              "graph JSON does not parse (" << e.what() << "); pass the object from ToJson");
  }
  DRT_CHECK(j.is_object(), ValueError, "graph JSON must be an object with inputs, nodes, outputs");
  for (const auto& [key, _] : j.items()) {
    DRT_CHECK(key == "inputs" || key == "nodes" || key == "outputs", ValueError,
              "graph JSON has unknown key \"" << key << "\"; allowed: inputs, nodes, outputs");
  }
  for (const char* key : {"inputs", "nodes", "outputs"}) {
    DRT_CHECK(j.contains(key) && j[key].is_array(), ValueError,
              "graph JSON needs a \"" << key << "\" list");
  }
  Graph g;
  for (size_t i = 0; i < j["inputs"].size(); ++i) {
    g.inputs.push_back(ParseTensorType(j["inputs"][i], "input " + std::to_string(i)));
  }
  const auto k = static_cast<int32_t>(g.inputs.size());
  const json& nodes = j["nodes"];
  for (size_t n = 0; n < nodes.size(); ++n) {
    const json& jn = nodes[n];
    DRT_CHECK(jn.is_object() && jn.contains("op") && jn["op"].is_string(), ValueError,
              "node " << n << " must be an object with an \"op\" name, got " << jn.dump());
    for (const auto& [key, _] : jn.items()) {
      DRT_CHECK(key == "op" || key == "inputs" || key == "attrs", ValueError,
                "node " << n << " has unknown key \"" << key << "\"; allowed: op, inputs, attrs");
    }
    const auto name = jn["op"].get<std::string>();
    auto op = ops::FindOp(name);
    DRT_CHECK(
        op.has_value(), ValueError,
        "node " << n << " has unknown op \"" << name << "\"; `drtriton ops` lists the operators");
    const ops::OpSpec& spec = ops::Spec(*op);
    Node node;
    node.op = *op;
    DRT_CHECK(jn.contains("inputs") && jn["inputs"].is_array(), ValueError,
              "node " << n << " (" << name << ") needs an \"inputs\" list of value ids");
    for (const json& v : jn["inputs"]) {
      DRT_CHECK(v.is_number_integer(), ValueError,
                "node " << n << " (" << name << ") input ids must be integers, got " << v.dump());
      const auto id = v.get<int64_t>();
      DRT_CHECK(id >= 0 && id < k + static_cast<int64_t>(n), ValueError,
                "node " << n << " (" << name << ") reads value " << id
                        << ", which is not defined before it "
                        << "(valid: 0.." << (k + static_cast<int64_t>(n) - 1)
                        << "); order nodes topologically");
      node.inputs.push_back(static_cast<int32_t>(id));
    }
    DRT_CHECK(static_cast<int>(node.inputs.size()) == spec.arity, ValueError,
              "node " << n << " (" << name << ") has " << node.inputs.size() << " inputs; it takes "
                      << spec.arity);
    const json attrs = jn.contains("attrs") ? jn["attrs"] : json::object();
    DRT_CHECK(attrs.is_object(), ValueError,
              "node " << n << " (" << name << ") \"attrs\" must be an object");
    for (const auto& [key, _] : attrs.items()) {
      DRT_CHECK(ops::AttrIndex(*op, key) >= 0, ValueError,
                "node " << n << " (" << name << ") has unknown attr \"" << key
                        << "\"; `drtriton ops` lists " << name << "'s attrs");
    }
    for (const ops::AttrSpec& a : spec.attrs) {
      DRT_CHECK(attrs.contains(std::string(a.name)), ValueError,
                "node " << n << " (" << name << ") is missing attr \"" << a.name
                        << "\"; choices: " << ChoicesStr(a));
      node.attrs.push_back(AttrValue(attrs[std::string(a.name)], a, n, name));
    }
    std::vector<TensorType> in;
    for (int32_t v : node.inputs) in.push_back(g.TypeOf(v));
    std::string why;
    auto out = ops::InferOutputExplained(*op, in, node.attrs, &why);
    DRT_CHECK(out.has_value(), ShapeError, "node " << n << " (" << name << "): " << why);
    node.type = *out;
    g.nodes.push_back(std::move(node));
  }
  for (const json& v : j["outputs"]) {
    DRT_CHECK(v.is_number_integer(), ValueError, "output ids must be integers, got " << v.dump());
    g.outputs.push_back(static_cast<int32_t>(v.get<int64_t>()));
  }
  Validate(g);
  return g;
}

std::string ToJson(const Graph& graph, int indent) {
  using json = nlohmann::ordered_json;  // keys in the documented order: op, inputs, attrs
  json j;
  j["inputs"] = json::array();
  for (const TensorType& t : graph.inputs) {
    j["inputs"].push_back({{"shape", t.shape}, {"dtype", std::string(DTypeName(t.dtype))}});
  }
  j["nodes"] = json::array();
  for (const Node& node : graph.nodes) {
    const ops::OpSpec& spec = ops::Spec(node.op);
    json attrs = json::object();
    for (size_t i = 0; i < spec.attrs.size() && i < node.attrs.size(); ++i) {
      const double v = node.attrs[i];
      if (spec.attrs[i].kind == ops::AttrKind::kFloat && std::isinf(v)) {
        attrs[std::string(spec.attrs[i].name)] = v > 0 ? "inf" : "-inf";  // valid JSON, read back
      } else if (spec.attrs[i].kind == ops::AttrKind::kFloat) {
        attrs[std::string(spec.attrs[i].name)] = v;
      } else {
        attrs[std::string(spec.attrs[i].name)] = static_cast<int64_t>(std::llround(v));
      }
    }
    j["nodes"].push_back(
        {{"op", std::string(spec.name)}, {"inputs", node.inputs}, {"attrs", attrs}});
  }
  j["outputs"] = graph.outputs;
  return j.dump(indent);
}

}  // namespace drtriton::ir
