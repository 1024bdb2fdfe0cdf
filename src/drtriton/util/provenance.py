"""What made an artifact: package versions, device, host. Recorded in every verdict, dataset and report."""

from __future__ import annotations

import platform
from dataclasses import asdict, dataclass, field
from functools import lru_cache

import drtriton


def _version(module_name: str) -> str | None:
    try:
        module = __import__(module_name)
    except Exception:  # noqa: BLE001 - a missing optional package is recorded as None, not an error
        return None
    return getattr(module, "__version__", None)


@dataclass(frozen=True, slots=True)
class Provenance:
    drtriton: str
    python: str
    torch: str | None
    triton: str | None
    numpy: str | None
    device: str  # GPU name, or "cpu"
    host: str
    extra: dict = field(default_factory=dict)

    @staticmethod
    @lru_cache(maxsize=1)
    def here() -> "Provenance":
        device = "cpu"
        try:
            import torch

            if torch.cuda.is_available():
                device = torch.cuda.get_device_name(0)
        except Exception:  # noqa: BLE001 - no torch means a CPU-only record
            pass
        return Provenance(
            drtriton=drtriton.__version__,
            python=platform.python_version(),
            torch=_version("torch"),
            triton=_version("triton"),
            numpy=_version("numpy"),
            device=device,
            host=platform.node(),
        )

    def to_json(self) -> dict:
        return asdict(self)
