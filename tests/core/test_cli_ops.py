"""drtriton ops: table, JSON, markdown, usage errors; docs/OPERATORS.md is up to date with the registry.

PYTHONPATH=src python -m pytest tests/core/test_cli_ops.py
"""

import json
from pathlib import Path

from drtriton import _core
from drtriton.cli import main

REPO = Path(__file__).resolve().parents[2]


def test_json_lists_every_operator(capsys):
    assert main(["ops", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["count"] == len(_core.ops()) >= 75
    gelu = next(row for row in payload["ops"] if row["name"] == "gelu")
    assert gelu["attrs"][0]["enum_names"] == ["none", "tanh"]


def test_filters_by_name_and_lowering(capsys):
    assert main(["ops", "conv2d", "--json"]) == 0
    assert [r["name"] for r in json.loads(capsys.readouterr().out)["ops"]] == ["conv2d"]
    assert main(["ops", "--lowering", "scan", "--json"]) == 0
    assert {r["name"] for r in json.loads(capsys.readouterr().out)["ops"]} == {"cumsum", "cumprod"}


def test_table_prints_rows(capsys):
    assert main(["ops", "softmax"]) == 0
    assert "softmax" in capsys.readouterr().out


def test_unknown_operator_is_a_usage_error(capsys):
    assert main(["ops", "frobnicate"]) == 2
    err = capsys.readouterr().err
    assert "unknown operator(s) frobnicate" in err and "Traceback" not in err
    assert main(["ops", "--lowering", "magic"]) == 2


def test_markdown_written_atomically_matches_committed_docs(tmp_path):
    out = tmp_path / "OPERATORS.md"
    assert main(["ops", "--markdown", str(out)]) == 0
    text = out.read_text()
    assert text.count("\n| ") == len(_core.ops()) + 1  # header + one row per operator
    committed = REPO / "docs" / "OPERATORS.md"
    assert committed.read_text() == text, (
        "docs/OPERATORS.md is stale: run drtriton ops --markdown docs/OPERATORS.md"
    )
