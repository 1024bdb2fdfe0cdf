"""`drtriton bench` end to end: the real verifier on our fake checkout, resume, split, usage errors."""

import json
from pathlib import Path

import pytest

from drtriton.cli import main

HERE = Path(__file__).parent
FAKE = HERE / "fake_kernelbench"
SOLUTIONS = HERE / "fake_solutions"


def test_kernelbench_with_saved_solutions_and_the_real_verifier(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    argv = ["bench", "kernelbench", "--path", str(FAKE), "--level", "1", "--proposer", f"solutions:{SOLUTIONS}",
            "--problems", "1,2,5", "--no-degenerate-check", "--out", str(tmp_path), "--json"]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    head = out["summary"]["headline"]
    assert head["counts"]["correct"] == 1 and head["counts"]["incorrect"] == 1
    assert head["counts"]["no_candidate"] == 1
    assert head["vs"]["eager"]["fast"]["fast_0"] == pytest.approx(1 / 3)
    if out["provenance"]["device"] == "cpu":
        assert head["vs"]["eager"]["fast"]["fast_1"] is None  # not measured without a GPU
    assert out["verify_config"]["policy"] == "mixed"
    assert Path(out["reports"]["csv"]).exists() and Path(out["reports"]["html"]).exists()
    # resumed: everything from the cache, no verifier call, same numbers
    assert main(argv) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["n_cached"] == 3 and again["summary"] == out["summary"]


def test_split_subcommand_records_a_split_file(tmp_path, capsys):
    assert main(["bench", "split", "--path", str(FAKE), "--fraction", "0.5", "--out", str(tmp_path / "s.json")]) == 0
    assert "level 1: 3 held out, 2 for tuning" in capsys.readouterr().out
    data = json.loads((tmp_path / "s.json").read_text())
    assert data["fraction"] == 0.5 and data["provenance"]["torch"]


@pytest.mark.parametrize("extra,message", [
    (["--level", "9"], "--level 9 has no folder"),
    (["--level", "1", "--problems", "x"], "--problems part 'x'"),
    (["--level", "1", "--proposer", "magic"], "--proposer 'magic'"),
    (["--level", "1", "--budget", "lots"], "--budget part 'lots'"),
    (["--level", "1", "--tolerance", "tight"], "--tolerance must be"),
    (["--level", "1", "--proposer", "solutions:/no/such/dir"], "does not exist"),
])
def test_usage_errors_exit_2_with_one_line_and_no_traceback(tmp_path, capsys, extra, message):
    code = main(["bench", "kernelbench", "--path", str(FAKE), "--out", str(tmp_path), *extra])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and "Traceback" not in err
    assert err.strip().count("\n") == 0


def test_missing_checkout_is_a_usage_error(tmp_path, capsys):
    assert main(["bench", "kernelbench", "--path", str(tmp_path / "none"), "--level", "1"]) == 2
    assert "is not a folder" in capsys.readouterr().err


def test_compare_puts_runs_side_by_side_and_refuses_non_runs(tmp_path, capsys):
    for proposer, status in (("rule", "correct"), ("search", "incorrect")):
        run_dir = tmp_path / "level1" / proposer
        run_dir.mkdir(parents=True)
        n_correct = int(status == "correct")
        fast = {"fast_0": n_correct / 2, "fast_1": None, "fast_1.5": None, "fast_2": None}
        vs = {b: {"n": 2, "n_correct": n_correct, "fast": fast, "geomean_correct": None, "geomean_all": None}
              for b in ("eager", "compile")}
        (run_dir / "summary.json").write_text(json.dumps({
            "level": 1, "proposer": proposer, "verify_config": {"policy": "mixed"}, "provenance": {"device": "cpu"},
            "summary": {"headline": {"vs": vs}, "degenerate": {"n": 0}}}))
    assert main(["bench", "compare", str(tmp_path), "--json", "--out", str(tmp_path / "cmp.md")]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert [(r[1], r[3], r[5]) for r in rows] == [("rule", "eager", "50.0%"), ("rule", "torch.compile", "50.0%"),
                                                  ("search", "eager", "0.0%"), ("search", "torch.compile", "0.0%")]
    assert "| 1 | rule | mixed | eager | 2 | 50.0% | not measured |" in (tmp_path / "cmp.md").read_text()
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "summary.json").write_text("{}")
    assert main(["bench", "compare", str(tmp_path / "junk")]) == 2
    assert "is not a benchmark summary" in capsys.readouterr().err


@pytest.mark.slow  # about 20 s idle (the interpreter runs 10 checks); the compile step itself is in test_proposers
def test_kernelbench_with_the_rule_proposer_verifies_its_kernel(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    argv = ["bench", "kernelbench", "--path", str(FAKE), "--level", "1", "--problems", "2", "--proposer", "rule",
            "--no-degenerate-check", "--out", str(tmp_path), "--json"]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["summary"]["headline"]["counts"]["correct"] == 1
    assert (tmp_path / "level1" / "rule" / "candidates" / "2_ReLU.py").read_text().count("@triton.jit") >= 1
