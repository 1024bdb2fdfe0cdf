"""SFT on a 2-layer hidden-64 model: parameters change, the final folder reloads, runs resume."""

import pytest

from drtriton.train.checkpoint import latest_checkpoint, load_state
from drtriton.train.models import ModelSpec, load_model
from drtriton.train.sft import run_sft, trl_available


def _weights(folder):
    model, _ = load_model(ModelSpec(path=folder))
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_native_sft_changes_parameters_and_saves_a_loadable_model(sft_run):
    cfg = sft_run(**{"sft.backend": "native", "sft.max_steps": 2})
    r1 = run_sft(cfg)
    assert r1.steps == 2 and r1.final_loss is not None and (cfg.run_dir / "final" / "config.json").is_file()
    before = _weights(cfg.run_dir / "final")
    cfg2 = sft_run(**{"sft.backend": "native", "sft.max_steps": 4})  # resumes from step 2
    r2 = run_sft(cfg2)
    assert r2.steps == 4 and load_state(latest_checkpoint(cfg.run_dir), restore_rng=False)["step"] == 4
    after = _weights(cfg.run_dir / "final")
    assert any(not (before[k] == after[k]).all() for k in before)
    assert (cfg.run_dir / "metrics.csv").read_text().count("sft/loss") >= 2
    assert list((cfg.run_dir / "tb").glob("events.out.tfevents.*"))
    assert (cfg.run_dir / "tokenizer.json").exists() is False and (cfg.run_dir / "final" / "tokenizer.json").exists()


@pytest.mark.slow
@pytest.mark.skipif(not trl_available(), reason="trl not installed")
def test_trl_sft_trains_the_same_model(sft_run):
    cfg = sft_run(**{"sft.backend": "trl", "sft.max_steps": 2})
    r = run_sft(cfg)
    assert r.backend == "trl" and r.steps == 2 and (cfg.run_dir / "final" / "config.json").is_file()
