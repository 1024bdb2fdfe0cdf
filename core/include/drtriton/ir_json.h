// The JSON form of a graph, the Python <-> C++ exchange format (docs/ARCHITECTURE.md):
//   {"inputs": [{"shape": [8, 16], "dtype": "float32"}],
//    "nodes":  [{"op": "linear", "inputs": [0], "attrs": {"out_features": 32, "bias": 1}}],
//    "outputs": [1]}
// Value ids: inputs first (0..k-1), then node i is value k+i. Attributes are named as in the
// registry row; values are numbers (enums as their index or their name, bools as 0/1 or
// true/false).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "drtriton/ir.h"

namespace drtriton::ir {

/// Parses the JSON form, infers every node's type with ops::InferOutput and validates the graph.
/// Throws drtriton::ValueError (malformed JSON, unknown op or attr, bad ids) or
/// drtriton::ShapeError (a node's shape rule fails), naming the node and what to fix.
Graph FromJson(std::string_view text);

/// The JSON form of `graph` (compact when indent < 0). Node types are not written: FromJson
/// re-infers them.
std::string ToJson(const Graph& graph, int indent = -1);

/// Parses a dtype name ("float32", "float16", "bfloat16", "int64"); nullopt when unknown.
std::optional<DType> ParseDType(std::string_view name);

}  // namespace drtriton::ir
