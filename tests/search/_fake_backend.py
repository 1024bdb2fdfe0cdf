"""A small stand-in for the engine, for search tests: a Python emitter for relu/gelu/add/mul/linear
graphs, a Triton emitter that fuses elementwise chains into one real @triton.jit kernel (linear stays a
torch library call), and an in-process verifier (seeded weights, several input seeds, allclose).

It is not drtriton's verifier (no sandbox, no anti-cheat); it checks what search itself must get right:
fragment programs, composite assembly and weights, cover choice, budget and cache accounting.
"""

from __future__ import annotations

import hashlib
import json

import torch

from drtriton.search.fragments import GraphView, ValueType

_EXPR = {"relu": "torch.relu({0})", "gelu": "torch.nn.functional.gelu({0})", "add": "({0} + {1})",
         "mul": "({0} * {1})"}
_TL = {"relu": "tl.maximum({0}, 0.0)", "gelu": "0.5 * {0} * (1.0 + tl.erf({0} * 0.7071067811865476))",
       "add": "({0} + {1})", "mul": "({0} * {1})"}


def value_types(graph: dict) -> list[ValueType]:
    types = [ValueType(tuple(t["shape"]), t["dtype"]) for t in graph["inputs"]]
    for node in graph["nodes"]:
        if node["op"] == "linear":
            shape = types[node["inputs"][0]].shape[:-1] + (node["attrs"]["out_features"],)
        else:
            shape = torch.broadcast_shapes(*(types[v].shape for v in node["inputs"]))
        types.append(ValueType(tuple(shape), "float32"))
    return types


def emit_pytorch(graph: dict) -> str:
    types = value_types(graph)
    k = len(graph["inputs"])
    init, body = [], []
    for i, node in enumerate(graph["nodes"]):
        args = [f"v{v}" for v in node["inputs"]]
        if node["op"] == "linear":
            fin = types[node["inputs"][0]].shape[-1]
            init.append(f"        self.lin{i} = nn.Linear({fin}, {node['attrs']['out_features']}, "
                        f"bias={bool(node['attrs'].get('bias', 1))})")
            body.append(f"        v{k + i} = self.lin{i}({args[0]})")
        else:
            body.append(f"        v{k + i} = {_EXPR[node['op']].format(*args)}")
    outs = ", ".join(f"v{v}" for v in graph["outputs"])
    ret = outs if len(graph["outputs"]) == 1 else f"({outs},)"
    shapes = [t["shape"] for t in graph["inputs"]]
    params = ", ".join(f"v{i}" for i in range(k))
    return "\n".join([
        "import torch", "import torch.nn as nn", "", "", "class Model(nn.Module):",
        "    def __init__(self):", "        super().__init__()", *init, "",
        f"    def forward(self, {params}):", *body, f"        return {ret}", "", "",
        "def get_inputs():", f"    return [torch.randn(*s) for s in {shapes!r}]", "", "",
        "def get_init_inputs():", "    return []", ""])


def emit_triton(graph: dict, knobs: dict, policy: str) -> str:
    """ModelNew: each maximal run of elementwise nodes with the output's shape is one Triton kernel."""
    types = value_types(graph)
    k = len(graph["inputs"])
    block = int(knobs.get("block_size", 128))
    kernels, init, body = [], [], []
    group: list[int] = []

    def flush():
        if not group:
            return
        gid = len(kernels)
        ins = sorted({v for n in group for v in graph["nodes"][n]["inputs"]} - {k + n for n in group})
        out_v = k + group[-1]
        lines = [f"@triton.jit", f"def fused_{gid}(" + ", ".join(f"p{v}" for v in ins) +
                 ", out_ptr, n_elements, BLOCK: tl.constexpr):",
                 "    pid = tl.program_id(0)", "    offs = pid * BLOCK + tl.arange(0, BLOCK)",
                 "    mask = offs < n_elements"]
        lines += [f"    v{v} = tl.load(p{v} + offs, mask=mask)" for v in ins]
        for n in group:
            node = graph["nodes"][n]
            lines.append(f"    v{k + n} = " + _TL[node["op"]].format(*(f"v{v}" for v in node["inputs"])))
        lines.append(f"    tl.store(out_ptr + offs, v{out_v}, mask=mask)")
        kernels.append("\n".join(lines))
        args = ", ".join(f"v{v}.expand({tuple(types[out_v].shape)}).contiguous()" for v in ins)
        body.append(f"        v{out_v} = torch.empty({tuple(types[out_v].shape)}, device=v{ins[0]}.device)")
        body.append(f"        n = v{out_v}.numel()")
        body.append(f"        fused_{gid}[(triton.cdiv(n, {block}),)]({args}, v{out_v}, n, BLOCK={block})")
        group.clear()

    exits = set(graph["outputs"])
    for n, node in enumerate(graph["nodes"]):
        for m in range(n + 1, len(graph["nodes"])):
            if any(v == k + n for v in graph["nodes"][m]["inputs"]) and m != n + 1:
                exits.add(k + n)
    for i, node in enumerate(graph["nodes"]):
        if node["op"] == "linear":
            flush()
            fin = types[node["inputs"][0]].shape[-1]
            init.append(f"        self.lin{i} = nn.Linear({fin}, {node['attrs']['out_features']}, "
                        f"bias={bool(node['attrs'].get('bias', 1))})")
            body.append(f"        v{k + i} = torch.nn.functional.linear(v{node['inputs'][0]}, self.lin{i}.weight, "
                        f"self.lin{i}.bias)")
            continue
        group.append(i)
        if k + i in exits:
            flush()
    flush()
    outs = ", ".join(f"v{v}" for v in graph["outputs"])
    ret = outs if len(graph["outputs"]) == 1 else f"({outs},)"
    params = ", ".join(f"v{i}" for i in range(k))
    return "\n".join([
        "import torch", "import torch.nn as nn", "import triton", "import triton.language as tl", "", *kernels, "", "",
        "class ModelNew(nn.Module):", "    def __init__(self):", "        super().__init__()", *init, "",
        f"    def forward(self, {params}):", *body, f"        return {ret}", ""])


def _load(src: str, name: str):
    ns: dict = {"__name__": f"fake_{hashlib.sha1(src.encode()).hexdigest()[:8]}"}
    import linecache
    import sys
    import types as _types

    fname = f"<fake {ns['__name__']}>"
    linecache.cache[fname] = (len(src), None, src.splitlines(True), fname)
    mod = _types.ModuleType(ns["__name__"])
    mod.__file__ = fname
    sys.modules[ns["__name__"]] = mod
    exec(compile(src, fname, "exec"), mod.__dict__)
    return mod


class FakeBackend:
    """Verifies in-process; counts calls. gpu=False (no timings), or gpu=True with scripted timings."""

    def __init__(self, graph: dict, gpu: bool = False, timer=None, tmpdir=None):
        self.graph, self.gpu, self.timer, self.tmpdir = graph, gpu, timer, tmpdir
        self.verified = 0

    def import_graph(self, problem_src):
        return self.graph, value_types(self.graph)

    def emit_pytorch(self, graph):
        return emit_pytorch(graph)

    def emit_triton(self, graph, knobs, policy):
        return emit_triton(graph, knobs, policy)

    def settings(self):
        return "fake"

    def _load_file(self, src, name):
        # Triton's JIT reads kernel source through inspect, which needs a real file.
        path = self.tmpdir / f"m_{hashlib.sha1(src.encode()).hexdigest()[:12]}.py"
        path.write_text(src)
        import importlib.util

        spec = importlib.util.spec_from_file_location(path.stem, path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod

    def verify_many(self, pairs):
        out = []
        for problem, cand in pairs:
            self.verified += 1
            out.append(self._verify(problem, cand))
        return out

    def _verify(self, problem, cand):
        try:
            ref = self._load_file(problem, "ref")
            new = self._load_file(cand, "cand")
            init = ref.get_init_inputs()
            torch.manual_seed(42)
            m_ref = ref.Model(*init)
            torch.manual_seed(42)
            m_new = new.ModelNew(*init)
            for seed in range(3):
                torch.manual_seed(seed)
                inputs = ref.get_inputs()
                want, got = m_ref(*inputs), m_new(*inputs)
                want = want if isinstance(want, tuple) else (want,)
                got = got if isinstance(got, tuple) else (got,)
                if len(want) != len(got) or any(w.shape != g.shape or not torch.allclose(w, g, atol=1e-4, rtol=1e-4)
                                                for w, g in zip(want, got)):
                    return {"status": "incorrect", "reason": f"outputs differ at seed {seed}", "timing": None,
                            "speedup_vs_eager": None}
        except Exception as exc:  # noqa: BLE001 - a fake verdict, like the real one, never raises
            return {"status": "runtime_error", "reason": f"{type(exc).__name__}: {exc}", "timing": None,
                    "speedup_vs_eager": None}
        if not self.gpu:
            return {"status": "correct", "reason": "", "timing": None, "speedup_vs_eager": None}
        cand_ms, eager_ms = self.timer(problem, cand)
        return {"status": "correct", "reason": "", "speedup_vs_eager": eager_ms / cand_ms,
                "timing": {"candidate_ms": cand_ms, "eager_ms": eager_ms}}


def chain_graph():
    """x -> linear(16) -> gelu -> mul(., y) -> relu -> add(., x2), with a residual fan-out."""
    t = lambda *s: {"shape": list(s), "dtype": "float32"}  # noqa: E731
    return {"inputs": [t(5, 12), t(5, 16)],
            "nodes": [{"op": "linear", "inputs": [0], "attrs": {"out_features": 16, "bias": 1}},  # v2
                      {"op": "gelu", "inputs": [2], "attrs": {}},                                 # v3
                      {"op": "mul", "inputs": [3, 1], "attrs": {}},                               # v4
                      {"op": "relu", "inputs": [4], "attrs": {}},                                 # v5
                      {"op": "add", "inputs": [5, 2], "attrs": {}}],                              # v6
            "outputs": [6]}


def problem_source(graph: dict) -> str:
    return emit_pytorch(graph)


__all__ = ["FakeBackend", "chain_graph", "emit_pytorch", "emit_triton", "json", "problem_source", "GraphView"]
