"""Tiny inline candidates for tests/verify: one honest ReLU kernel and variants that each break one rule
or produce one fault. Problem: tests/problems/relu.py (torch.relu on a 19x71 tensor)."""

HEADER = """
import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def relu_kernel(x_ptr, y_ptr, n, BLOCK: tl.constexpr):
    pid = tl.program_id(0)
    offs = pid * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask)
    tl.store(y_ptr + offs, tl.maximum(x, 0.0), mask=mask)


def launch(x, y):
    n = x.numel()
    relu_kernel[(triton.cdiv(n, 256),)](x, y, n, BLOCK=256)
"""


def candidate(forward_body: str, prelude: str = "", extra: str = "") -> str:
    """HEADER + optional prelude (imports) + ModelNew whose forward body is `forward_body`."""
    body = "\n".join("        " + line for line in forward_body.strip("\n").splitlines())
    return f"{prelude}\n{HEADER}\n{extra}\n\nclass ModelNew(nn.Module):\n    def forward(self, x):\n{body}\n"


HONEST = candidate("""
x = x.contiguous()
y = torch.empty_like(x)
launch(x, y)
return y
""")

# ---- correctness ----
WRONG = candidate("""
y = torch.empty_like(x)
launch(x, y)
y2 = torch.empty_like(x)
launch(y * 1.0001 + 0.001, y2)
return y2
""").replace("y * 1.0001 + 0.001", "y")  # placeholder replaced below
WRONG = HONEST.replace("tl.maximum(x, 0.0)", "tl.maximum(x, 0.01)")
NO_OP_KERNEL = HONEST.replace("    tl.store(y_ptr + offs, tl.maximum(x, 0.0), mask=mask)", "    pass")
WRONG_SHAPE = candidate("""
y = torch.empty_like(x)
launch(x, y)
return y.reshape(-1)
""")
NO_MODELNEW = HEADER
NOT_PYTHON = "def ModelNew(:\n"
COMPILE_ERROR = (
    HEADER.replace("import triton.language as tl", "import triton.language as tl\nraise_here(")
    + "\nclass ModelNew(nn.Module):\n    pass\n"
)
MODULE_RAISES = candidate("return x", extra="raise RuntimeError('module import fails on purpose')")

# ---- static rules ----
STATIC = {
    "launch.no_triton_kernel": "import torch\nimport torch.nn as nn\n\nclass ModelNew(nn.Module):\n"
    "    def forward(self, x):\n        return torch.relu(x)\n",
    "fallback.calls_reference": candidate("return Model()(x)"),
    "fallback.try_except": candidate("""
try:
    y = torch.empty_like(x)
    launch(x, y)
    return y
except Exception:
    return torch.relu(x)
"""),
    "fallback.host_compute": candidate("return torch.tensor(x.numpy().clip(0))"),
    "timing.stream_injection": candidate("""
s = torch.cuda.Stream()
y = torch.empty_like(x)
launch(x, y)
return y
"""),
    "timing.concurrency": candidate("return x", prelude="import threading"),
    "timing.clock_access": candidate("return x", prelude="import time"),
    "patch.monkey_patch": candidate("""
torch.relu = lambda t: t
y = torch.empty_like(x)
launch(x, y)
return y
"""),
    "sandbox.forbidden_import": candidate("return x", prelude="import os"),
    "sandbox.dynamic_code": candidate("return eval('torch.relu')(x)"),
    "sandbox.file_access": candidate("open('/tmp/answer.pt')\nreturn x"),
    "sandbox.env_access": candidate("torch.environ = 1\nreturn x").replace(
        "torch.environ = 1", "e = torch.environ"
    ),
    "memo.pointer_cache": candidate("""
key = x.data_ptr()
y = torch.empty_like(x)
launch(x, y)
return y
"""),
    "launch.foreign_kernel": candidate("return torch.compile(torch.relu)(x)"),
}

# ---- dynamic rules (static checks pass) ----
NOT_LAUNCHED = candidate("""
y = torch.empty_like(x)
if x.numel() < 0:
    launch(x, y)
return x.clamp(min=0)
""")
STRICT_TORCH_COMPUTE = candidate("""
y = torch.empty_like(x)
launch(x, y)
return y + torch.zeros_like(y).sigmoid() * 0
""")
ALIASES_INPUT = candidate("""
launch(x, x)
return x
""")
REUSED_BUFFER = candidate("""
if not hasattr(self, "buf"):
    self.buf = torch.empty_like(x)
launch(x, self.buf)
return self.buf
""")
# A cache keyed on the input object (static pointer rule evaded): wrong when the same tensor is refilled.
STALE_RESULT = candidate("""
cache = self.__dict__.setdefault("cache", {})
for k, (inp, out) in cache.items():
    if inp is x:
        scratch = torch.empty_like(x)
        launch(x, scratch)  # launch something, so only the stale answer gives it away
        return out.clone()
y = torch.empty_like(x)
launch(x, y)
cache[len(cache)] = (x, y)
return y.clone()
""").replace('self.__dict__.setdefault("cache", {})', "self.cache_store")
STALE_RESULT = STALE_RESULT.replace(
    "class ModelNew(nn.Module):\n",
    "class ModelNew(nn.Module):\n"
    "    def __init__(self):\n        super().__init__()\n"
    "        self.cache_store = {}\n\n",
)
INPUT_INSENSITIVE = candidate("""
if not hasattr(self, "first"):
    y = torch.empty_like(x)
    launch(x, y)
    self.first = y
y = torch.empty_like(x)
launch(self.first, y)
return y
""")

# ---- faults (need some static rules disabled; see FAULT_RULES_OFF) ----
FAULT_RULES_OFF = ("sandbox.forbidden_import", "sandbox.dynamic_code", "sandbox.file_access")
SEGFAULT_INTERPRETED = HONEST.replace("tl.load(x_ptr + offs,", "tl.load(x_ptr + offs + 1099511627776,")
SEGFAULT_CTYPES = candidate(
    """
ctypes.string_at(0)
return x
""",
    prelude="import ctypes",
)
OS_EXIT = candidate(
    """
os._exit(3)
""",
    prelude="import os",
)
FORK = candidate(
    """
os.fork()
y = torch.empty_like(x)
launch(x, y)
return y
""",
    prelude="import os",
)
HUGE_ALLOC = candidate("""
big = torch.empty(1 << 40, dtype=torch.float32)
return big[: x.numel()].view_as(x)
""")
HUGE_PRINT = candidate("""
line = "x" * (1 << 20)
for _ in range(1 << 14):
    print(line)
y = torch.empty_like(x)
launch(x, y)
return y
""")
INFINITE_LOOP = candidate("""
while True:
    pass
""")

# ---- faults that only a GPU can produce ----
GPU_HUGE_ALLOC = candidate("""
big = torch.empty(1 << 40, dtype=torch.float32, device=x.device)
return big[: x.numel()].view_as(x)
""")
# A Triton kernel that never returns: the GPU spins until the worker is killed, which must free the GPU.
GPU_HANG = (
    HEADER
    + '''

@triton.jit
def spin_kernel(x_ptr, n):
    i = tl.load(x_ptr) * 0.0
    while i < 1.0:
        i = i * 0.5
    tl.store(x_ptr, i)


class ModelNew(nn.Module):
    def forward(self, x):
        y = x.contiguous().clone()
        spin_kernel[(1,)](y, y.numel())
        launch(x, y)
        return y
'''
)
