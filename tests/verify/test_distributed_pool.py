"""Multi-device verifier pools on CPU (TRITON_INTERPRET=1): HostVerifierPool over two CPU worker groups and
RayVerifierPool over a local Ray cluster of two CPU actors give the single VerifierPool's verdicts, in input
order; a killed actor turns its in-flight candidates into RUNTIME_ERROR verdicts and is replaced.

    PYTHONPATH=src TRITON_INTERPRET=1 python -m pytest tests/verify/test_distributed_pool.py -q
Candidates are red-team files (tests/redteam/honest|cheats) whose headers name the expected status.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from drtriton.verify import Status, VerifierPool, VerifyConfig
from drtriton.verify.multi import HostVerifierPool, pick_slot, ray_available

os.environ.setdefault("TRITON_INTERPRET", "1")
ROOT = Path(__file__).resolve().parents[1]
# One seed, one distribution: the pools are under test here, not the protocol (tests/verify/test_verify.py).
CONFIG = VerifyConfig(device="cpu", seeds=(0,), distributions=("normal",), timeout_s=120)
# Pools below run with prespawn=False: on a 2-core machine warm spare workers only add contention.
CORPUS = [  # expected statuses in the headers; two reach a worker (one problem: one reference run), three are static
    "honest/relu__elementwise.py",
    "cheats/launch_no_triton_kernel.py",
    "cheats/output_aliases_input.py",
    "cheats/memo_id_cache.py",
    "cheats/fallback_calls_reference.py",
]


def _header(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        if not line.startswith("#"):
            break
        key, _, value = line[1:].partition(":")
        out[key.strip()] = value.strip()
    return out


def _pair(name: str) -> tuple[str, str]:
    path = ROOT / "redteam" / name
    problem = _header(path).get("problem") or path.stem.split("__")[0]
    return (ROOT / "problems" / f"{problem}.py").read_text(), path.read_text()


def _expected(name: str) -> str:
    return _header(ROOT / "redteam" / name).get("expected", "correct")


def _summary(v) -> tuple:
    return (str(v.status), v.rule, v.max_abs_err, v.triton_launches, v.torch_ops, v.policy, v.config_hash)


@pytest.fixture(scope="module")
def pairs() -> list[tuple[str, str]]:
    return [_pair(n) for n in CORPUS]


@pytest.fixture(scope="module")
def single_verdicts(pairs):
    with VerifierPool(CONFIG, workers=2, prespawn=False) as pool:
        verdicts = pool.verify_many(pairs)
    assert [str(v.status) for v in verdicts] == [_expected(n) for n in CORPUS], [v.reason for v in verdicts]
    return verdicts


# ---- scheduling ----
def test_pick_slot_prefers_least_loaded_then_the_device_holding_the_reference():
    assert pick_slot([2, 0], [4, 4], [True, False], 0) == 1  # 2 busy vs 0 busy + a reference run
    assert pick_slot([1, 0], [4, 4], [True, False], 0) == 0  # tie (1 vs 0 + 1): the cached reference wins
    assert pick_slot([0, 0, 0], [1, 1, 1], [False] * 3, 2) == 2  # equal slots: round robin from `start`
    assert pick_slot([1, 1], [1, 1], [True, True], 0) is None  # all full: wait


# ---- one host ----
def test_host_pool_matches_single_pool_in_order_and_uses_every_device(pairs, single_verdicts, tmp_path):
    with HostVerifierPool(CONFIG, devices=["cpu", "cpu"], workers_per_device=1,
                          cache_path=tmp_path / "v.sqlite", prespawn=False) as pool:
        seen = []
        some = [0, 1, 3, 4]  # one candidate that reaches a worker (the Ray test below runs both)
        verdicts = pool.verify_many([pairs[i] for i in some], progress=lambda d, t: seen.append((d, t)))
        stats = pool.stats()
        again = pool.verify(*pairs[0])
    assert [_summary(v) for v in verdicts] == [_summary(single_verdicts[i]) for i in some]
    assert seen[-1] == (len(some), len(some)) and len(seen) == len(some)
    assert all(s["done"] > 0 for s in stats) and sum(s["done"] for s in stats) == len(some)
    assert again.cached and again.status is Status.CORRECT


def test_host_pool_rejects_an_empty_device_list_and_a_gpu_named_twice():
    from drtriton.util.errors import UsageError

    with pytest.raises(UsageError, match="devices is empty"):
        HostVerifierPool(CONFIG, devices=[])
    with pytest.raises(UsageError, match="name each GPU once"):  # one GPU, two timing locks: refused
        HostVerifierPool(CONFIG, devices=["cuda:0", "cuda:0"])


# ---- several hosts (a local Ray cluster of CPU actors) ----
@pytest.fixture(scope="module")
def ray_pool():
    if not ray_available():
        pytest.skip("ray is not importable; scripts/setup.sh installs it")
    import ray

    from drtriton.verify.multi import RayVerifierPool

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, object_store_memory=100 * 1024**2)
    try:
        pool = RayVerifierPool(CONFIG, num_actors=2, workers_per_actor=1, max_restarts=2, prespawn=False)
        yield pool
        pool.close()
    finally:
        ray.shutdown()


def test_ray_pool_matches_single_pool_in_input_order_for_concurrent_callers(ray_pool, pairs, single_verdicts):
    out: dict[int, list] = {}
    threads = [threading.Thread(target=lambda i=i: out.__setitem__(i, ray_pool.verify_many(pairs[i::2])))
               for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(2):
        assert [_summary(v) for v in out[i]] == [_summary(v) for v in single_verdicts[i::2]]
    assert all(s["done"] > 0 for s in ray_pool.stats())  # both actors worked


def test_ray_pool_turns_actor_death_into_runtime_errors_and_replaces_it(ray_pool, pairs):
    import ray

    future = ray_pool.submit(*pairs[0])  # an honest candidate: seconds of work in the interpreter
    deadline = time.monotonic() + 30
    while not any(ray_pool.in_flight().values()) and time.monotonic() < deadline:
        time.sleep(0.05)
    victim = max(ray_pool.in_flight().items(), key=lambda kv: kv[1])[0]
    before = ray_pool.stats()[victim]
    assert before["in_flight"] == 1
    ray.kill(ray_pool.actor(victim), no_restart=True)
    verdict = future.result(timeout=120)
    assert verdict.status is Status.RUNTIME_ERROR and f"verifier actor {victim}" in verdict.reason
    assert "died" in verdict.reason and not verdict.cached
    assert ray_pool.stats()[victim]["restarts"] == before["restarts"] + 1
    # The replacement is a new, live actor, and the pool answers again.
    assert ray.get(ray_pool.actor(victim).info.remote(), timeout=120)["pid"] != before["pid"]
    after = ray_pool.verify_many([pairs[1], pairs[3]])
    assert [v.status for v in after] == [Status.CHEAT_DETECTED, Status.CHEAT_DETECTED]
    assert all(s["alive"] and s["in_flight"] == 0 for s in ray_pool.stats())


def test_ray_pool_replaces_an_actor_that_stops_answering(ray_pool, pairs):
    import signal

    future = ray_pool.submit(*pairs[0])
    deadline = time.monotonic() + 30
    while not any(ray_pool.in_flight().values()) and time.monotonic() < deadline:
        time.sleep(0.05)
    victim = max(ray_pool.in_flight().items(), key=lambda kv: kv[1])[0]
    before = ray_pool.stats()[victim]
    old_stall, ray_pool.stall_s = ray_pool.stall_s, 4.0
    os.kill(before["pid"], signal.SIGSTOP)  # alive to the OS, silent to the driver: a hung actor
    try:
        verdict = future.result(timeout=120)
    finally:
        ray_pool.stall_s = old_stall
        try:
            os.kill(before["pid"], signal.SIGKILL)  # the pool's ray.kill may still wait on the stopped process
        except ProcessLookupError:
            pass
    assert verdict.status is Status.RUNTIME_ERROR and "finished nothing for 4 s" in verdict.reason
    assert ray_pool.stats()[victim]["restarts"] == before["restarts"] + 1


def test_ray_pool_refuses_a_gpu_config_on_a_cluster_without_gpus(ray_pool):
    from drtriton.util.errors import UsageError
    from drtriton.verify.multi import RayVerifierPool

    with pytest.raises(UsageError, match="the Ray cluster has no GPU"):
        RayVerifierPool(VerifyConfig(device="cuda"))


# ---- GPU (the lead's machine: pytest -m gpu) ----
@pytest.mark.gpu
def test_host_pool_verifies_and_times_on_every_gpu(pairs):
    import torch

    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU")
    n = torch.cuda.device_count()
    config = VerifyConfig(device="auto", time_compile_baseline=False)
    with HostVerifierPool(config, workers_per_device=2) as pool:
        verdicts = pool.verify_many([pairs[0]] * (2 * n) + [pairs[2]])
        stats = pool.stats()
    assert [s["device"] for s in stats] == [f"cuda:{i}" for i in range(n)]
    assert all(v.status is Status.CORRECT and v.timing is not None for v in verdicts[:-1]), [v.reason for v in verdicts]
    assert verdicts[-1].status is Status.CHEAT_DETECTED and all(s["done"] > 0 for s in stats)


@pytest.mark.gpu
def test_ray_pool_runs_one_gpu_actor_per_gpu(pairs):
    import torch

    if not torch.cuda.is_available() or not ray_available():
        pytest.skip("needs a CUDA GPU and ray")
    import ray

    from drtriton.verify.multi import RayVerifierPool

    n = torch.cuda.device_count()
    ray.init(num_gpus=n, include_dashboard=False, log_to_driver=False)
    try:
        with RayVerifierPool(VerifyConfig(device="cuda", time_compile_baseline=False), workers_per_actor=2) as pool:
            verdicts = pool.verify_many([pairs[0]] * (2 * n))
            stats = pool.stats()
    finally:
        ray.shutdown()
    assert len(stats) == n and all(s["gpu"] not in (None, "cpu") for s in stats)
    assert all(v.status is Status.CORRECT and v.timing is not None for v in verdicts), [v.reason for v in verdicts]
