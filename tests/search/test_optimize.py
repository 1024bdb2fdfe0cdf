"""optimize() end to end over a stand-in engine (tests/search/_fake_backend.py): real Triton kernels
under TRITON_INTERPRET=1, in-process verification, scripted timings for the GPU path."""

import json
import re

import pytest
from _fake_backend import PROGRAM, FakeBackend, emit_triton

from drtriton.search import SearchConfig, optimize
from drtriton.search.proposers.base import Candidate, Proposer
from drtriton.search.proposers.rule import RuleProposer


def _timer(problem, cand):
    """Scripted GPU: eager costs 1 ms per op; a kernel costs 0.3 ms + 0.2 ms x (ops fused)^2, so fusing
    everything into one kernel is slower than two medium kernels; linear is a 1 ms library call."""
    forward = re.search(r"def forward\(.*?(?=\n    def |\ndef |\Z)", problem, re.DOTALL).group(0)
    eager = float(len(re.findall(r"F\.relu|F\.gelu|self\.fc\(| \* | \+ ", forward)))
    ms = 1.0 * cand.count("functional.linear(") + 1.0 * len(re.findall(r"self\.s\d+ = _s\d+_Model\(", cand))
    for body in re.findall(r"def [\w]*fused_\d+\(.*?tl\.store", cand, re.DOTALL):
        ops = len(re.findall(r"^\s+v\d+ = (?!tl\.load)", body, re.MULTILINE))
        ms += 0.3 + 0.2 * ops * ops
    return ms, eager


def _cfg(tmp_path, **kw):
    kw.setdefault("max_seconds", 600)
    return SearchConfig(**kw)


def test_cpu_search_returns_the_single_shot_kernel_and_says_speed_needs_a_gpu(tmp_path):
    backend = FakeBackend(gpu=False, tmpdir=tmp_path)
    result = optimize(PROGRAM, _cfg(tmp_path, max_fragments=8), backend=backend)
    assert result.kind == "whole" and result.source is not None
    assert result.verdict["status"] == "correct"
    assert result.speedup_vs_eager is None and result.gpu_seconds is None and not result.speed_measured
    assert any("no GPU" in n for n in result.notes)
    assert result.candidates_tried == backend.verified


class _NoBigFragments(FakeBackend):
    """An emitter that refuses fragments of more than 2 nodes, so only a composite can cover."""

    def emit_triton(self, task, knobs, problem_src):
        if len(task.graph["nodes"]) > 2:
            raise ValueError("too big for this stand-in")
        return super().emit_triton(task, knobs, problem_src)


def test_composite_of_fragments_keeps_weights_and_verifies_end_to_end(tmp_path):
    backend = _NoBigFragments(gpu=False, tmpdir=tmp_path)
    result = optimize(PROGRAM, _cfg(tmp_path, max_fragment_nodes=2, policy="strict"), backend=backend)
    assert result.kind == "composite", result.notes
    assert result.verdict["status"] == "correct"
    # Non-speed rule: every node in a kernel, fewest kernels -> three steps for five nodes.
    assert all(step["kind"] == "kernel" for step in result.plan)
    assert sorted(n for step in result.plan for n in step["nodes"]) == [0, 1, 2, 3, 4]
    assert len(result.plan) == 3
    assert "class ModelNew" in result.source and "self.s0.fc.weight = self.p.fc.weight" in result.source


def test_gpu_search_picks_the_faster_composite_by_measured_time(tmp_path):
    backend = FakeBackend(gpu=True, timer=_timer, tmpdir=tmp_path)
    result = optimize(PROGRAM, _cfg(tmp_path, max_fragment_nodes=3, max_candidates=200, patience=None),
                      backend=backend, proposers=None)
    assert result.speed_measured
    single = result.single_shot_speedup
    assert single == pytest.approx(5.0 / (1.0 + 0.3 + 0.2 * 16))
    assert result.kind == "composite"
    assert result.speedup_vs_eager > single
    assert result.speedup_vs_single_shot == pytest.approx(result.speedup_vs_eager / single)
    estimates = [h["best_estimate"] for h in result.history if h["best_estimate"] is not None]
    assert estimates == sorted(estimates)
    assert result.gpu_seconds is not None


def test_cache_makes_a_repeated_search_verify_nothing_new(tmp_path):
    cfg = _cfg(tmp_path, max_fragments=6, cache_dir=tmp_path / "cache")
    first = FakeBackend(gpu=False, tmpdir=tmp_path)
    optimize(PROGRAM, cfg, backend=first)
    assert first.verified > 0
    second = FakeBackend(gpu=False, tmpdir=tmp_path)
    result = optimize(PROGRAM, cfg, backend=second)
    assert second.verified == 0
    assert result.cache_hits >= first.verified and result.source is not None


def test_cpu_search_stops_once_the_whole_program_verifies(tmp_path):
    backend = FakeBackend(gpu=False, tmpdir=tmp_path)
    result = optimize(PROGRAM, _cfg(tmp_path), backend=backend)
    assert backend.verified == 1 and "early stop" in result.stop_reason


def test_candidate_budget_bounds_verification(tmp_path):
    backend = _NoBigFragments(gpu=False, tmpdir=tmp_path)
    result = optimize(PROGRAM, _cfg(tmp_path, max_candidates=3), backend=backend)
    assert backend.verified <= 3 + 1  # three fragment candidates, plus at most the composite
    assert "candidate budget" in result.stop_reason


class _InterruptAfter(Proposer):
    name = "rule"

    def __init__(self, emit, after):
        self.inner, self.after, self.calls = RuleProposer(emit, tune=False), after, 0

    def propose(self, task, n, feedback=()):
        self.calls += 1
        if self.calls > self.after:
            raise KeyboardInterrupt
        return self.inner.propose(task, n, feedback)


def test_ctrl_c_keeps_the_best_verified_result(tmp_path):
    backend = _NoBigFragments(gpu=False, tmpdir=tmp_path)
    result = optimize(PROGRAM, _cfg(tmp_path, max_fragment_nodes=2), backend=backend,
                      proposers=[_InterruptAfter(lambda t, k: backend.emit_triton(t, k, PROGRAM), after=3)])
    assert result.interrupted and "interrupted" in result.stop_reason
    assert result.source is not None and result.verdict["status"] == "correct"
    # Hybrid: the two verified single-node kernels, the rest left in PyTorch.
    assert [s["kind"] for s in result.plan].count("kernel") == 2
    assert [s["kind"] for s in result.plan].count("torch") == 3


class _Scripted(Proposer):
    """A model stand-in: first a broken file, then (given feedback) a fixed one; records its feedback."""

    name = "openai"

    def __init__(self):
        self.seen = []

    def propose(self, task, n, feedback=()):
        self.seen.append(list(feedback))
        if not feedback:
            return [Candidate("class ModelNew:\n    pass\n", self.name, {"prompt": "first"})]
        graph = dict(task.graph, nodes=[{k: v for k, v in n.items() if k != "params"} for n in task.graph["nodes"]])
        return [Candidate(emit_triton(graph, {}, task.policy, task.params), self.name, {"prompt": "refine"})]


def test_refinement_feeds_the_verifier_reason_back_to_the_model(tmp_path):
    backend = FakeBackend(gpu=False, tmpdir=tmp_path)
    model = _Scripted()
    result = optimize(PROGRAM, _cfg(tmp_path, max_fragments=1, refine_rounds=1), backend=backend,
                      proposers=[model])
    assert model.seen[0] == []
    assert model.seen[1] and model.seen[1][-1].status == "runtime_error"
    assert model.seen[1][-1].reason
    assert result.source is not None and result.kind == "whole"


def test_report_writes_model_new_verdict_markdown_and_plot(tmp_path):
    from drtriton.search.report import write_outputs

    backend = FakeBackend(gpu=True, timer=_timer, tmpdir=tmp_path)
    result = optimize(PROGRAM, _cfg(tmp_path, max_fragment_nodes=2, max_candidates=30), backend=backend)
    paths = write_outputs(result, tmp_path / "out", "chain")
    assert paths["model_new"].read_text() == result.source
    assert json.loads(paths["verdict"].read_text())["status"] == "correct"
    md = paths["report"].read_text()
    assert "speedup vs eager" in md and f"{result.speedup_vs_eager:.3f}x" in md
    assert paths["plot"].read_bytes()[:4] == b"\x89PNG"
    assert json.loads(paths["result"].read_text())["candidates_tried"] == result.candidates_tried

    cpu = optimize(PROGRAM, _cfg(tmp_path), backend=FakeBackend(gpu=False, tmpdir=tmp_path))
    md = write_outputs(cpu, tmp_path / "cpu", "chain")["report"].read_text()
    assert "Speed needs a GPU" in md and "not measured" in md


def test_cli_usage_errors_exit_2_without_traceback(tmp_path, capsys):
    from drtriton.cli import main

    assert main(["optimize", str(tmp_path / "missing.py")]) == 2
    problem = tmp_path / "p.py"
    problem.write_text(PROGRAM)
    assert main(["optimize", str(problem), "--max-candidates", "0"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "--max-candidates must be a positive integer, got 0" in err


class _KnobsInFile(FakeBackend):
    """An emitter whose file records its knobs, so every knob setting is a distinct candidate."""

    def emit_triton(self, task, knobs, problem_src):
        return super().emit_triton(task, knobs, problem_src) + f"# knobs {sorted(knobs.items())}\n"


def test_small_gpu_budget_goes_to_whole_program_knobs_once_the_single_shot_verifies(tmp_path):
    backend = _KnobsInFile(gpu=True, timer=_timer, tmpdir=tmp_path)
    result = optimize(PROGRAM, _cfg(tmp_path, max_candidates=4, candidates_per_fragment=2, patience=None),
                      backend=backend)
    whole = [t for t in result.trials if len(t.nodes) == 5]
    assert len(whole) == len(result.trials) == 4  # no candidate spent on fragments that cannot cover
    assert whole[0].meta == {"knobs": {}} and result.single_shot_speedup is not None
    assert result.speedup_vs_single_shot >= 1.0
