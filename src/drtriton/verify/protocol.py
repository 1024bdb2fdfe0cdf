"""Worker pipe protocol: length-prefixed frames of a JSON header plus raw tensor blobs.

No pickle crosses the boundary: the parent never unpickles bytes a candidate could have written.
A frame is  u32 header_len | header (JSON) | u32 n_blobs | (u64 blob_len | blob)*.
Tensors become {"__tensor__": i, "dtype": "float32", "shape": [...]} with their bytes in blob i.
`encode_parts` gives the frame as a list of buffers that view the tensors' memory (no copy of the data);
`decode_parts` wraps writable blobs (bytearray) without copying them. A tensor sent at KernelBench sizes
is therefore copied once on each side (device to host, pipe to buffer), not four times.
"""

from __future__ import annotations

import json
import struct
from typing import Any

import torch

MAX_HEADER = 64 << 20  # a reply header larger than this is a protocol violation


class ProtocolError(RuntimeError):
    """The other side sent something that is not a valid frame."""


def _dtype_from_name(name: str) -> torch.dtype:
    dtype = getattr(torch, name, None)
    if not isinstance(dtype, torch.dtype):
        raise ProtocolError(f"unknown dtype {name!r} in frame")
    return dtype


def _tensor_bytes(t: torch.Tensor) -> memoryview:
    """A read-only view of a CPU tensor's bytes (contiguous), without copying them."""
    if not t.numel():
        return memoryview(b"")
    return memoryview(t.reshape(-1).view(torch.uint8).numpy()).cast("B")


def encode_parts(obj: Any) -> list:
    """The frame of `obj` as buffers to write in order; tensor blobs view (a host copy of) the tensor."""
    blobs: list = []

    def enc(value: Any) -> Any:
        if isinstance(value, torch.Tensor):
            t = value.detach().to("cpu").contiguous()
            blobs.append(_tensor_bytes(t))
            return {
                "__tensor__": len(blobs) - 1,
                "dtype": str(t.dtype).removeprefix("torch."),
                "shape": list(t.shape),
            }
        if isinstance(value, dict):
            return {str(k): enc(v) for k, v in value.items()}
        if isinstance(value, tuple):
            return {"__tuple__": [enc(v) for v in value]}
        if isinstance(value, list):
            return [enc(v) for v in value]
        if isinstance(value, (str, int, float, bool)) or value is None:
            return value
        if isinstance(value, torch.dtype):
            return {"__dtype__": str(value).removeprefix("torch.")}
        return {"__repr__": repr(value)[:200]}

    header = json.dumps(enc(obj)).encode()
    parts = [struct.pack("<I", len(header)), header, struct.pack("<I", len(blobs))]
    for blob in blobs:
        parts += [struct.pack("<Q", blob.nbytes), blob]
    return parts


def encode(obj: Any) -> bytes:
    """The frame of `obj` as one bytes object (small messages; large ones: encode_parts)."""
    return b"".join(encode_parts(obj))


def write_parts(write, parts: list) -> int:
    """Writes a frame's parts with `write(buffer) -> n written`; returns the frame's size in bytes."""
    total = 0
    for part in parts:
        view = memoryview(part).cast("B")
        total += view.nbytes
        while view:
            view = view[write(view) :]
    return total


def decode_parts(header: bytes, blobs: list) -> Any:
    """The object of one frame; bytearray blobs back their tensors directly (no copy)."""
    def dec(value: Any) -> Any:
        if isinstance(value, dict):
            if "__tensor__" in value:
                dtype = _dtype_from_name(value["dtype"])
                shape = [int(s) for s in value["shape"]]
                raw = blobs[int(value["__tensor__"])]
                if not raw:
                    return torch.empty(shape, dtype=dtype)
                buf = raw if isinstance(raw, bytearray) else bytearray(raw)
                flat = torch.frombuffer(buf, dtype=torch.uint8)
                return flat.view(dtype).reshape(shape)
            if "__tuple__" in value:
                return tuple(dec(v) for v in value["__tuple__"])
            if "__dtype__" in value:
                return _dtype_from_name(value["__dtype__"])
            return {k: dec(v) for k, v in value.items()}
        if isinstance(value, list):
            return [dec(v) for v in value]
        return value

    try:
        return dec(json.loads(header))
    except (ValueError, IndexError, RuntimeError) as exc:
        raise ProtocolError(f"malformed frame: {exc}") from None


def read_frame(read_exact, max_bytes: int) -> Any:
    """Reads one frame with `read_exact(n) -> bytes`; raises ProtocolError past `max_bytes` in total."""
    (hlen,) = struct.unpack("<I", read_exact(4))
    if hlen > min(MAX_HEADER, max_bytes):
        raise ProtocolError(f"frame header of {hlen} bytes exceeds the limit")
    header = read_exact(hlen)
    (nblobs,) = struct.unpack("<I", read_exact(4))
    total = hlen
    blobs = []
    for _ in range(nblobs):
        (blen,) = struct.unpack("<Q", read_exact(8))
        total += blen
        if total > max_bytes:
            raise ProtocolError(f"frame of more than {max_bytes} bytes exceeds the memory cap")
        blobs.append(read_exact(blen))
    return decode_parts(header, blobs)
