"""Candidate outputs shared with the judge through CUDA IPC, and an on-GPU output digest.

On a GPU the reference worker stays alive as the problem's judge: it keeps the reference outputs on the
GPU (recomputing cases past its memory budget) and compares the candidate's outputs there. The
candidate's worker sends, for each call, CUDA IPC handles of its outputs instead of the outputs
themselves; the judge maps them, compares, and answers with a few numbers. KernelBench outputs reach
gigabytes per case, and thirty of them per candidate crossed a pipe to the parent before (over 60 s per
problem on the H100 host).

The descriptors come from the candidate's process, which runs untrusted code: they are plain JSON values,
checked field by field (shape and dtype against the reference, contiguous strides, sizes inside the
claimed storage) before anything is mapped. A forged handle can at worst name memory of the candidate's
own process or crash the judge, which the parent then reports and replaces.
"""

from __future__ import annotations

import math

import torch

from drtriton.verify.protocol import ProtocolError, _dtype_from_name

_INT_VIEW = {1: torch.int8, 2: torch.int16, 4: torch.int32, 8: torch.int64}
DIGEST_CHUNK = 1 << 24  # elements hashed at a time: int64 temporaries stay ~256 MB


def _hex(value) -> str | None:
    return None if value is None else bytes(value).hex()


def export_cuda_outputs(outs: list) -> list[dict]:
    """IPC descriptors of contiguous CUDA outputs (candidate side). The caller keeps `outs` alive until
    the parent acknowledges the comparison: the judge maps their memory, it does not copy it."""
    from torch.multiprocessing.reductions import reduce_tensor

    metas = []
    for o in outs:
        if not isinstance(o, torch.Tensor) or not o.is_cuda:
            raise TypeError("only CUDA tensors are shared with the judge")
        t = o.detach()
        if not t.is_contiguous():
            raise ValueError("outputs are shared contiguous (the worker makes them so)")
        if t.numel() == 0:
            metas.append({"shape": list(t.shape), "dtype": str(t.dtype).removeprefix("torch."), "empty": True})
            continue
        _, args = reduce_tensor(t)
        (_cls, size, stride, offset, _scls, dtype, device, handle, storage_bytes, storage_offset_bytes,
         _grad, rc_handle, rc_offset, event_handle, event_sync) = args
        metas.append({
            "shape": list(size), "stride": list(stride), "offset": int(offset),
            "dtype": str(dtype).removeprefix("torch."), "device": int(device), "handle": _hex(handle),
            "storage_bytes": int(storage_bytes), "storage_offset_bytes": int(storage_offset_bytes),
            "rc_handle": _hex(rc_handle), "rc_offset": int(rc_offset), "event_handle": _hex(event_handle),
            "event_sync": bool(event_sync),
        })
    return metas


class BadDescriptor(ValueError):
    """An output descriptor that does not describe the expected tensor."""


def _contiguous_strides(shape: list[int]) -> list[int]:
    strides, acc = [], 1
    for n in reversed(shape):
        strides.append(acc)
        acc *= max(1, n)
    return strides[::-1]


def _bytes_field(meta: dict, name: str, optional: bool = False) -> bytes | None:
    value = meta.get(name)
    if value is None and optional:
        return None
    # 64 KiB of hex: a cudaIpcMemHandle is 64 bytes, but with expandable segments torch shares a list of
    # segment handles (the H100 run met one past 512 bytes for a large matmul output)
    if not isinstance(value, str) or len(value) > 1 << 16:
        raise BadDescriptor(f"descriptor field {name} is not a hex string")
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise BadDescriptor(f"descriptor field {name} is not a hex string") from None


def _int_field(meta: dict, name: str) -> int:
    value = meta.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise BadDescriptor(f"descriptor field {name} is not a non-negative int")
    return value


def open_cuda_output(meta: dict, shape: tuple, dtype: torch.dtype, device: int) -> torch.Tensor:
    """The candidate's output described by `meta`, mapped into this process (judge side), after checking
    it describes a contiguous tensor of `shape` and `dtype` inside the storage it claims. Raises
    BadDescriptor (a shape or dtype mismatch is reported by the comparison instead: see `describes`)."""
    from torch.multiprocessing.reductions import rebuild_cuda_tensor

    if not isinstance(meta, dict):
        raise BadDescriptor("output descriptor is not an object")
    if meta.get("empty"):
        return torch.empty(shape, dtype=dtype, device=f"cuda:{device}")
    if meta.get("stride") != _contiguous_strides(list(shape)):
        raise BadDescriptor("output descriptor is not contiguous")
    offset, storage_bytes = _int_field(meta, "offset"), _int_field(meta, "storage_bytes")
    storage_offset_bytes, rc_offset = _int_field(meta, "storage_offset_bytes"), _int_field(meta, "rc_offset")
    if _int_field(meta, "device") != device:
        raise BadDescriptor("output lives on another GPU than the judge's")
    if (offset + math.prod(shape)) * dtype.itemsize > storage_bytes:
        raise BadDescriptor("output descriptor claims more elements than its storage holds")
    handle, rc_handle = _bytes_field(meta, "handle"), _bytes_field(meta, "rc_handle")
    event_handle = _bytes_field(meta, "event_handle", optional=True)
    if not isinstance(meta.get("event_sync"), bool):
        raise BadDescriptor("descriptor field event_sync is not a bool")
    return rebuild_cuda_tensor(
        torch.Tensor, torch.Size(shape), tuple(_contiguous_strides(list(shape))), offset, torch.UntypedStorage,
        dtype, device, handle, storage_bytes, storage_offset_bytes, False, rc_handle, rc_offset, event_handle,
        meta["event_sync"],
    )


def describes(meta, shape: tuple, dtype: torch.dtype) -> str:
    """Why `meta` is not an output of `shape` and `dtype` ("" when it is), in the comparison's words."""
    if not isinstance(meta, dict) or not isinstance(meta.get("shape"), list):
        raise BadDescriptor("output descriptor has no shape")
    got = tuple(int(n) for n in meta["shape"] if isinstance(n, int))
    if len(got) != len(meta["shape"]) or any(n < 0 for n in got):
        raise BadDescriptor("output descriptor shape is not a list of sizes")
    if got != tuple(shape):
        return f"has shape {got}, expected {tuple(shape)}"
    name = meta.get("dtype")
    try:
        got_dtype = _dtype_from_name(name)
    except (ProtocolError, TypeError):  # not a torch dtype name (or not a string)
        return f"has dtype {name!r}, expected {dtype}"
    return f"has dtype {got_dtype}, expected {dtype}" if got_dtype != dtype else ""


def gpu_digest(outs: list) -> str:
    """A digest with outputs_digest's meaning (compare.py), computed where the outputs are: equal
    shapes, dtypes and values give equal digests (-0.0 as 0.0); an output holding NaN equals nothing.
    Values are hashed as a position-weighted sum of their bit patterns, so different outputs collide
    only by a wrapping-int64 coincidence. Used only to compare outputs of one process kind with each
    other (the input-insensitivity rules), never with a CPU digest."""
    import hashlib
    import uuid

    h = hashlib.sha256()
    for o in outs:
        if not isinstance(o, torch.Tensor):
            h.update(f"V{o!r}|".encode())
            continue
        h.update(f"T{tuple(o.shape)}:{o.dtype}|".encode())
        flat = o.detach().reshape(-1)
        if flat.is_complex():
            flat = torch.view_as_real(flat).reshape(-1)
        total = torch.zeros((), dtype=torch.int64, device=flat.device)
        for lo in range(0, flat.numel(), DIGEST_CHUNK):
            chunk = flat[lo : lo + DIGEST_CHUNK]
            if chunk.is_floating_point():
                if bool(torch.isnan(chunk).any()):
                    return f"nan-{uuid.uuid4().hex}"
                chunk = chunk + 0  # -0.0 becomes 0.0
            if chunk.dtype == torch.bool:
                bits = chunk.to(torch.int64)
            else:
                bits = chunk.contiguous().view(_INT_VIEW[chunk.element_size()]).to(torch.int64)
            pos = torch.arange(lo, lo + chunk.numel(), device=chunk.device, dtype=torch.int64)
            weight = (pos * 0x1E3779B97F4A7C15 + 0x632BE59BD9B4E5) | 1  # odd, position-dependent
            total += (bits * weight + pos).sum()
        h.update(int(total).to_bytes(8, "little", signed=True))
    return h.hexdigest()
