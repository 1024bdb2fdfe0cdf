"""Anti-cheat rules: one table of named rules, each with a rationale, and the static (AST) checks.

The dynamic half of each `kind="dynamic"` rule runs in the worker (verify/sandbox.py, verify/worker.py)
or in the parent's comparison (verify/compare.py); this file is the single list of rule ids.
Covered / Not covered: see docs/VERIFIER.md (static analysis is best effort against a determined
adversary; every static rule that matters has a dynamic twin).
"""

from __future__ import annotations

import ast
import threading
from dataclasses import dataclass

from drtriton.verify.verdict import Status


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    kind: str  # static | dynamic
    status: Status
    rationale: str


def _r(rule_id: str, kind: str, rationale: str, status: Status = Status.CHEAT_DETECTED) -> Rule:
    return Rule(rule_id, kind, status, rationale)


# ---- the table ----
_TABLE = [
    _r(
        "launch.no_triton_kernel",
        "static",
        "A solution with no @triton.jit kernel is not a Triton solution, whatever it computes.",
    ),
    _r(
        "launch.kernel_not_launched",
        "dynamic",
        "A kernel that is defined but never launched proves nothing; every forward call must launch one.",
    ),
    _r(
        "launch.foreign_kernel",
        "static",
        "CUDA/C++ extensions, torch.compile/inductor or TorchScript produce kernels we did not ask for.",
    ),
    _r(
        "fallback.calls_reference",
        "static",
        "Calling or inheriting the reference Model returns the reference's own result.",
    ),
    _r("fallback.try_except", "static", "try/except lets a failing kernel fall back silently to PyTorch."),
    _r(
        "fallback.host_compute",
        "static",
        "numpy / .numpy() / .tolist() computes the answer on the host, outside both Triton and the op log.",
    ),
    _r(
        "policy.torch_compute",
        "dynamic",
        "Under strict/mixed, torch compute ops in ModelNew.forward do the work the kernel claims to do.",
    ),
    _r(
        "policy.triton_share",
        "dynamic",
        "Under hybrid, a token Triton kernel beside PyTorch doing the real work is not a Triton solution.",
    ),
    _r(
        "timing.stream_injection",
        "static",
        "Side streams and CUDA graphs move work outside the timed region of the default stream.",
    ),
    _r(
        "timing.concurrency",
        "static",
        "Threads and processes run work outside the timed call or race the checker.",
    ),
    _r(
        "timing.clock_access",
        "static",
        "Reading or faking clocks (time, cuda events, sleep) lets a candidate shape its own timing.",
    ),
    _r(
        "patch.monkey_patch",
        "static",
        "Assigning attributes of torch/triton/F modules changes what the reference or the checker runs.",
    ),
    _r(
        "sandbox.forbidden_import",
        "static",
        "os/sys/subprocess/ctypes/socket/gc/inspect/importlib/drtriton/unittest... reach outside the kernel's job.",
    ),
    _r(
        "sandbox.dynamic_code",
        "static",
        "exec/eval/__import__/getattr-with-computed-names/dunder escapes hide any other violation.",
    ),
    _r(
        "sandbox.file_access",
        "static",
        "Reading files (cached answers, the reference) or writing them is never part of a kernel.",
    ),
    _r(
        "sandbox.env_access",
        "static",
        "Environment variables change Triton/torch behaviour for the checker (e.g. TRITON_INTERPRET).",
    ),
    _r(
        "sandbox.runtime_event",
        "dynamic",
        "An audited event (fork, subprocess, ctypes, socket, file write, env change) from candidate code.",
    ),
    _r(
        "memo.pointer_cache",
        "static",
        "Caches keyed on data_ptr()/id() return stale results when memory is reused.",
    ),
    _r(
        "memo.stale_result",
        "dynamic",
        "Same tensor objects refilled with new values (and calls re-ordered) must give the new answer.",
    ),
    _r(
        "memo.input_insensitive",
        "dynamic",
        "Outputs identical across inputs whose references differ: a memoised or constant answer.",
    ),
    _r(
        "output.aliases_input",
        "dynamic",
        "An output sharing storage with an input is the input (or a view of it), not a computed result.",
    ),
    _r(
        "output.reused_buffer",
        "dynamic",
        "An output whose storage is a still-alive previous output is a cached buffer, not a fresh result.",
    ),
    _r(
        "output.tensor_subclass",
        "dynamic",
        "Tensor subclasses can defer or fake the computation when compared; outputs must be plain Tensors.",
    ),
]
RULES: dict[str, Rule] = {rule.id: rule for rule in _TABLE}


@dataclass(frozen=True, slots=True)
class Finding:
    rule: str
    reason: str  # one line naming what was seen and where


# ---- banned names ----
_IMPORT_RULES = {
    # module prefix -> rule id
    "threading": "timing.concurrency",
    "_thread": "timing.concurrency",
    "multiprocessing": "timing.concurrency",
    "concurrent": "timing.concurrency",
    "asyncio": "timing.concurrency",
    "torch.multiprocessing": "timing.concurrency",
    "time": "timing.clock_access",
    "timeit": "timing.clock_access",
    "numpy": "fallback.host_compute",
    "torch.utils.cpp_extension": "launch.foreign_kernel",
    "torch._inductor": "launch.foreign_kernel",
    "torch._dynamo": "launch.foreign_kernel",
    "cupy": "launch.foreign_kernel",
    "numba": "launch.foreign_kernel",
    "torch.library": "launch.foreign_kernel",
}
_FORBIDDEN_MODULES = {
    "os",
    "sys",
    "subprocess",
    "ctypes",
    "cffi",
    "socket",
    "gc",
    "inspect",
    "importlib",
    "builtins",
    "signal",
    "shutil",
    "pathlib",
    "io",
    "pickle",
    "marshal",
    "tempfile",
    "urllib",
    "http",
    "requests",
    "resource",
    "pty",
    "mmap",
    "fcntl",
    "code",
    "codeop",
    "runpy",
    "sysconfig",
    "site",
    "weakref",
    "traceback",
    "linecache",
    "atexit",
    "faulthandler",
    "psutil",
    "dill",
    "cloudpickle",
    "shelve",
    "sqlite3",
    "glob",
    "fnmatch",
    "zipimport",
    "pkgutil",
    "types",
    "ast",
    "dis",
    # the verifier's own code (its timing and comparison functions), the test tools that patch anything by
    # name (unittest.mock.patch), and the worker's main module
    "drtriton",
    "unittest",
    "pytest",
    "_pytest",
    "__main__",
}
_ATTR_RULES = {
    # fully resolved dotted name (prefix) -> rule id
    "torch.cuda.Stream": "timing.stream_injection",
    "torch.cuda.stream": "timing.stream_injection",
    "torch.cuda.ExternalStream": "timing.stream_injection",
    "torch.cuda.set_stream": "timing.stream_injection",
    "torch.cuda.graph": "timing.stream_injection",
    "torch.cuda.graphs": "timing.stream_injection",
    "torch.cuda.CUDAGraph": "timing.stream_injection",
    "torch.cuda.make_graphed_callables": "timing.stream_injection",
    "torch.Stream": "timing.stream_injection",
    "torch.cuda.streams": "timing.stream_injection",
    "torch.cuda.Event": "timing.clock_access",
    "torch.cuda._sleep": "timing.clock_access",
    "torch.cuda.Event.elapsed_time": "timing.clock_access",
    "torch.compile": "launch.foreign_kernel",
    "torch.jit": "launch.foreign_kernel",
    "torch.utils.cpp_extension": "launch.foreign_kernel",
    "torch.ops.load_library": "launch.foreign_kernel",
    "torch._inductor": "launch.foreign_kernel",
    "torch._dynamo": "launch.foreign_kernel",
    "torch.library": "launch.foreign_kernel",
    "torch.futures": "timing.concurrency",
    "torch.multiprocessing": "timing.concurrency",
    "torch.load": "sandbox.file_access",
    "torch.save": "sandbox.file_access",
    "torch.from_file": "sandbox.file_access",
    "torch.hub": "sandbox.file_access",
    "numpy": "fallback.host_compute",
    # torch._C reaches torch compute beneath the dispatcher (e.g. _DisableTorchDispatch switches the
    # verifier's op log and output poisoning off), so private internals count as unaccounted torch compute.
    "torch._C": "policy.torch_compute",
}
_BANNED_CALLS = {
    "exec": "sandbox.dynamic_code",
    "eval": "sandbox.dynamic_code",
    "compile": "sandbox.dynamic_code",
    "__import__": "sandbox.dynamic_code",
    "globals": "sandbox.dynamic_code",
    "vars": "sandbox.dynamic_code",
    "locals": "sandbox.dynamic_code",
    "breakpoint": "sandbox.dynamic_code",
    "setattr": "sandbox.dynamic_code",
    "delattr": "sandbox.dynamic_code",
    "open": "sandbox.file_access",
    "input": "sandbox.file_access",
    "id": "memo.pointer_cache",
    "hash": "memo.pointer_cache",
}
# .item() in a loop computes the answer on the host one scalar at a time, like .tolist().
_HOST_METHODS = {
    "numpy": "fallback.host_compute",
    "tolist": "fallback.host_compute",
    "item": "fallback.host_compute",
}
_POINTER_METHODS = {"data_ptr", "untyped_storage", "storage", "_cdata", "_storage"}
_ENV_NAMES = {"environ", "getenv", "putenv", "unsetenv", "environb"}
_ALLOWED_DUNDERS = {"__init__", "__name__", "__doc__", "__len__", "__call__", "__future__"}
_PATCHABLE_ROOTS = {"torch", "triton", "time", "numpy", "math", "builtins"}


# CPython 3.11 builds AST objects with a per-interpreter recursion counter that concurrent parses corrupt
# ("SystemError: AST constructor recursion depth mismatch"): VerifierPool.verify_many parses candidates
# from several threads, so parses take turns.
_PARSE_LOCK = threading.Lock()


def parse_candidate(source: str) -> tuple[ast.Module | None, str]:
    """Returns (tree, "") or (None, one-line reason) for a file that is not valid Python."""
    try:
        with _PARSE_LOCK:
            return ast.parse(source), ""
    except SyntaxError as exc:
        return None, f"candidate is not valid Python: {exc.msg} at line {exc.lineno}"
    except ValueError as exc:  # null bytes
        return None, f"candidate is not valid Python: {exc}"


def has_model_new(tree: ast.Module) -> bool:
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == "ModelNew":
            return True
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "ModelNew" for t in node.targets
        ):
            return True
    return False


class _Checker(ast.NodeVisitor):
    def __init__(self) -> None:
        self.aliases: dict[str, str] = {}  # local name -> dotted module/object path
        self.findings: list[Finding] = []
        self.jit_kernels: list[str] = []

    def _add(self, rule: str, node: ast.AST, what: str) -> None:
        self.findings.append(Finding(rule, f"{what} (line {getattr(node, 'lineno', '?')})"))

    def resolve(self, node: ast.AST) -> str | None:
        """Dotted name of a Name/Attribute chain with import aliases expanded, e.g. torch.cuda.Stream."""
        parts = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if isinstance(node, ast.Call):  # torch.cuda.Stream().wait_stream: resolve the callee
            return self.resolve(node.func)
        if not isinstance(node, ast.Name):
            return None
        root = self.aliases.get(node.id, node.id)
        return ".".join([root, *reversed(parts)])

    def _check_module(self, module: str, node: ast.AST) -> None:
        top = module.split(".")[0]
        for prefix, rule in _IMPORT_RULES.items():
            if module == prefix or module.startswith(prefix + "."):
                return self._add(rule, node, f"imports {module}")
        if top in _FORBIDDEN_MODULES:
            self._add("sandbox.forbidden_import", node, f"imports {module}")

    def _check_dotted(self, dotted: str, node: ast.AST) -> None:
        for prefix, rule in _ATTR_RULES.items():
            if dotted == prefix or dotted.startswith(prefix + "."):
                return self._add(rule, node, f"uses {dotted}")

    # ---- visitors ----
    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._check_module(alias.name, node)
            local = alias.asname or alias.name.split(".")[0]
            self.aliases[local] = alias.name if alias.asname else alias.name.split(".")[0]

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        if node.level:
            self._add("sandbox.forbidden_import", node, f"relative import from {'.' * node.level}{module}")
        self._check_module(module, node)
        for alias in node.names:
            full = f"{module}.{alias.name}"
            self._check_module(full, node)
            self._check_dotted(full, node)
            if alias.name == "Model":
                self._add("fallback.calls_reference", node, f"imports Model from {module}")
            self.aliases[alias.asname or alias.name] = full

    def visit_Name(self, node: ast.Name) -> None:
        if node.id == "Model":
            self._add("fallback.calls_reference", node, "refers to the reference class Model")
        elif node.id in {"__builtins__", "__loader__", "__spec__"}:
            self._add("sandbox.dynamic_code", node, f"uses {node.id}")
        self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if node.attr.startswith("__") and node.attr.endswith("__") and node.attr not in _ALLOWED_DUNDERS:
            self._add("sandbox.dynamic_code", node, f"uses dunder attribute .{node.attr}")
        elif node.attr == "Model":
            self._add("fallback.calls_reference", node, "refers to .Model")
        elif node.attr in _ENV_NAMES:
            self._add("sandbox.env_access", node, f"uses .{node.attr}")
        dotted = self.resolve(node)
        if dotted:
            self._check_dotted(dotted, node)
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Name) and func.id in _BANNED_CALLS:
            self._add(_BANNED_CALLS[func.id], node, f"calls {func.id}()")
        if isinstance(func, ast.Name) and func.id == "getattr" and len(node.args) >= 2:
            if not isinstance(node.args[1], ast.Constant):
                self._add("sandbox.dynamic_code", node, "calls getattr() with a computed attribute name")
        if isinstance(func, ast.Attribute):
            if func.attr in _HOST_METHODS:
                self._add(_HOST_METHODS[func.attr], node, f"calls .{func.attr}()")
            if func.attr in _POINTER_METHODS:
                self._add("memo.pointer_cache", node, f"calls .{func.attr}() (pointer identity)")
        self.generic_visit(node)

    def visit_Try(self, node: ast.Try) -> None:
        if node.handlers:
            self._add("fallback.try_except", node, "uses try/except")
        self.generic_visit(node)

    visit_TryStar = visit_Try

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for base in node.bases:
            if self.resolve(base) in {"Model"}:
                self._add("fallback.calls_reference", node, f"class {node.name} inherits from Model")
        self._check_decorators(node)
        self.generic_visit(node)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._check_decorators(node)
        self.generic_visit(node)

    visit_AsyncFunctionDef = visit_FunctionDef

    def _check_decorators(self, node: ast.FunctionDef | ast.ClassDef) -> None:
        for deco in node.decorator_list:
            target = deco.func if isinstance(deco, ast.Call) else deco
            if self.resolve(target) in {"triton.jit", "triton.runtime.jit.jit", "triton.runtime.jit"}:
                self.jit_kernels.append(node.name)

    def _check_store(self, target: ast.AST, node: ast.AST) -> None:
        if isinstance(target, (ast.Tuple, ast.List, ast.Starred)):
            for elt in getattr(target, "elts", [getattr(target, "value", None)]):
                self._check_store(elt, node)
            return
        if not isinstance(target, (ast.Attribute, ast.Subscript)):
            return
        root = target
        while isinstance(root, (ast.Attribute, ast.Subscript)):
            root = root.value
        # Only names bound by an import are modules; `self.x = ...` and locals are fine.
        if isinstance(root, ast.Name) and root.id in self.aliases:
            if self.aliases[root.id].split(".")[0] in _PATCHABLE_ROOTS:
                self._add("patch.monkey_patch", node, f"assigns {self.resolve(target) or root.id}")

    def visit_Assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            self._check_store(target, node)
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self._check_store(node.target, node)
        self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self._check_store(node.target, node)
        self.generic_visit(node)

    def visit_Delete(self, node: ast.Delete) -> None:
        for target in node.targets:
            self._check_store(target, node)
        self.generic_visit(node)


def check_static(tree: ast.Module, disabled: tuple[str, ...] = ()) -> list[Finding]:
    """All static findings for a parsed candidate, in source order, minus disabled rules."""
    checker = _Checker()
    checker.visit(tree)
    findings = list(checker.findings)
    if not checker.jit_kernels:
        findings.append(Finding("launch.no_triton_kernel", "defines no @triton.jit kernel"))
    return [f for f in findings if f.rule not in disabled]
