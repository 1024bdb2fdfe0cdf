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
            "--out", str(tmp_path), "--json"]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    head = out["summary"]["headline"]
    assert head["counts"]["correct"] == 1 and head["counts"]["incorrect"] == 1
    assert head["counts"]["no_candidate"] == 3
    assert head["vs"]["eager"]["fast"]["fast_0"] == pytest.approx(0.2)
    if out["provenance"]["device"] == "cpu":
        assert head["vs"]["eager"]["fast"]["fast_1"] is None  # not measured without a GPU
    assert out["verify_config"]["policy"] == "mixed"
    assert Path(out["reports"]["csv"]).exists() and Path(out["reports"]["html"]).exists()
    # resumed: everything from the cache, no verifier call, same numbers
    assert main(argv) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["n_cached"] == 5 and again["summary"] == out["summary"]


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
