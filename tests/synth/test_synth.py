"""Synthesizer, Python side: config validation, CLI errors (exit 2, no traceback, no file), resume and
determinism of datasets, the degenerate-output filter, coverage output, and execution of drawn programs
under torch with the recorded output shapes.

    PYTHONPATH=src TRITON_INTERPRET=1 python -m pytest tests/synth
"""

from __future__ import annotations

import json

import pytest
import torch

from drtriton import _core
from drtriton.cli import main
from drtriton.synth import SynthConfig, degenerate_reason, read_tasks, synthesize, write_dataset
from drtriton.util.errors import UsageError

torch.set_num_threads(1)


def _run_program(program: str) -> torch.Tensor:
    scope: dict = {}
    exec(compile(program, "<task>", "exec"), scope)
    model = scope["Model"](*scope["get_init_inputs"]()).eval()
    with torch.no_grad():
        return model(*scope["get_inputs"]())


# ---- config and CLI errors ----

@pytest.mark.parametrize("kwargs", [{"n": 0}, {"level": 0}, {"level": 33}, {"heavy": (3, 1)},
                                    {"out": "tasks.csv"}, {"shape_scale": "huge"}, {"max_fanout": 0}])
def test_config_rejects_bad_values(kwargs):
    with pytest.raises(UsageError):
        SynthConfig(**kwargs)


def test_unknown_operator_is_a_usage_error():
    with pytest.raises(UsageError, match="unknown operator"):
        SynthConfig(ops=("relu", "no_such_op")).sampler()


def test_infeasible_knobs_are_a_usage_error():
    with pytest.raises(UsageError, match="exceed"):
        SynthConfig(level=2, heavy=(3, 3)).sampler()


@pytest.mark.parametrize("argv", [
    ["synth", "--n", "0", "--out", "{tmp}/a.jsonl"],
    ["synth", "--n", "3", "--ops", "relu,bogus", "--out", "{tmp}/a.jsonl"],
    ["synth", "--n", "3", "--level", "2", "--heavy", "5:5", "--out", "{tmp}/a.jsonl"],
    ["synth", "--n", "3", "--out", "/proc/no/such/dir/a.jsonl"],
    ["synth", "--n", "3"],
])
def test_cli_usage_errors_exit_2_with_one_line_and_no_file(argv, tmp_path, capsys):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("drtriton synth: error:") and "Traceback" not in err[0]
    assert list(tmp_path.iterdir()) == []


def test_corrupt_resume_file_is_a_usage_error_and_is_left_alone(tmp_path, capsys):
    out = tmp_path / "tasks.parquet"
    out.write_bytes(b"not a parquet file")
    assert main(["synth", "--n", "3", "--level", "1", "--out", str(out)]) == 2
    assert "cannot read" in capsys.readouterr().err
    assert out.read_bytes() == b"not a parquet file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tasks.parquet"]


def test_resume_file_from_other_settings_is_refused(tmp_path):
    out = tmp_path / "tasks.jsonl"
    write_dataset(SynthConfig(n=3, level=1, seed=1, out=out))
    with pytest.raises(UsageError, match="other settings"):
        write_dataset(SynthConfig(n=5, level=1, seed=2, out=out))


# ---- datasets: determinism and resume ----

def test_same_seed_gives_the_same_bytes(tmp_path):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    write_dataset(SynthConfig(n=15, level=2, seed=9, out=a))
    write_dataset(SynthConfig(n=15, level=2, seed=9, out=b))
    assert a.read_bytes() == b.read_bytes()
    c = tmp_path / "c.jsonl"
    write_dataset(SynthConfig(n=15, level=2, seed=10, out=c))
    assert c.read_bytes() != a.read_bytes()


def test_resumed_parquet_equals_one_run_and_has_the_columns(tmp_path):
    one, two = tmp_path / "one.parquet", tmp_path / "two.parquet"
    write_dataset(SynthConfig(n=20, level=2, seed=4, out=one))
    write_dataset(SynthConfig(n=8, level=2, seed=4, out=two, chunk=3))
    result = write_dataset(SynthConfig(n=20, level=2, seed=4, out=two, chunk=3))
    assert result.resumed_from == 8 and result.rows == 20
    rows_one, rows_two = read_tasks(one), read_tasks(two)
    assert [r["program"] for r in rows_one] == [r["program"] for r in rows_two]
    for column in ("hash", "program", "level", "ops", "shapes", "flops", "bytes", "seed", "generator_version"):
        assert column in rows_one[0]
    assert {r["level"] for r in rows_one} == {2}
    assert rows_one[0]["generator_version"] == _core.GENERATOR_VERSION


def test_parquet_loads_with_datasets(tmp_path):
    datasets = pytest.importorskip("datasets")
    out = tmp_path / "t.parquet"
    write_dataset(SynthConfig(n=5, level=1, seed=0, out=out))
    ds = datasets.load_dataset("parquet", data_files=str(out), split="train")
    assert len(ds) == 5 and "program" in ds.column_names


# ---- degenerate filter ----

_TEMPLATE = '''
import torch
import torch.nn as nn
class Model(nn.Module):
    def forward(self, x, y):
        return {expr}
def get_inputs():
    return [torch.randn(4, 8), torch.randn(4, 8)]
def get_init_inputs():
    return []
'''


@pytest.mark.parametrize("expr,reason", [("x - x", "constant"), ("torch.log(x)", "nan_or_inf"),
                                         ("x + 0 * y", "insensitive to input 1"), ("x * y + 1", None)])
def test_degenerate_filter_names_the_problem(expr, reason):
    assert degenerate_reason(_TEMPLATE.format(expr=expr), seed=0, device="cpu") == reason


def test_accepted_rows_pass_the_degenerate_filter():
    for task in synthesize(SynthConfig(n=20, level=2, seed=5)):
        assert degenerate_reason(task["program"], task["seed"], device="cpu") is None


# ---- coverage ----

def test_coverage_json_reports_only_legal_pairs_drawn(capsys):
    assert main(["synth", "--coverage", "--n", "3000", "--level", "2", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["programs"] == 3000
    assert 0 < report["covered_pairs"] <= report["legal_pairs"]
    assert report["covered_ops"] <= report["legal_ops"]
    assert all(legal for _, (count, legal) in report["ops"].items() if count)


# ---- execution under torch ----

def _check_execution(level: int, count: int) -> None:
    for task in synthesize(SynthConfig(n=count, level=level, seed=11, check_degenerate=False)):
        out = _run_program(task["program"])
        assert list(out.shape) == list(task["output_shape"]), task["program"]
        assert len(task["ops"]) == level


@pytest.mark.parametrize("level,count", [(1, 300), (2, 300), (5, 100)])
def test_drawn_programs_run_under_torch_with_recorded_shapes(level, count):
    _check_execution(level, count)


@pytest.mark.slow
@pytest.mark.parametrize("level", [1, 2, 5])
def test_thousand_programs_per_level_run_under_torch(level):
    _check_execution(level, 1000)


# ---- coverage-seeded streams ----

def test_seeded_stream_differs_from_strict_uniform_only_in_its_first_rows():
    strata = len(SynthConfig(level=1).sampler().strata())
    n = strata + 3
    seeded = [t["program"] for t in synthesize(SynthConfig(n=n, level=1, seed=2, check_degenerate=False))]
    strict = [t["program"] for t in synthesize(SynthConfig(n=n, level=1, seed=2, check_degenerate=False,
                                                           strict_uniform=True))]
    assert seeded[strata:] == strict[strata:]
    assert seeded[:strata] != strict[:strata]


def test_default_stream_covers_every_legal_operator_of_level_one(capsys):
    strata = len(SynthConfig(level=1).sampler().strata())
    assert main(["synth", "--coverage", "--n", str(strata), "--level", "1", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["stream"] == "coverage-seeded"
    assert report["legal_ops"] > 60 and report["covered_ops"] == report["legal_ops"]
    assert main(["synth", "--coverage", "--n", "20", "--level", "1", "--json", "--strict-uniform"]) == 0
    assert json.loads(capsys.readouterr().out)["stream"] == "strict-uniform"


def test_resume_refuses_a_file_written_in_the_other_stream_mode(tmp_path):
    out = tmp_path / "tasks.jsonl"
    write_dataset(SynthConfig(n=2, level=1, seed=1, out=out))
    with pytest.raises(UsageError, match="other settings"):
        write_dataset(SynthConfig(n=4, level=1, seed=1, out=out, strict_uniform=True))


def test_stratum_rows_hold_their_stratum_pair():
    config = SynthConfig(n=30, level=2, seed=7, check_degenerate=False)
    sampler = config.sampler()
    strata = sampler.strata()
    for task in synthesize(config):
        producer, consumer = strata[sampler.row_stratum(config.seed, task["index"])]
        graph = json.loads(task["graph_json"])
        sink = graph["nodes"][-1]
        assert sink["op"] == consumer
        k = len(graph["inputs"])
        assert producer in [graph["nodes"][v - k]["op"] for v in sink["inputs"] if v >= k]


# ---- levels above 7: the Markov-chain draws ----

def test_level_20_cli_writes_twenty_operator_programs_that_run_and_pass_the_degenerate_check(tmp_path):
    out = tmp_path / "l20.jsonl"
    assert main(["synth", "--n", "4", "--level", "20", "--seed", "1", "--out", str(out)]) == 0
    rows = read_tasks(out)
    assert len(rows) == 4 and len({row["hash"] for row in rows}) == 4
    for row in rows:
        assert len(row["ops"]) == 20 and row["level"] == 20
        assert degenerate_reason(row["program"], row["seed"], device="cpu") is None
        assert list(_run_program(row["program"]).shape) == list(row["output_shape"])


def test_level_20_rows_are_reproducible_from_the_seed():
    config = SynthConfig(n=3, level=20, seed=9, check_degenerate=False)
    rows = list(synthesize(config))
    # A fresh sampler (its start pool filled in another order) gives the same rows.
    fresh = _core.Synthesizer(20)
    fresh.draw_task(_core.stream_seed(9, 7), -1)
    again = [fresh.draw_task(_core.stream_seed(9, i), -1) for i in (2, 1, 0)][::-1]
    assert [r["hash"] for r in rows] == [r["hash"] for r in again]
    assert [r["program"] for r in rows] == [r["program"] for r in again]


def test_chain_levels_report_their_steps_and_have_no_strata():
    assert _core.synth_level_config(7)["mcmc_steps"] == 0  # exact rejection up to level 7
    assert _core.synth_level_config(8)["mcmc_steps"] > 0
    assert _core.Synthesizer(8).strata() == []


def test_coverage_of_a_chain_level_names_its_stream(capsys):
    assert main(["synth", "--coverage", "--n", "2", "--level", "8", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["stream"] == "markov-chain" and report["programs"] == 2


def test_engine_infeasible_error_is_one_line_and_exit_2(monkeypatch, tmp_path, capsys):
    import drtriton.synth as synth_pkg

    def fail(*args, **kwargs):
        raise _core.InfeasibleError("no valid start for the level-20 chain in 10 proposals; lower the level")

    monkeypatch.setattr(synth_pkg, "write_dataset", fail)
    assert main(["synth", "--n", "3", "--level", "20", "--out", str(tmp_path / "a.jsonl")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["drtriton synth: error: no valid start for the level-20 chain in 10 proposals; lower the level"]


def test_a_draw_that_finds_no_program_is_a_usage_error(monkeypatch):
    config = SynthConfig(n=1, level=20, seed=0, check_degenerate=False)

    class Failing:
        def row_stratum(self, *args):
            return -1

        def draw_task(self, *args):
            raise _core.InfeasibleError("no valid start for the level-20 chain in 1000000 proposals")

    monkeypatch.setattr(SynthConfig, "sampler", lambda self: Failing())
    with pytest.raises(UsageError, match="row 0: no valid start"):
        list(synthesize(config))
