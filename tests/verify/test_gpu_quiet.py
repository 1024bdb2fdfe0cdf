"""The GPU timing lock (verify/gpu_quiet.py): shared GPU work and exclusive timing across processes.

flock(2) locks belong to open file descriptions, so two GpuQuiet handles on one path conflict exactly
as two worker processes would; threads stand in for the processes here."""

import threading
import time

from drtriton.verify.gpu_quiet import GpuQuiet


def test_timing_waits_for_shared_work_and_says_when_it_could_not(tmp_path):
    path = str(tmp_path / "gpu-cuda-0")
    worker, timer = GpuQuiet(path), GpuQuiet(path)
    with worker.shared():
        with timer.exclusive(0.2) as quiet:
            assert quiet is False  # another process's GPU work was still running
    with timer.exclusive(0.2) as quiet:
        assert quiet is True


def test_many_shared_sections_at_once_and_nesting(tmp_path):
    path = str(tmp_path / "gpu")
    a, b = GpuQuiet(path), GpuQuiet(path)
    with a.shared(), b.shared():
        with a.shared():  # nested in one process: the inner exit must not release the outer hold
            pass
        with GpuQuiet(path).exclusive(0.1) as quiet:
            assert quiet is False  # a still holds its shared section after the nested one ended


def test_a_waiting_timer_holds_off_new_shared_work(tmp_path):
    path = str(tmp_path / "gpu")
    first, timer, late = GpuQuiet(path), GpuQuiet(path), GpuQuiet(path)
    order: list[str] = []

    def time_it():
        with timer.exclusive(5.0) as quiet:
            order.append(f"timing quiet={quiet}")
            time.sleep(0.2)
        order.append("timing done")

    def late_work():
        with late.shared():
            order.append("late shared")

    with first.shared():
        t = threading.Thread(target=time_it)
        t.start()
        time.sleep(0.2)  # the timer now waits, holding the turnstile
        u = threading.Thread(target=late_work)
        u.start()
        time.sleep(0.2)
        assert order == []  # neither the timer nor the late shared section got in yet
    t.join(5)
    u.join(5)
    assert order[0] == "timing quiet=True"
    assert order.index("late shared") > 0  # the late section ran after the timing began, not before


def test_no_path_is_a_no_op():
    quiet = GpuQuiet(None)
    with quiet.shared():
        with quiet.exclusive(0.0) as alone:
            assert alone is True
