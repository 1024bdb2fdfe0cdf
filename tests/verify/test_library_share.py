"""The hybrid Triton-share rule leaves the conv/matmul library time that `mixed` allows out of its
denominator, counting each library call once even when library ops nest."""

from dataclasses import dataclass

from drtriton.verify.timing import LIBRARY_OPS, library_device_time


@dataclass
class Event:
    name: str
    device_time_total: float
    cpu_parent: "Event | None" = None


def test_outermost_library_calls_are_counted_once():
    conv = Event("aten::convolution", 70.0)
    inner = Event("aten::mm", 20.0, cpu_parent=Event("aten::_convolution", 70.0, cpu_parent=conv))
    linear = Event("aten::linear", 30.0)
    addmm = Event("aten::addmm", 30.0, cpu_parent=linear)
    softmax = Event("aten::softmax", 15.0)
    assert library_device_time([conv, inner, linear, addmm, softmax]) == 100.0


def test_non_library_torch_ops_are_not_exempt():
    events = [Event("aten::softmax", 50.0), Event("aten::relu", 5.0), Event("aten::layer_norm", 9.0)]
    assert library_device_time(events) == 0.0
    assert {"aten::convolution", "aten::mm", "aten::addmm", "aten::bmm"} <= LIBRARY_OPS
