"""Data-parallel RL (drtriton.train.multigpu) on CPU with the gloo backend: the gradient-averaging optimizer
keeps replicas identical when ranks take different numbers of steps, and a 2-rank RL step of the 2-layer
test model runs end to end (rollouts, verifier, sharded held-out eval, checkpoint, export).

    PYTHONPATH=src TRITON_INTERPRET=1 python -m pytest tests/train/test_multigpu_rl.py -q
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from drtriton.train.checkpoint import latest_checkpoint
from drtriton.train.models import load_model
from drtriton.train.multigpu import MultiGPUConfig, load_multigpu_config, main, run_rl_multigpu
from drtriton.util.errors import UsageError

ROOT = Path(__file__).resolve().parents[2]


def _sync_worker(rank: int, world: int, port: int, out_dir: str, steps_by_rank: tuple[int, ...]) -> None:
    import torch.distributed as dist

    from drtriton.train.multigpu import SyncedOptimizer

    os.environ.update({"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)})
    dist.init_process_group("gloo", rank=rank, world_size=world)
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    opt = SyncedOptimizer(torch.optim.SGD(model.parameters(), lr=0.1), model.parameters())
    x = torch.full((1, 3), rank + 1.0)  # rank r's weight gradient is all (r + 1)
    for _ in range(steps_by_rank[rank]):
        opt.zero_grad()
        model(x).sum().backward()
        opt.step()
    joined = opt.finish()
    torch.save({"weight": model.weight.detach(), "bias": model.bias.detach(), "joined": joined,
                "rounds": opt.rounds}, Path(out_dir) / f"rank{rank}.pt")
    # Tear down together: a rank destroying its gloo group while the other still runs a collective aborted
    # the process ("terminate called without an active exception") once in CI on the loaded 2-core machine.
    dist.barrier()
    dist.destroy_process_group()


def test_synced_optimizer_averages_over_stepping_ranks_and_joins_a_rank_without_signal(tmp_path):
    from drtriton.train.multigpu import _free_port

    # rank 0 steps twice, rank 1 once (its second round has no signal): round 1 averages gradients 1 and 2,
    # round 2 applies rank 0's alone, on both ranks.
    torch.multiprocessing.start_processes(_sync_worker, args=(2, _free_port(), str(tmp_path), (2, 1)), nprocs=2,
                                          join=True, start_method="spawn")
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt") for r in range(2))
    torch.manual_seed(0)
    init = torch.nn.Linear(3, 2)
    expected_w = init.weight.detach() - 0.1 * (1.5 + 1.0)
    assert torch.allclose(r0["weight"], expected_w) and torch.equal(r0["weight"], r1["weight"])
    assert torch.allclose(r0["bias"], init.bias.detach() - 0.1 * 2) and torch.equal(r0["bias"], r1["bias"])
    assert (r0["joined"], r1["joined"]) == (0, 1) and r0["rounds"] == r1["rounds"] == 2


@pytest.mark.slow  # two launches of two ranks (each imports transformers): minutes on a loaded 2-core machine
def test_two_rank_rl_step_on_gloo_keeps_replicas_in_sync_exports_and_resumes(sft_run, tiny_problems, tmp_path):
    cfg = sft_run(**{"rl.rollouts": 2, "rl.prompts_per_step": 2, "rl.max_new_tokens": 8, "rl.steps": 1,
                     "rl.save_every": 1, "rl.verify_workers": 1, "curriculum.eval_every": 1, "eval_n": 2,
                     "verify.device": "cpu", "verify.seeds": [0], "verify.distributions": ["normal"]})
    load_model(cfg.model, corpus=[p + s for p, s in tiny_problems])  # trains and saves the tokenizer once
    summary = run_rl_multigpu(cfg, MultiGPUConfig(nproc=2, backend="gloo", verify_workers=1))
    assert summary["world_size"] == 2 and summary["backend"] == "gloo" and summary["steps"] == 1
    assert summary["samples_per_step"] == [4]  # 2 prompts (one per rank) x 2 rollouts
    assert summary["replicas_in_sync"] is True and summary["samples_per_s"] > 0
    exported = json.loads((cfg.run_dir / "final" / "drtriton_train.json").read_text())
    assert exported["multigpu"] == {"world_size": 2, "replicas_in_sync": True}
    assert latest_checkpoint(cfg.run_dir) is not None
    metrics = (cfg.run_dir / "metrics.csv").read_text()
    assert "multigpu/world_size" in metrics and "eval/pass_at_1" in metrics
    # Resume: a second run to 2 steps starts from rank 0's checkpoint (curriculum and stream included).
    again = run_rl_multigpu(replace(cfg, rl=replace(cfg.rl, steps=2)),
                            MultiGPUConfig(nproc=2, backend="gloo", verify_workers=1))
    assert again["steps"] == 2 and len(again["step_s"]) == 1 and again["replicas_in_sync"] is True
    assert [h["step"] for h in again["curriculum"]["history"]] == [1, 2]


def test_multigpu_config_file_loads_and_rejects_unknown_keys(tmp_path):
    (tmp_path / "sft_final").mkdir()
    (tmp_path / "sft_final" / "config.json").write_text("{}")  # model.path only has to look like an HF folder
    cfg, mg = load_multigpu_config(ROOT / "configs" / "train" / "tiny_rl_drpo_multigpu.yaml",
                                   {"multigpu.nproc": 4, "rl.steps": 3, "model.path": str(tmp_path / "sft_final")})
    assert (mg.nproc, mg.backend, cfg.rl.steps, cfg.rl.prompts_per_step) == (4, "auto", 3, 8)
    bad = tmp_path / "bad.yaml"
    bad.write_text("multigpu:\n  gpus: 2\n")
    with pytest.raises(UsageError, match=r"unknown key\(s\) \['gpus'\] in multigpu"):
        load_multigpu_config(bad)


def test_multigpu_entry_point_reports_usage_errors_in_one_line(tmp_path, capsys):
    assert main(["--config", str(tmp_path / "missing.yaml")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("drtriton multigpu: error: config file") and "Traceback" not in err


def test_one_policy_mode_takes_rewards_from_a_host_pool_over_the_verify_devices(sft_run):
    from drtriton.train.multigpu import reward_pool
    from drtriton.verify.multi import HostVerifierPool

    cfg = sft_run(**{"verify.device": "cpu", "verify.seeds": [0]})
    pool = reward_pool(cfg, MultiGPUConfig(mode="one_policy", verify_devices=("cpu", "cpu"), verify_workers=1))
    try:
        assert isinstance(pool, HostVerifierPool) and pool.devices == ["cpu", "cpu"]
        assert pool.workers_per_device == 1 and pool.config.seeds == (0,)
    finally:
        pool.close()
    with pytest.raises(UsageError, match="ray_address needs multigpu.mode: one_policy"):
        MultiGPUConfig(ray_address="auto")


@pytest.mark.slow  # one rl.py step with its verifier replaced by a 2-group HostVerifierPool
def test_one_policy_mode_runs_rl_py_with_the_multi_device_pool(sft_run, tiny_problems):
    cfg = sft_run(**{"rl.rollouts": 2, "rl.prompts_per_step": 1, "rl.max_new_tokens": 8, "rl.steps": 1,
                     "curriculum.eval_every": 1, "eval_n": 1, "verify.device": "cpu"})
    load_model(cfg.model, corpus=[p + s for p, s in tiny_problems])
    summary = run_rl_multigpu(cfg, MultiGPUConfig(mode="one_policy", verify_devices=("cpu", "cpu"),
                                                  verify_workers=1))
    assert summary["mode"] == "one_policy" and summary["steps"] == 1
    assert (cfg.run_dir / "final" / "drtriton_train.json").is_file()


def test_rank_metrics_average_numbers_only_and_gradient_buckets_cover_every_parameter(monkeypatch):
    from drtriton.train import multigpu

    merged = multigpu._mean_dicts([{"a": 1.0, "b": None, "c": True}, {"a": 3.0, "b": 2.0, "d": "x"}])
    assert merged == {"a": 2.0, "b": 2.0, "c": None, "d": None}
    monkeypatch.setattr(multigpu, "_BUCKET", 10)
    assert multigpu._buckets([4, 4, 4, 30, 1]) == [(0, 2), (2, 3), (3, 4), (4, 5)]
    assert multigpu._buckets([3]) == [(0, 1)]
