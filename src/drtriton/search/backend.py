"""What search needs from the rest of drtriton, behind one small interface (tests pass a fake one).

EngineBackend wires the real stages: the frontend's importer (program -> IR JSON), the C++ emitters
(`_core.emit_pytorch`, `_core.emit_triton`) and the verifier pool.
"""

from __future__ import annotations

import json
import time
from typing import Protocol

from drtriton.search.fragments import ValueType
from drtriton.util.errors import UsageError


class Backend(Protocol):
    gpu: bool                      # True when verification measures speed

    def import_graph(self, problem_src: str) -> tuple[dict, list[ValueType]]:
        """The program's IR JSON and the type of every value id (inputs, then nodes)."""

    def emit_pytorch(self, graph: dict) -> str:
        """A KernelBench-format program computing `graph` (its Model registers parameters in node order)."""

    def emit_triton(self, graph: dict, knobs: dict, policy: str) -> str:
        """A ModelNew file for `graph` from the rule-based generator."""

    def verify_many(self, pairs: list[tuple[str, str]]) -> list[dict]:
        """Verdict JSONs (drtriton.verify.Verdict.to_json) for (problem, candidate) source pairs."""

    def settings(self) -> str:
        """Fingerprint of everything besides the sources that can change a verdict (cache key part)."""


def _types_from_core(graph_obj, num_values: int) -> list[ValueType] | None:
    for name in ("type_of", "value_type", "TypeOf"):
        fn = getattr(graph_obj, name, None)
        if fn is None:
            continue
        out = []
        for v in range(num_values):
            t = fn(v)
            shape = t["shape"] if isinstance(t, dict) else getattr(t, "shape")
            dtype = t["dtype"] if isinstance(t, dict) else getattr(t, "dtype")
            out.append(ValueType(tuple(int(d) for d in shape), str(dtype).replace("torch.", "")))
        return out
    return None


class EngineBackend:
    """The real pipeline: drtriton.frontend + drtriton._core + drtriton.verify."""

    def __init__(self, verify_config=None, workers: int = 1):
        try:
            from drtriton import _core  # noqa: F401
            from drtriton.verify import VerifierPool, VerifyConfig
        except ImportError as exc:
            raise UsageError(f"drtriton's engine or verifier is not importable ({exc}); build it with "
                             "`cmake --build build/dev` (README) and run with PYTHONPATH=src") from None
        import torch

        self.config = verify_config or VerifyConfig(policy="hybrid")
        self.pool = VerifierPool(self.config) if workers else None
        dev = self.config.device
        self.gpu = torch.cuda.is_available() and dev != "cpu"

    def import_graph(self, problem_src: str) -> tuple[dict, list[ValueType]]:
        from drtriton import _core
        from drtriton.frontend import import_program

        imported = import_program(problem_src)
        graph_json = getattr(imported, "graph_json", None) or getattr(imported, "graph", None)
        graph = json.loads(graph_json) if isinstance(graph_json, str) else dict(graph_json)
        core_graph = _core.Graph.from_json(json.dumps(graph))
        full = json.loads(core_graph.to_json())
        num_values = len(graph["inputs"]) + len(graph["nodes"])
        types = None
        if all("shape" in n for n in full.get("nodes", [])):
            types = [ValueType(tuple(t["shape"]), t.get("dtype", "float32")) for t in full["inputs"]]
            types += [ValueType(tuple(n["shape"]), n.get("dtype", "float32")) for n in full["nodes"]]
        types = types or _types_from_core(core_graph, num_values)
        if types is None:
            raise UsageError("the engine does not expose intermediate tensor types (Graph.type_of); "
                             "search cannot cut this program into fragments")
        return graph, types

    def emit_pytorch(self, graph: dict) -> str:
        from drtriton import _core

        return _core.emit_pytorch(_core.Graph.from_json(json.dumps(graph)))

    def emit_triton(self, graph: dict, knobs: dict, policy: str) -> str:
        from drtriton import _core

        return _core.emit_triton(_core.Graph.from_json(json.dumps(graph)), knobs, policy)

    def verify_many(self, pairs: list[tuple[str, str]]) -> list[dict]:
        verdicts = self.pool.verify_many(pairs)
        return [v.to_json() for v in verdicts]

    def settings(self) -> str:
        return self.config.hash()


def timing_of(verdict: dict) -> tuple[float | None, float | None]:
    """(candidate_ms, eager_ms) medians from a verdict JSON; None where not measured."""
    t = verdict.get("timing") or {}
    return t.get("candidate_ms"), t.get("eager_ms")


class Stopwatch:
    def __init__(self):
        self.start = time.monotonic()

    def elapsed(self) -> float:
        return time.monotonic() - self.start
