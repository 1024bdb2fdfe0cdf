"""The GPU timing lock (verify/gpu_quiet.py): shared GPU work and exclusive timing across processes.

flock(2) locks belong to open file descriptions, so two GpuQuiet handles on one path conflict exactly
as two worker processes would; threads stand in for the processes here."""

import threading
import time

from drtriton.verify.gpu_quiet import GpuQuiet
from drtriton.verify.warmup import start_up


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


def _wait_until(cond, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_a_paused_section_lets_a_timer_in_and_takes_the_gpu_back(tmp_path):
    path = str(tmp_path / "gpu")
    worker, timer = GpuQuiet(path), GpuQuiet(path)
    synced = []
    with worker.shared():
        with worker.shared():  # nested (a forward call inside a case's section)
            with worker.paused(before=lambda: synced.append(True)):  # a Triton compile: CPU only
                with timer.exclusive(0.2) as quiet:
                    assert quiet is True  # the compiling worker does not hold the GPU up
            assert synced == [True]
            with timer.exclusive(0.1) as quiet:
                assert quiet is False  # back in its section after the compile
        with timer.exclusive(0.1) as quiet:
            assert quiet is False  # the outer section still holds
    with timer.exclusive(0.1) as quiet:
        assert quiet is True
    with worker.paused():  # outside any section: nothing to leave
        with timer.exclusive(0.1) as quiet:
            assert quiet is True


def test_a_comparison_passes_a_waiting_timer_but_never_a_timing(tmp_path):
    path = str(tmp_path / "gpu")
    candidate, timer, judge = GpuQuiet(path), GpuQuiet(path), GpuQuiet(path)
    events: list[str] = []

    def time_it():
        with timer.exclusive(5.0) as quiet:
            events.append(f"timing quiet={quiet}")
            time.sleep(0.2)
        events.append("timing done")

    def compare():
        with judge.shared(queue=False):
            events.append("compared")

    with candidate.shared():
        t = threading.Thread(target=time_it)
        t.start()
        time.sleep(0.2)  # the timer waits for the candidate's section, holding the turnstile
        u = threading.Thread(target=compare)
        u.start()
        u.join(2)
        assert events == ["compared"]  # a judge's comparison is not queued behind the waiting timer
    _wait_until(lambda: events[1:] == ["timing quiet=True"])
    v = threading.Thread(target=compare)
    v.start()  # while the timer holds the GPU alone, even an unqueued section waits
    time.sleep(0.05)
    assert "compared" not in events[2:]
    t.join(5)
    v.join(5)
    assert sorted(events[2:]) == ["compared", "timing done"]


def test_a_waiting_timer_keeps_busy_and_records_its_wait_and_hold(tmp_path):
    path = str(tmp_path / "gpu")
    worker, timer = GpuQuiet(path), GpuQuiet(path)
    rounds: list[int] = []

    def release_later():
        with worker.shared():
            time.sleep(0.2)

    t = threading.Thread(target=release_later)
    t.start()
    _wait_until(lambda: worker._depth == 1)
    with timer.exclusive(5.0, busy=lambda: (rounds.append(1), time.sleep(0.005))) as quiet:
        assert quiet is True
        time.sleep(0.05)
    t.join(5)
    assert len(rounds) >= 5  # ramp rounds while the worker's section ran, not sleeps
    assert 0.1 < timer.last_wait_s < 2.0
    assert 0.04 < timer.last_hold_s < 1.0
    rounds.clear()
    with timer.exclusive(5.0, busy=lambda: rounds.append(1)) as quiet:
        assert quiet is True
    assert rounds == []  # nothing to wait for: no extra rounds


def test_shared_waits_and_holds_are_counted(tmp_path):
    path = str(tmp_path / "gpu")
    worker, timer = GpuQuiet(path), GpuQuiet(path)
    done = threading.Event()

    def time_it():
        with timer.exclusive(5.0):
            done.set()
            time.sleep(0.2)

    t = threading.Thread(target=time_it)
    t.start()
    done.wait(5)
    with worker.shared():
        time.sleep(0.1)
        with worker.paused():
            time.sleep(0.3)  # a compile: not held
    t.join(5)
    assert 0.1 < worker.waited_s < 2.0
    assert 0.09 < worker.held_s < 0.3


def test_triton_compiles_step_out_of_the_gpu_section(tmp_path):
    from drtriton.verify.gpu_quiet import release_during_triton_compiles

    path = str(tmp_path / "gpu")
    worker, timer = GpuQuiet(path), GpuQuiet(path)
    seen: list[bool] = []

    class FakeJit:  # stands in for triton.runtime.jit.JITFunction
        def _do_compile(self, *args, **kwargs):
            with timer.exclusive(0.1) as quiet:
                seen.append(quiet)
            return ("kernel", args, kwargs)

    synced = []
    assert release_during_triton_compiles(worker, lambda: synced.append(1), jit_cls=FakeJit)
    assert release_during_triton_compiles(worker, jit_cls=FakeJit)  # twice: wrapped once
    with worker.shared():
        assert FakeJit()._do_compile(1, warmup=False) == ("kernel", (1,), {"warmup": False})
        with timer.exclusive(0.1) as quiet:
            assert quiet is False  # the section holds again after the compile
    assert seen == [True] and synced == [1]
    FakeJit()._do_compile()  # outside a section: compiles as before
    assert seen == [True, True] and synced == [1]

    class OldJit:  # a Triton without _do_compile
        pass

    assert release_during_triton_compiles(worker, jit_cls=OldJit) is False


def test_a_timer_whose_busy_work_fails_leaves_no_one_queued(tmp_path):
    path = str(tmp_path / "gpu")
    worker, timer, late = GpuQuiet(path), GpuQuiet(path), GpuQuiet(path)

    def boom():
        raise RuntimeError("the candidate's call failed during the ramp")

    with worker.shared():
        try:
            with timer.exclusive(5.0, busy=boom):
                raise AssertionError("entered although the worker's section still ran")
        except RuntimeError:
            pass
    with late.shared():  # the turnstile is free again: new GPU work is not stuck behind the failed timer
        pass
    with timer.exclusive(0.1) as quiet:
        assert quiet is True


CONTEXT_S = 2.0  # a slow CUDA context creation on a loaded host (H100 host: 1.36 s median for a spare)
BOUND_S = 0.5  # what a timer may lose to a start-up under way: far less than its context creation


def _start_up_in_thread(spare, events, context_s=CONTEXT_S):
    """warmup.start_up on a fake GPU: a context creation that takes `context_s`, then a warm-up launch."""

    def create_context():
        events.append("context")
        time.sleep(context_s)
        events.append("context done")

    def warm(device):
        events.append("warm-up")

    t = threading.Thread(target=lambda: start_up("cuda:0", spare, create_context=create_context, warm=warm))
    t.start()
    return t


def test_a_timer_does_not_wait_for_a_cuda_context_being_created(tmp_path):
    path = str(tmp_path / "gpu")
    spare, timer = GpuQuiet(path), GpuQuiet(path)
    events: list[str] = []
    s = _start_up_in_thread(spare, events)
    _wait_until(lambda: events == ["context"])
    t0 = time.monotonic()
    with timer.exclusive(5.0) as quiet:
        assert quiet is True
        events.append("timing")
    elapsed = time.monotonic() - t0
    assert elapsed < BOUND_S and timer.last_wait_s < BOUND_S, (elapsed, timer.last_wait_s)
    assert events == ["context", "timing"]  # timed while the context was still being created
    s.join(5)
    assert events == ["context", "timing", "context done", "warm-up"]


def test_a_start_ups_warm_up_launches_wait_for_a_timing(tmp_path):
    path = str(tmp_path / "gpu")
    spare, timer = GpuQuiet(path), GpuQuiet(path)
    events: list[str] = []
    with timer.exclusive(1.0) as quiet:
        assert quiet is True
        s = _start_up_in_thread(spare, events, context_s=0.0)
        _wait_until(lambda: "context done" in events)  # the context is created even while a timer times
        time.sleep(0.1)
        assert events == ["context", "context done"]  # but its kernels do not run inside the timing
    s.join(5)
    assert events == ["context", "context done", "warm-up"]


def test_a_start_up_holds_a_section_only_for_its_warm_up(tmp_path):
    path = str(tmp_path / "gpu")
    quiet, timer = GpuQuiet(path), GpuQuiet(path)
    seen: dict[str, bool] = {}

    def alone_now() -> bool:
        with timer.exclusive(0.0) as alone:
            return alone

    def create_context():
        seen["context"] = alone_now()  # no section held: a timer could take the GPU meanwhile

    def warm(device):
        seen["warm"] = alone_now()

    startup = start_up("cuda:0", quiet, create_context=create_context, warm=warm)
    assert seen == {"context": True, "warm": False}
    assert set(startup) == {"context_s", "warm_triton_s", "section_s", "section_wait_s"}
    assert startup["section_s"] <= startup["warm_triton_s"]
    # on CPU: no context, the warm-up only; without a lock file: no section seconds
    assert set(start_up("cpu", GpuQuiet(None), warm=lambda device: None)) == {"warm_triton_s"}


def test_start_ups_are_not_part_of_the_lock(tmp_path):
    # A timer once waited (STARTUP_WAIT_S, up to 2 s) for start-ups under way and serialised the pool's
    # timings ~2 s apart (H100, bench/verifier_gpu.py --part b): nothing of that may come back.
    path = str(tmp_path / "gpu")
    GpuQuiet(path).close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gpu.main", "gpu.turn"]
    assert not hasattr(GpuQuiet, "startup") and not hasattr(GpuQuiet, "startups_held_off")
