"""bench/kernelbench_gpu.py: the subset rule (pure) on CPU, and the whole script on a GPU."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from drtriton.bench.problems import Problem

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "bench" / "kernelbench_gpu.py"


def load_script():
    spec = importlib.util.spec_from_file_location("kernelbench_gpu", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fake_problems(n):
    return [Problem(level=1, problem_id=i, name=f"P{i}", path=Path(f"{i}_P{i}.py"), sha256="0" * 64)
            for i in range(1, n + 1)]


def test_stratified_subset_takes_one_problem_per_id_bin_reproducibly():
    script = load_script()
    problems = fake_problems(100)
    chosen = script.stratified_subset(problems, 10, seed=0)
    ids = [p.problem_id for p in chosen]
    assert len(ids) == 10 and all(10 * b < pid <= 10 * (b + 1) for b, pid in enumerate(ids))
    assert script.stratified_subset(problems, 10, seed=0) == chosen
    assert any(script.stratified_subset(problems, 10, seed=s) != chosen for s in range(1, 5))
    assert script.stratified_subset(problems, 0, seed=0) == problems
    assert script.stratified_subset(problems[:3], 8, seed=0) == problems[:3]


@pytest.mark.gpu
def test_gpu_script_measures_speedups_on_the_fake_layout(tmp_path):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")
    env = {**os.environ, "TRITON_INTERPRET": "0"}
    subprocess.run([sys.executable, str(SCRIPT), "--path", str(REPO / "tests/bench/fake_kernelbench"),
                    "--proposers", "rule", "--levels", "2", "--per-level", "0", "--out", str(tmp_path)],
                   check=True, env=env, timeout=1200)
    record = json.loads((tmp_path / "kernelbench_gpu.json").read_text())
    run = record["runs"][0]
    assert record["fake_layout"] is True and run["provenance"]["device"] != "cpu"
    correct = [r for r in run["rows"] if r["status"] == "correct"]
    assert correct and all(r["speedup_vs_eager"] is not None for r in correct)
    assert run["summary"]["headline"]["vs"]["eager"]["fast"]["fast_1"] is not None


@pytest.mark.slow
def test_gpu_script_on_cpu_states_the_subset_first_and_writes_combined_reports(tmp_path):
    env = {**os.environ, "TRITON_INTERPRET": "1", "PYTHONPATH": str(REPO / "src")}
    cmd = [sys.executable, str(SCRIPT), "--path", str(REPO / "tests/bench/fake_kernelbench"), "--levels", "2",
           "--per-level", "1", "--out", str(tmp_path)]
    done = subprocess.run(cmd, check=True, env=env, timeout=1200, capture_output=True, text=True)
    assert "subset chosen before running" in done.stdout.splitlines()[1]
    subset = json.loads((tmp_path / "subset.json").read_text())
    record = json.loads((tmp_path / "kernelbench_gpu.json").read_text())
    assert subset["subset"] == record["subset"] and len(record["subset"]["2"]) == 1
    assert [r["proposer"] for r in record["runs"]] == ["rule", "search"]
    page = (tmp_path / "kernelbench_gpu.md").read_text()
    assert "## level 2, rule" in page and "## level 2, search" in page and "fast_1.5" in page
    assert (tmp_path / "kernelbench_gpu.csv").read_text().count("\n") == 3  # header + one row per proposer
