"""Fragment programs: a fragment of the user's program written as a KernelBench-format program of its own.

The fragment program is the user's file with two changes: `Model.forward` computes only the fragment's
nodes (each in its registry PyTorch spelling, parameters through the user's own attributes, e.g.
`self.fc`), and `get_inputs` returns the tensors entering the fragment. Model.__init__, module
constants and get_init_inputs stay the user's, so the verifier's seeded construction gives the
fragment the program's own weights, and any ModelNew written for it keeps the user's attribute names
(which is how the composite shares one set of weights between its steps).

Tensors entering from inside the program are computed by running the program's prefix in PyTorch on
fresh inputs (`_drt_prefix`), so they have the distribution the fragment really sees (a softmax's
output is a probability, an argmax's an index), not a stand-in normal draw.
"""

from __future__ import annotations

import ast
from collections.abc import Callable

from drtriton.search.fragments import Fragment, GraphView
from drtriton.util.errors import UsageError

# op name -> (torch template, {attr name: (kind, enum names)}), as in `drtriton ops` / _core.op(name)
OpSpecs = Callable[[str], tuple[str, dict[str, tuple[str, list[str]]]]]


def _format_attr(value, kind: str, enum_names: list[str]) -> str:
    if kind == "enum":
        return enum_names[int(value)]
    if kind == "bool":
        return "True" if int(value) else "False"
    if kind in ("int", "axis"):
        return str(int(value))
    return repr(float(value))


def render_node(op: str, template: str, attr_specs: dict, node: dict, args: list[str], params: dict) -> str:
    """The PyTorch expression of one node (registry template filled in).

    Raises:
        UsageError: the node needs a module the program does not bind (nothing to call).
    """
    text = template
    if "{self}" in text:
        for role, expr in params.items():
            text = text.replace("{self}." + role, expr)
        if "{self}" in text:
            if "module" in params:
                text = text.replace("{self}", params["module"])
            elif op == "linear" and "weight" in params:  # F.linear(x, self.w, self.b) in the user's code
                text = f"F.linear({{0}}, {params['weight']}, {params.get('bias', 'None')})"
            else:
                raise UsageError(f"node {op} has no module binding (params seen: {sorted(params)}); "
                                 "it cannot be written as a fragment program")
    attrs = node.get("attrs", {})
    for name, (kind, enum_names) in attr_specs.items():
        if "{" + name + "}" in text:
            if name not in attrs:
                raise UsageError(f"node {op} lacks attribute {name!r} (attrs seen: {sorted(attrs)})")
            text = text.replace("{" + name + "}", _format_attr(attrs[name], kind, enum_names))
    for i, a in enumerate(args):
        text = text.replace("{" + str(i) + "}", a)
    return text


def _ancestors(view: GraphView, values: list[int]) -> list[int]:
    """Node indices (ascending) needed to compute the given value ids from the program inputs."""
    need, stack = set(), [v - view.num_inputs for v in values if v >= view.num_inputs]
    while stack:
        n = stack.pop()
        if n in need:
            continue
        need.add(n)
        stack.extend(view.preds[n])
    return sorted(need)


def _method(name: str, args: list[str], body: list[str]) -> ast.FunctionDef:
    src = f"def {name}(self{''.join(', ' + a for a in args)}):\n" + "".join(f"    {b}\n" for b in body)
    return ast.parse(src).body[0]


def fragment_program(problem_src: str, view: GraphView, frag: Fragment, params: list[dict],
                     op_spec: OpSpecs) -> str:
    """The KernelBench-format program computing `frag` (see the module docstring)."""
    k = view.num_inputs

    def lines_for(nodes: list[int]) -> list[str]:
        out = []
        for n in nodes:
            node = view.graph["nodes"][n]
            template, specs = op_spec(node["op"])
            expr = render_node(node["op"], template, specs, node, [f"v{v}" for v in node["inputs"]],
                               params[n] if n < len(params) else {})
            out.append(f"v{k + n} = {expr}")
        return out

    n_args = view.num_args
    # module tensors the program reads directly (self.bias): read from the module, never passed in
    extra_lines = [f"v{n_args + i} = {expr}" for i, expr in enumerate(view.extra_inputs)]
    exits = [f"v{v}" for v in frag.exit_values]
    ret = exits[0] if len(exits) == 1 else "(" + ", ".join(exits) + ",)"
    forward = _method("forward", [f"v{v}" for v in frag.arg_values],
                      [*[ln for i, ln in enumerate(extra_lines) if n_args + i in frag.entry_values],
                       *lines_for(list(frag.nodes)), f"return {ret}"])
    inner = [v for v in frag.arg_values if v >= k]
    prefix_nodes = _ancestors(view, inner)
    entries = ", ".join(f"v{v}" for v in frag.arg_values)
    prefix = _method("_drt_prefix", [f"v{i}" for i in range(n_args)],
                     [*extra_lines, *lines_for(prefix_nodes), f"return [{entries}]"]) if inner else None

    tree = ast.parse(problem_src)
    found = False
    for stmt in tree.body:
        if isinstance(stmt, ast.ClassDef) and stmt.name == "Model":
            stmt.body = [s for s in stmt.body if not (isinstance(s, ast.FunctionDef)
                                                      and s.name in ("forward", "_drt_prefix"))]
            stmt.body += [forward] + ([prefix] if prefix else [])
            found = True
        elif isinstance(stmt, ast.FunctionDef) and stmt.name == "get_inputs":
            stmt.name = "_drt_program_inputs"
    if not found:
        raise UsageError("problem source defines no class Model; pass a KernelBench-format program")
    if prefix:
        gen = ["def get_inputs():",
               "    # Tensors made inside the program: run its prefix in PyTorch on fresh program inputs",
               "    # (on the GPU when there is one: realistic prefixes are slow on a CPU).",
               "    dev = 'cuda' if torch.cuda.is_available() else 'cpu'",
               "    xs = [x.to(dev) if isinstance(x, torch.Tensor) else x for x in _drt_program_inputs()]",
               "    with torch.no_grad():",
               "        model = Model(*get_init_inputs()).to(dev).eval()",
               "        return [t.detach().cpu() for t in model._drt_prefix(*xs)]"]
    else:
        picks = ", ".join(f"xs[{v}]" for v in frag.arg_values)
        gen = ["def get_inputs():", "    xs = _drt_program_inputs()", f"    return [{picks}]"]
    header = (f'"""Fragment of a drtriton program: nodes {list(frag.nodes)} '
              f'({", ".join(view.op(n) for n in frag.nodes)})."""')
    return "\n".join([header, "import torch", "import torch.nn.functional as F", ast.unparse(tree), "", *gen, ""])
