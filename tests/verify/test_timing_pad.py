"""The GPU pad queued before each timed sample (timing.gpu_pads): sized from the measured host launch time."""

from __future__ import annotations

import pytest

from drtriton.verify import timing


@pytest.fixture()
def rate(monkeypatch):
    # 1,000 spin cycles per millisecond stands in for the calibration (which needs a GPU).
    monkeypatch.setattr(timing, "_sleep_cycles_per_ms", lambda device: 1000.0)


def test_fast_launch_needs_no_pad(rate):
    assert timing.gpu_pads({"candidate": [0.004, 0.005, 0.006]}, device=None) == {"candidate": 0}


def test_pad_is_factor_times_median_launch(rate):
    pads = timing.gpu_pads({"candidate": [0.1, 0.2, 9.0], "eager": [0.02, 0.02, 0.02]}, device=None)
    assert pads["candidate"] == int(timing.PAD_FACTOR * 0.2 * 1000)  # median, not the outlier
    assert pads["eager"] == int(timing.PAD_FACTOR * 0.02 * 1000)


def test_pad_is_capped(rate):
    pads = timing.gpu_pads({"slow": [50.0, 60.0]}, device=None)
    assert pads["slow"] == int(timing.PAD_MAX_MS * 1000)


def test_no_calibration_when_nothing_needs_a_pad(monkeypatch):
    def boom(device):
        raise AssertionError("calibrated although no contestant needs a pad")

    monkeypatch.setattr(timing, "_sleep_cycles_per_ms", boom)
    assert timing.gpu_pads({"a": [0.001], "b": []}, device=None) == {"a": 0, "b": 0}
