"""What search needs from the rest of drtriton, behind one small interface (tests pass a stand-in).

EngineBackend wires the real stages: the frontend's FX importer (program -> IR JSON + parameter
bindings), the C++ registry (PyTorch spelling of each operator), the Triton code generator
(`_core.emit_triton`) and the verifier pool.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Protocol

from drtriton.search.fragments import ValueType
from drtriton.search.proposers.base import FragmentTask
from drtriton.util.errors import UsageError


@dataclass(frozen=True, slots=True)
class ImportedGraph:
    graph: dict                      # IR JSON (docs/ARCHITECTURE.md)
    types: list[ValueType]           # every value id's shape and dtype (inputs, then nodes)
    params: list[dict]               # per node: parameter role -> the user's attribute ("self.fc.weight")
    unsupported: list[str]           # operators the importer could not map (they block fragments)
    extra_inputs: tuple[str, ...] = ()  # the last graph inputs are these module tensors ("self.bias")


class Backend(Protocol):
    gpu: bool                      # True when verification measures speed

    def import_graph(self, problem_src: str) -> ImportedGraph: ...

    def op_spec(self, op: str) -> tuple[str, dict[str, tuple[str, list[str]]]]:
        """(PyTorch spelling template, {attr: (kind, enum names)}) from the operator registry."""

    def emit_triton(self, task: FragmentTask, knobs: dict, problem_src: str) -> str:
        """A ModelNew file for the task's fragment from the rule-based generator."""

    def state_names(self, problem_src: str) -> list[str]:
        """Parameter and buffer names of the user's Model ("fc.weight"), in registration order."""

    def verify_many(self, pairs: list[tuple[str, str]]) -> list[dict]:
        """Verdict JSONs (drtriton.verify.Verdict.to_json) for (problem, candidate) source pairs."""

    def settings(self) -> str:
        """Fingerprint of everything besides the sources that can change a verdict (cache key part)."""


class EngineBackend:
    """The real pipeline: drtriton.frontend + drtriton._core + drtriton.verify.

    Args:
        verify_config: drtriton.verify.VerifyConfig (policy, tolerances, device).
        workers: verifier worker processes (None: with a GPU one per two CPU cores, 2..4, so a batch's
            compiles overlap its serialized timing; 1 without).
    """

    def __init__(self, verify_config=None, workers: int | None = None):
        try:
            from drtriton import _core  # noqa: F401
            from drtriton.verify import VerifierPool, VerifyConfig
            from drtriton.verify.config import gpu_pool_workers
        except ImportError as exc:
            raise UsageError(f"drtriton's engine or verifier is not importable ({exc}); build it with "
                             "`cmake --build build/dev` (README) and run with PYTHONPATH=src") from None
        import torch

        self.config = verify_config or VerifyConfig(policy="hybrid")
        self.gpu = torch.cuda.is_available() and self.config.device != "cpu"
        # with a GPU, compiles (Triton JIT, imports) of a batch overlap each other and the serialized timing
        self.pool = VerifierPool(self.config, workers=workers or (gpu_pool_workers(2) if self.gpu else 1))
        self._init: dict[str, tuple[str, str]] = {}

    def import_graph(self, problem_src: str) -> ImportedGraph:
        from drtriton import _core
        from drtriton.search.meta import import_fast

        prog = import_fast(problem_src)  # shapes from the meta device: no host-side forward at full size
        self._init[problem_src] = (prog.init_source, prog.preamble)
        if not prog.graph.get("outputs"):  # every operation stayed outside the registry: nothing to search
            listed = "; ".join(f"{u.node} ({u.target}): {u.why}" for u in prog.unsupported) or "no operations"
            raise UsageError(f"nothing to lower: cannot import {len(prog.unsupported)} operation(s): {listed}; "
                             "rewrite them with registry operators (drtriton ops lists them)")
        core = _core.Graph.from_json(json.dumps(prog.graph))
        graph = json.loads(core.to_json())
        shapes, dtypes = core.shapes, core.dtypes
        types = [ValueType(tuple(int(d) for d in s), str(t)) for s, t in zip(shapes, dtypes, strict=True)]
        unsupported = [f"{u.node} ({u.target}): {u.why}" for u in prog.unsupported]
        return ImportedGraph(graph, types, list(prog.params), unsupported, tuple(prog.extra_inputs))

    def op_spec(self, op: str):
        from drtriton import _core

        spec = _core.op(op)
        return spec.torch, {a.name: (a.kind, list(a.enum_names)) for a in spec.attrs}

    def emit_triton(self, task: FragmentTask, knobs: dict, problem_src: str) -> str:
        from drtriton import _core

        init_source, preamble = self._init[problem_src]
        graph = {k: v for k, v in task.graph.items() if k != "extra_inputs"}
        graph["nodes"] = [{k: v for k, v in n.items() if k != "params"} for n in task.graph["nodes"]]
        extra = list(task.graph.get("extra_inputs", []))  # module tensors: the last graph inputs
        return _core.emit_triton(json.dumps(graph), knobs, task.policy, [dict(p) for p in task.params],
                                 init_source, preamble, "", extra)

    def describe_kernels(self, task: FragmentTask) -> list:
        """The generator's kernel plan for the task, with sizes (what the knob proposer tunes for)."""
        from drtriton import _core
        from drtriton.search.proposers.rule import kernel_shapes

        graph = {k: v for k, v in task.graph.items() if k != "extra_inputs"}
        graph["nodes"] = [{k: v for k, v in n.items() if k != "params"} for n in task.graph["nodes"]]
        text = json.dumps(graph)
        plan = json.loads(_core.triton_plan(text, {}, task.policy))
        return kernel_shapes(graph, [list(s) for s in _core.Graph.from_json(text).shapes], plan)

    def tf32_ok(self) -> bool:
        """TF32 matmuls (about 1e-3 off, DESIGN §9) can pass only a loose tolerance (KernelBench's 1e-2)."""
        return min(getattr(self.config, "atol", 0.0) or 0.0, getattr(self.config, "rtol", 0.0) or 0.0) >= 1e-3

    def state_names(self, problem_src: str) -> list[str]:
        return state_names(problem_src)

    def verify_many(self, pairs: list[tuple[str, str]]) -> list[dict]:
        return [v.to_json() for v in self.pool.verify_many(pairs)]

    def settings(self) -> str:
        return self.config.hash()

    def close(self) -> None:
        self.pool.close()


def timing_of(verdict: dict) -> tuple[float | None, float | None]:
    """(candidate_ms, eager_ms) medians from a verdict JSON; None where not measured."""
    t = verdict.get("timing") or {}
    return t.get("candidate_ms"), t.get("eager_ms")


def state_names(problem_src: str) -> list[str]:
    """Parameter and buffer names of the user's Model, built on the meta device (no memory, no kernels).

    Runs the user's file in this process, as the importer already has.
    """
    import types

    import torch

    module = types.ModuleType("drtriton_search_problem")
    exec(compile(problem_src, "<problem>", "exec"), module.__dict__)  # noqa: S102 - the user's own program
    with torch.device("meta"):
        model = module.Model(*module.get_init_inputs())
    return [n for n, _ in model.named_parameters()] + [n for n, _ in model.named_buffers()]
