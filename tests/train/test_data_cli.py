"""Held-out sets are fixed and disjoint from training by hash; the CLI runs, and rejects bad input (exit 2)."""

import json
from pathlib import Path

import pytest
import yaml

from drtriton.cli import main
from drtriton.train.config import load_config
from drtriton.train.data import FolderSource, TaskStream, hashes_of, heldout_tasks
from drtriton.train.workspace import Workspace

PROBLEMS = Path(__file__).resolve().parents[1] / "problems"


def test_heldout_set_is_fixed_and_training_stream_never_draws_it():
    source = FolderSource(PROBLEMS)
    held = heldout_tasks(source, level=1, n=6)
    assert len(held) == 6 and hashes_of(held) == hashes_of(heldout_tasks(source, level=1, n=6))
    stream = TaskStream(source, seed=3, exclude=hashes_of(held))
    drawn = [stream.next(1)["hash"] for _ in range(60)]  # more draws than tasks: repeats, never held-out
    assert not set(drawn) & hashes_of(held)
    assert len(set(drawn)) == len(source.tasks) - 6


def test_workspace_excludes_heldout_of_every_curriculum_level(tmp_path):
    cfg = load_config(None, {"data.source": "folder", "data.folder": str(PROBLEMS), "data.levels": [1],
                             "curriculum.levels": [1, 2], "data.heldout_n": 3, "run_dir": str(tmp_path)})
    ws = Workspace(cfg)
    assert ws.excluded == hashes_of(ws.heldout(1)) | hashes_of(ws.heldout(2))
    assert all(ws.stream.next(2)["hash"] not in ws.excluded for _ in range(20))


def test_cli_train_sft_runs_from_a_yaml_config_and_prints_json(sft_run, tmp_path, capsys):
    cfg = sft_run()
    config = {"run_dir": str(tmp_path / "cli_run"), "device": "cpu",
              "model": {"builtin": "test", "tokenizer_dir": str(tmp_path / "tok"), "vocab_size": 400},
              "data": {"source": "folder", "folder": str(cfg.data.folder), "levels": [1], "heldout_n": 1,
                       "sft_pairs": str(cfg.data.sft_pairs)},
              "sft": {"backend": "native", "max_steps": 1, "batch_size": 2, "max_len": 256},
              "curriculum": {"levels": [1]}}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(config))
    assert main(["train", "sft", "--config", str(path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["steps"] == 1 and Path(out["final_dir"], "config.json").is_file()
    assert (tmp_path / "cli_run" / "curves.png").is_file()


def test_cli_rejects_bad_config_values_with_exit_2_and_one_line(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"rl": {"algo": "ppo"}}))
    assert main(["train", "rl", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "rl.algo must be drpo or grpo, got 'ppo'" in err and "Traceback" not in err
    path.write_text(yaml.safe_dump({"rl": {"rollout": 8}}))
    assert main(["train", "rl", "--config", str(path)]) == 2
    assert "unknown key(s) ['rollout'] in rl" in capsys.readouterr().err
    assert main(["eval-model", "--model", str(tmp_path), "--level", "1"]) == 2
    assert "has no config.json" in capsys.readouterr().err


@pytest.mark.slow
def test_sft_pairs_from_synthesizer_codegen_and_verifier_are_verified_and_not_heldout(tmp_path):
    cfg = load_config(None, {"data.source": "synth", "data.scale": "small", "data.levels": [1],
                             "curriculum.levels": [1], "data.heldout_n": 2, "data.sft_n_per_level": 2,
                             "run_dir": str(tmp_path), "verify.device": "cpu", "verify.seeds": [0, 1]})
    ws = Workspace(cfg)
    try:
        pairs, counts = ws.build_sft_pairs()
    finally:
        ws.close()
    assert counts[1]["drawn"] == 2 and counts[1]["verified"] == len(pairs)
    assert pairs, f"no pair survived: {counts}"
    assert all(p["verified"] and p["hash"] not in ws.excluded and "class ModelNew" in p["completion"] for p in pairs)
