"""`drtriton verify` exit codes (0 correct, 1 rejected, 2 usage) and --json output."""

from __future__ import annotations

import json
from pathlib import Path

import candidates as C

from drtriton.cli import main

PROBLEM = Path(__file__).resolve().parents[1] / "problems" / "relu.py"


def _write(tmp_path: Path, src: str) -> str:
    path = tmp_path / "solution.py"
    path.write_text(src)
    return str(path)


def test_cli_exits_0_and_prints_json_for_honest_kernel(tmp_path, capsys):
    code = main(
        ["verify", str(PROBLEM), _write(tmp_path, C.HONEST), "--json", "--device", "cpu", "--seeds", "2"]
    )
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["status"] == "correct" and out["timing"] is None and out["policy"] == "mixed"


def test_cli_exits_1_for_rejected_candidate(tmp_path, capsys):
    code = main(
        [
            "verify",
            str(PROBLEM),
            _write(tmp_path, C.STATIC["fallback.calls_reference"]),
            "--json",
            "--device",
            "cpu",
        ]
    )
    out = json.loads(capsys.readouterr().out)
    assert code == 1 and out["status"] == "cheat_detected" and out["rule"] == "fallback.calls_reference"


def test_cli_table_output_names_status(tmp_path, capsys):
    code = main(["verify", str(PROBLEM), _write(tmp_path, C.NOT_PYTHON), "--device", "cpu"])
    assert code == 1 and "format_error" in capsys.readouterr().out


def test_cli_exits_2_without_traceback_on_usage_errors(tmp_path, capsys):
    assert main(["verify", str(tmp_path / "missing.py"), str(PROBLEM)]) == 2
    assert main(["verify", str(PROBLEM), _write(tmp_path, C.HONEST), "--tolerance", "loose"]) == 2
    assert main(["verify", str(PROBLEM), _write(tmp_path, C.HONEST), "--seeds", "0"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("drtriton verify: error:") == 3


def test_cli_lists_rules_as_json(capsys):
    assert main(["verify", "--rules", "--json"]) == 0
    rules = json.loads(capsys.readouterr().out)
    assert {"launch.no_triton_kernel", "memo.stale_result"} <= {r["id"] for r in rules}
