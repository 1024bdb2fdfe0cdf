"""A small stand-in for the engine, for search tests: registry templates for relu/gelu/add/mul/linear,
a Triton emitter that fuses elementwise chains into one real @triton.jit kernel (linear stays a
torch library call), and an in-process verifier (seeded weights, several input seeds, allclose).

The program is PROGRAM (a user's file with an nn.Linear), imported by hand as chain_graph() + PARAMS.
It is not drtriton's verifier (no sandbox, no anti-cheat); it checks what search itself must get right:
fragment programs, composite assembly and weights, cover choice, budget and cache accounting.
"""

from __future__ import annotations

import hashlib

import torch

from drtriton.search.fragments import ValueType

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


SPECS = {"relu": ("F.relu({0})", {}), "gelu": ("F.gelu({0}, approximate='{approximate}')",
                                                   {"approximate": ("enum", ["none", "tanh"])}),
         "add": ("{0} + {1}", {}), "mul": ("{0} * {1}", {}),
         "linear": ("{self}({0})", {"out_features": ("int", []), "bias": ("bool", [])})}

PROGRAM = """import torch
import torch.nn as nn
import torch.nn.functional as F

IN = 12


class Model(nn.Module):
    def __init__(self, in_features, hidden=16):
        super(Model, self).__init__()
        self.fc = nn.Linear(in_features, hidden)

    def forward(self, x, y):
        h = self.fc(x)
        return F.relu(F.gelu(h) * y) + h


def get_inputs():
    return [torch.randn(5, IN), torch.randn(5, 16)]


def get_init_inputs():
    return [IN]
"""
PARAMS = [{"module": "self.fc", "weight": "self.fc.weight", "bias": "self.fc.bias"}, {}, {}, {}, {}]


def _user_init(problem_src: str) -> str:
    import ast

    for cls in ast.parse(problem_src).body:
        if isinstance(cls, ast.ClassDef) and cls.name == "Model":
            for fn in cls.body:
                if isinstance(fn, ast.FunctionDef) and fn.name == "__init__":
                    text = ast.unparse(fn).replace("super(Model, self)", "super(ModelNew, self)")
                    return "\n".join("    " + line for line in text.splitlines())
    raise ValueError("no Model.__init__")


def emit_triton(graph: dict, knobs: dict, policy: str, params=(), problem_src: str = PROGRAM) -> str:
    """ModelNew (the user's __init__): each run of elementwise nodes is one Triton kernel; linear stays a
    torch library call on the user's weights."""
    types = value_types(graph)
    k = len(graph["inputs"])
    block = int(knobs.get("block_size", 128))
    kernels, body = [], []
    group: list[int] = []

    def flush():
        if not group:
            return
        gid = len(kernels)
        ins = sorted({v for n in group for v in graph["nodes"][n]["inputs"]} - {k + n for n in group})
        out_v = k + group[-1]
        lines = ["@triton.jit", f"def fused_{gid}(" + ", ".join(f"p{v}" for v in ins) +
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
            p = params[i]
            body.append(f"        v{k + i} = torch.nn.functional.linear(v{node['inputs'][0]}, {p['weight']}, "
                        f"{p['bias']})")
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
        "class ModelNew(nn.Module):", _user_init(problem_src), "",
        f"    def forward(self, {params}):", *body, f"        return {ret}", ""])


class FakeBackend:
    """Verifies in-process; counts calls. gpu=False (no timings), or gpu=True with scripted timings."""

    def __init__(self, gpu: bool = False, timer=None, tmpdir=None):
        self.gpu, self.timer, self.tmpdir = gpu, timer, tmpdir
        self.verified = 0

    def import_graph(self, problem_src):
        from drtriton.search.backend import ImportedGraph

        g = chain_graph()
        return ImportedGraph(g, value_types(g), [dict(p) for p in PARAMS], [])

    def op_spec(self, op):
        return SPECS[op]

    def emit_triton(self, task, knobs, problem_src):
        graph = dict(task.graph, nodes=[{k: v for k, v in n.items() if k != "params"} for n in task.graph["nodes"]])
        return emit_triton(graph, knobs, task.policy, task.params, problem_src)

    def settings(self):
        return "fake"

    def state_names(self, problem_src):
        from drtriton.search.backend import state_names

        return state_names(problem_src)

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
    """PROGRAM as IR: x -> linear(16) -> gelu -> mul(., y) -> relu -> add(., h), with a residual fan-out."""
    t = lambda *s: {"shape": list(s), "dtype": "float32"}
    return {"inputs": [t(5, 12), t(5, 16)],
            "nodes": [{"op": "linear", "inputs": [0], "attrs": {"out_features": 16, "bias": 1}},  # v2
                      {"op": "gelu", "inputs": [2], "attrs": {"approximate": 0}},                 # v3
                      {"op": "mul", "inputs": [3, 1], "attrs": {}},                               # v4
                      {"op": "relu", "inputs": [4], "attrs": {}},                                 # v5
                      {"op": "add", "inputs": [5, 2], "attrs": {}}],                              # v6
            "outputs": [6]}
