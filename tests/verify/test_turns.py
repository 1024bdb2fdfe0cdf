"""VerifierPool's turns: at most `workers` candidates verify at once, and every turn comes back (also when a
verdict is a rejection, and when a thread gives its turn back early to wait for a baseline)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from candidates import HONEST, WRONG

from drtriton.verify import Status, VerifierPool, VerifyConfig

os.environ.setdefault("TRITON_INTERPRET", "1")
PROBLEM = (Path(__file__).resolve().parents[1] / "problems" / "relu.py").read_text()
CONFIG = VerifyConfig(device="cpu", seeds=(0,), distributions=("normal",), timeout_s=120)


def _free_turns(pool: VerifierPool) -> int:
    n = 0
    while pool._turns.acquire(blocking=False):
        n += 1
    for _ in range(n):
        pool._turns.release()
    return n


def test_turns_bound_concurrency_and_all_come_back() -> None:
    with VerifierPool(CONFIG, workers=1, prespawn=False) as pool:
        inside, peak = [0], [0]
        lock = threading.Lock()
        real = pool._verify_uncached

        def counting(problem_src: str, candidate_src: str):
            with lock:
                inside[0] += 1
                peak[0] = max(peak[0], inside[0])
            try:
                return real(problem_src, candidate_src)
            finally:
                with lock:
                    inside[0] -= 1

        pool._verify_uncached = counting
        verdicts = pool.verify_many([(PROBLEM, HONEST), (PROBLEM, WRONG), (PROBLEM, "not python (")])
        assert [v.status for v in verdicts] == [Status.CORRECT, Status.INCORRECT, Status.FORMAT_ERROR]
        assert peak[0] == 1  # verify_many runs 2 threads, but one worker means one turn
        assert _free_turns(pool) == 1


def test_giving_the_turn_back_twice_releases_once() -> None:
    with VerifierPool(CONFIG, workers=2, prespawn=False) as pool:
        pool._turns.acquire()
        pool._has_turn.held = True
        pool._give_turn_back()
        pool._give_turn_back()  # a second call (verify's own finally) must not over-release
        assert _free_turns(pool) == 2
