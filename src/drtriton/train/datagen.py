"""Budgeted, parallel task drawing for one-command training runs: held-out sets, SFT pairs (program ->
code-generator ModelNew, checked against the reference) and RL prompts, drawn by a process pool.

    jobs = [Job("heldout", 1, seed) for seed in ...] + [Job("sft", 2, seed, solve=True), ...]
    done = draw_parallel(jobs, scale="realistic", workers=14, deadline=time.time() + 60)

Each job is one synthesizer draw (level, seed), so results equal the serial `SynthSource.draw` ones; a
job that has not finished by the deadline is dropped (counted by the caller). A solved job carries the
code generator's ModelNew with comment-only lines removed (shorter answers, same code), and
`check`: the answer run in-process against the problem's Model on `seeds` at 1e-4 (our own generator's
output: no sandbox needed; model answers always go through the sandboxed verifier).
"""

from __future__ import annotations

import ast
import importlib.util
import io
import itertools
import math
import os
import re
import tempfile
import time
import tokenize
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

CHECK_SEEDS = (0, 1)  # two input draws: one lucky draw must not pass a wrong reference
CHECK_TOL = 1e-4  # the verifier's default fp32 tolerance


@dataclass(frozen=True)
class Job:
    kind: str  # what the caller uses it for: heldout | sft | rl
    level: int
    seed: int
    solve: bool = False  # also run the code generator on the program
    check: bool = True  # solve: also run its answer in-process against the program's Model
    canonical: bool = False  # solve + check: the answer rewritten by `canonical_solution` (kept if it passes)


@dataclass
class Drawn:
    job: Job
    task: dict | None = None  # hash, program, level
    solution: str | None = None  # compact ModelNew when solve and the code generator compiled it
    check: str | None = None  # None: passed; else why the solution failed the in-process check
    error: str | None = None  # the draw itself failed
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)


def compact_solution(code: str) -> str:
    """Drops comment-only lines and runs of blank lines (tokenize-exact: never inside strings)."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(code).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return code
    lines = code.splitlines()
    drop = set()
    for tok in tokens:
        if tok.type == tokenize.COMMENT and lines[tok.start[0] - 1].strip().startswith("#"):
            drop.add(tok.start[0] - 1)
    out: list[str] = []
    for i, line in enumerate(lines):
        if i in drop or (not line.strip() and (not out or not out[-1].strip())):
            continue
        out.append(line)
    text = "\n".join(out).strip("\n") + "\n"
    try:
        compile(text, "<compact>", "exec")
    except SyntaxError:
        return code
    return text


def direct_launches(code: str) -> str:
    """The code generator's answer with every `_Launcher` launch site written as a plain Triton launch.

    Since e97307f the code generator emits a 30-line `_Launcher` class (host-side fast relaunch) and one
    module-level `kX_launch = _Launcher(kX, grid=..., constexprs=dict(...), num_warps=.., num_stages=..)` per
    kernel, called as `kX_launch(v0, v1)` in forward. For an SFT target that is boilerplate to copy and a
    launch whose sizes sit far from the tensors they size; this rewrites each call to
    `kX[grid](v0, v1, N=..., BLOCK=..., num_warps=.., num_stages=..)` (what the generator emitted before,
    and what canonical_solution rewrites) and drops the class, `_specialization` and the launch sites.
    Returns `code` unchanged when it has no launcher or has one in a form this does not know.
    """
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return code
    sites: dict[str, str] = {}  # launch-site name -> "kernel[grid](" prefix + "{args}" + keyword suffix
    drop: list[tuple[int, int]] = []  # line ranges (1-based, inclusive)
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == "_Launcher":
            drop.append((node.lineno - len(node.decorator_list), node.end_lineno))
        elif isinstance(node, ast.FunctionDef) and node.name == "_specialization":
            drop.append((node.lineno, node.end_lineno))
        elif (isinstance(node, ast.Assign) and isinstance(node.value, ast.Call)
              and isinstance(node.value.func, ast.Name) and node.value.func.id == "_Launcher"):
            call = node.value
            kw = {k.arg: k.value for k in call.keywords}
            consts = kw.get("constexprs")
            if (len(node.targets) != 1 or not isinstance(node.targets[0], ast.Name) or len(call.args) != 1
                    or "grid" not in kw or not isinstance(consts, ast.Call) or consts.args):
                return code
            seg = lambda n: ast.get_source_segment(code, n)
            extra = [f"{k.arg}={seg(k.value)}" for k in consts.keywords]
            extra += [f"{name}={seg(kw[name])}" for name in ("num_warps", "num_stages") if name in kw]
            grid = _grid_as_cdiv(kw["grid"], consts.keywords) or seg(kw["grid"])
            sites[node.targets[0].id] = f"{seg(call.args[0])}[{grid}]({{args}}{', ' if extra else ''}" \
                                        + ", ".join(extra) + ")"
            drop.append((node.lineno, node.end_lineno))
    if not sites:
        return code
    edits = []  # (line, col, end_col, text): the calls of launch sites, each on one line
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in sites:
            if node.lineno != node.end_lineno or node.keywords:
                return code
            args = ", ".join(ast.get_source_segment(code, a) for a in node.args)
            edits.append((node.lineno, node.col_offset, node.end_col_offset, sites[node.func.id].replace("{args}", args, 1)))
    lines = code.splitlines(keepends=True)
    for line, col, end, text in sorted(edits, reverse=True):
        row = lines[line - 1].encode()
        lines[line - 1] = (row[:col] + text.encode() + row[end:]).decode()
    gone = {i for a, b in drop for i in range(a - 1, b)}
    out = compact_solution("".join(x for i, x in enumerate(lines) if i not in gone))
    try:
        left = ast.parse(out)
    except SyntaxError:
        return code
    if any(isinstance(n, ast.Name) and (n.id in sites or n.id in ("_Launcher", "_specialization"))
           for n in ast.walk(left)):
        return code
    return out


def _grid_as_cdiv(grid, constexprs: list) -> str | None:
    """A literal launch grid such as (2048,) written as the code generator wrote it before e97307f,
    `(triton.cdiv(2097152, 1024),)`: each count that equals cdiv(X, BLOCK_X) of the launch's own constexprs
    (N, C, M first) names them, so a model copies sizes it can read instead of dividing. None: not a tuple of
    int literals."""
    if not isinstance(grid, ast.Tuple) or not all(isinstance(e, ast.Constant) and type(e.value) is int
                                                  for e in grid.elts):
        return None
    vals = {k.arg: k.value.value for k in constexprs
            if k.arg and isinstance(k.value, ast.Constant) and type(k.value.value) is int}
    names = sorted((n for n in vals if not n.startswith("BLOCK")), key=lambda n: (n not in ("N", "C", "M"), n != "N"))
    used: set[str] = set()
    parts = []
    for el in grid.elts:
        text = str(el.value)
        for name in names:
            block = f"BLOCK_{name}" if f"BLOCK_{name}" in vals else "BLOCK" if name == "N" else None
            if name in used or block not in vals or vals[block] < 1:
                continue
            if -(-vals[name] // vals[block]) == el.value:
                text = f"triton.cdiv({vals[name]}, {vals[block]})"
                used.add(name)
                break
        parts.append(text)
    return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"


SIZE_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")
_SHAPE_CALLS = {"empty", "zeros", "ones", "full"}
_KEEP_KEYWORDS = ("BLOCK", "num_warps", "num_stages")


def size_constants(program: str) -> dict[str, int]:
    """The program's module-level `NAME = <int>` size constants (upper-case names), in declaration order."""
    try:
        tree = ast.parse(program)
    except SyntaxError:
        return {}
    out: dict[str, int] = {}
    for node in tree.body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
                and SIZE_NAME.match(node.targets[0].id) and isinstance(node.value, ast.Constant)
                and type(node.value.value) is int):
            out[node.targets[0].id] = node.value.value
    return out


def _products(sizes: dict[str, int]) -> dict[int, list[tuple[str, ...]]]:
    """value -> every product of distinct size names giving it (fewest factors first, then declaration order)."""
    names = [n for n, v in sizes.items() if v >= 2]
    out: dict[int, list[tuple[str, ...]]] = {}
    for k in range(1, len(names) + 1):
        for combo in itertools.combinations(names, k):
            out.setdefault(math.prod(sizes[n] for n in combo), []).append(combo)
    return out


def canonical_solution(program: str, code: str) -> str:
    """The SFT target a small model can generalise from: the same kernels, with
    - every `@triton.jit` kernel renamed k0, k1, ... in definition order (the launch must repeat the name:
      a long descriptive name is one more thing to copy wrong), and
    - in class ModelNew, every integer that sizes an output (`torch.empty((16, 32, 64))`), a grid
      (`triton.cdiv(2097152, BLOCK)`'s first argument) or a kernel's non-tuning argument (`N=2097152`)
      written as a product of the program's size constants when one matches (`BATCH * CHANNELS * LENGTH`),
      so the answer names shapes the prompt states instead of multiplying them out; a grid or kernel
      argument no product matches but that equals the element count of a tensor ModelNew allocated
      earlier becomes `v2.numel()`. Block sizes, num_warps/num_stages and other numbers stay literal.
    Text edits at AST positions only (formatting and kernel bodies unchanged); the result is returned only
    when it still parses, else `code` unchanged. Callers check it against the program like any answer.
    """
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return code
    sizes = {n: v for n, v in size_constants(program).items() if n in size_constants(code)
             and size_constants(code)[n] == v}
    products = _products(sizes)
    kernels = [n.name for n in tree.body if isinstance(n, ast.FunctionDef) and any(
        (isinstance(d, ast.Attribute) and d.attr == "jit") or (isinstance(d, ast.Call) and isinstance(
            d.func, ast.Attribute) and d.func.attr == "jit") for d in n.decorator_list)]
    idents = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} | {
        n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    rename = {}
    for i, name in enumerate(kernels):
        if name != f"k{i}" and f"k{i}" not in idents:
            rename[name] = f"k{i}"
    edits: list[tuple[int, int, int, str]] = []  # (line, col, end_col, text): constants only
    model_new = next((n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "ModelNew"), None)

    order = list(sizes)
    numel: dict[int, str] = {}  # element count -> the first tensor ModelNew allocated with that literal shape

    def name_for(value: int, after: list[int] | None = None) -> str | None:
        """A product of size names equal to `value` (None: keep the literal). In a shape tuple (`after`
        holds the last name index used in it) a tie between single names goes to the next name in
        declaration order: (16, 64, 64) with HEIGHT = WIDTH = 64 reads BATCH, HEIGHT, WIDTH."""
        combos = products.get(value) if value >= 4 else None
        if not combos:
            return numel.get(value) if after is None and value >= 4 else None
        if after is not None and len(combos[0]) == 1:
            singles = [c[0] for c in combos if len(c) == 1]
            pick = next((n for n in singles if order.index(n) > after[0]), singles[0])
            after[0] = order.index(pick)
            return pick
        return " * ".join(combos[0])

    def edit(node, text: str | None) -> None:
        if text is not None and node.lineno == node.end_lineno:
            edits.append((node.lineno, node.col_offset, node.end_col_offset, text))

    assigned = {id(n.value): n.targets[0].id for n in (ast.walk(model_new) if model_new is not None else ())
                if isinstance(n, ast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], ast.Name)}

    def is_int(node) -> bool:
        return isinstance(node, ast.Constant) and type(node.value) is int

    calls = sorted((n for n in ast.walk(model_new) if isinstance(n, ast.Call)) if model_new is not None else (),
                   key=lambda n: (n.lineno, n.col_offset))  # source order: allocations before launches
    for node in calls:
        func = node.func
        attr = func.attr if isinstance(func, ast.Attribute) else None
        if attr in _SHAPE_CALLS and node.args:
            shape = node.args[0]
            items = shape.elts if isinstance(shape, ast.Tuple) else list(node.args)
            after = [-1]
            for el in items:
                if is_int(el):
                    edit(el, name_for(el.value, after))
            target = assigned.get(id(node))
            if target and all(is_int(el) for el in items):
                numel.setdefault(math.prod(el.value for el in items), f"{target}.numel()")
        elif attr == "cdiv" and node.args and is_int(node.args[0]):
            edit(node.args[0], name_for(node.args[0].value))
        elif isinstance(func, ast.Subscript) and isinstance(func.value, ast.Name) and func.value.id in kernels:
            for kw in node.keywords:
                if kw.arg and not kw.arg.startswith(_KEEP_KEYWORDS) and is_int(kw.value):
                    edit(kw.value, name_for(kw.value.value))
    lines = code.splitlines(keepends=True)
    for line, col, end, text in sorted(edits, reverse=True):
        row = lines[line - 1].encode()  # AST offsets are UTF-8 byte offsets
        lines[line - 1] = (row[:col] + text.encode() + row[end:]).decode()
    out = "".join(lines)
    for old, new in rename.items():
        out = re.sub(rf"\b{re.escape(old)}\b", new, out)
    try:
        compile(out, "<canonical>", "exec")
    except SyntaxError:
        return code
    return out


def _input_shapes(program: str) -> list[tuple[int, ...] | None]:
    """Per get_inputs() element: its shape when it is a float32 `torch.randn/rand(dims...)` of size names
    and integers, else None."""
    sizes = size_constants(program)
    try:
        tree = ast.parse(program)
    except SyntaxError:
        return []
    fn = next((n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "get_inputs"), None)
    ret = next((n for n in ast.walk(fn) if isinstance(n, ast.Return)), None) if fn is not None else None
    if ret is None or not isinstance(ret.value, (ast.List, ast.Tuple)):
        return []
    out: list[tuple[int, ...] | None] = []
    for el in ret.value.elts:
        shape = None
        if (isinstance(el, ast.Call) and isinstance(el.func, ast.Attribute) and el.func.attr in ("randn", "rand")
                and not el.keywords and el.args):
            dims = [sizes.get(a.id) if isinstance(a, ast.Name) else a.value if isinstance(a, ast.Constant)
                    and type(a.value) is int else None for a in el.args]
            shape = tuple(dims) if all(d is not None for d in dims) else None
        out.append(shape)
    return out


def shape_free(program: str, code: str) -> str:
    """A canonical target with what it can say without sizes said so: an output allocated with an input's
    shape becomes `torch.empty_like(v0)` (or `v0.new_empty(v1.shape)`), a grid or kernel size equal to an input's element count becomes
    `v0.numel()`, and size constants nothing uses any more are dropped. An elementwise answer then depends
    on its operators only, not on the program's shapes. Returns `code` unchanged when nothing applies or the
    result does not parse; callers check it like any answer."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return code
    shapes = _input_shapes(program)
    model_new = next((n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "ModelNew"), None)
    forward = next((n for n in (model_new.body if model_new else []) if isinstance(n, ast.FunctionDef)
                    and n.name == "forward"), None)
    if forward is None or len(forward.args.args) - 1 != len(shapes) or not any(shapes):
        return code
    params = [a.arg for a in forward.args.args[1:]]
    env = {n: v for n, v in size_constants(code).items() if size_constants(program).get(n) == v}

    def value(node) -> int | None:
        if isinstance(node, ast.Constant) and type(node.value) is int:
            return node.value
        if isinstance(node, ast.Name):
            return env.get(node.id)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
            a, b = value(node.left), value(node.right)
            return None if a is None or b is None else a * b
        return None

    def input_with(pred) -> str | None:
        return next((params[j] for j, sh in enumerate(shapes) if sh is not None and pred(sh)), None)

    def input_shaped(sizes: ast.Tuple) -> str | None:  # the input whose shape these literal sizes spell
        dims = tuple(value(e) for e in sizes.elts)
        return input_with(lambda sh: sh == dims) if dims and None not in dims else None

    edits: list[tuple[int, int, int, str]] = []

    def edit(node, text: str | None) -> None:
        if text is not None and node.lineno == node.end_lineno:
            edits.append((node.lineno, node.col_offset, node.end_col_offset, text))

    def numel_of(node) -> str | None:
        v = value(node)
        name = None if v is None or v < 2 else input_with(lambda sh: math.prod(sh) == v)
        return f"{name}.numel()" if name else None

    for node in ast.walk(forward):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        attr = func.attr if isinstance(func, ast.Attribute) else None
        if attr == "empty" and len(node.args) == 1 and isinstance(node.args[0], ast.Tuple):
            dtype = next((k.value for k in node.keywords if k.arg == "dtype"), None)
            if dtype is not None and ast.get_source_segment(code, dtype) == "torch.float32":
                name = input_shaped(node.args[0])
                edit(node, f"torch.empty_like({name})" if name else None)
        elif (attr == "new_empty" and len(node.args) == 1 and isinstance(node.args[0], ast.Tuple)
              and isinstance(func.value, ast.Name) and func.value.id in params):
            # The generator allocates outputs with the first argument's new_empty (its dtype unless given).
            name = input_shaped(node.args[0])
            if name and name == func.value.id and not node.keywords:
                edit(node, f"torch.empty_like({name})")
            elif name:
                edit(node.args[0], f"{name}.shape")
        elif attr == "cdiv" and node.args:
            edit(node.args[0], numel_of(node.args[0]))
        elif isinstance(func, ast.Subscript):
            for kw in node.keywords:
                if kw.arg and not kw.arg.startswith(_KEEP_KEYWORDS):
                    edit(kw.value, numel_of(kw.value))
    if not edits:
        return code
    lines = code.splitlines(keepends=True)
    for line, col, end, text in sorted(edits, reverse=True):
        row = lines[line - 1].encode()
        lines[line - 1] = (row[:col] + text.encode() + row[end:]).decode()
    out = "".join(lines)
    try:
        new_tree = ast.parse(out)
    except SyntaxError:
        return code
    defs = {n.targets[0].id: n.lineno for n in new_tree.body if isinstance(n, ast.Assign) and len(n.targets) == 1
            and isinstance(n.targets[0], ast.Name) and n.targets[0].id in env}
    used = {n.id for n in ast.walk(new_tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    unused = {line for name, line in defs.items() if name not in used}
    out = compact_solution("".join(x for i, x in enumerate(out.splitlines(keepends=True)) if i + 1 not in unused))
    try:
        compile(out, "<shape_free>", "exec")
    except SyntaxError:
        return code
    return out


def _load_module(src: str, folder: str, name: str):
    # From a real file: Triton's @jit reads kernel source with inspect, which needs one.
    fd, path = tempfile.mkstemp(prefix=f"{name}_", suffix=".py", dir=folder)
    with os.fdopen(fd, "w") as fh:
        fh.write(src)
    spec = importlib.util.spec_from_file_location(Path(path).stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check_solution(program: str, solution: str, device: str, seeds=CHECK_SEEDS, tol: float = CHECK_TOL,
                   folder: str | None = None) -> str | None:
    """Runs ModelNew against Model (same init seed, fresh inputs per seed); None when every output matches,
    else why not."""
    status, reason = run_check(program, solution, device, seeds, tol, folder)
    return None if status == "correct" else reason


def run_check(program: str, solution: str, device: str, seeds=CHECK_SEEDS, tol: float = CHECK_TOL,
              folder: str | None = None) -> tuple[str, str]:
    """(status, reason): correct | compile_error (loading the module or compiling a Triton kernel failed) |
    runtime_error | incorrect (shape, dtype or values off on some seed), with the reason for the first."""
    import torch

    from drtriton.verify.compare import compare

    folder = folder or tempfile.mkdtemp(prefix="drt_datagen_")
    stage = "compile_error"
    try:
        prob = _load_module(program, folder, "problem")
        sol = _load_module(solution, folder, "solution")
        stage = "runtime_error"
        torch.manual_seed(42)
        model = prob.Model(*prob.get_init_inputs()).to(device).eval()
        torch.manual_seed(42)
        model_new = sol.ModelNew(*prob.get_init_inputs()).to(device).eval()
        for seed in seeds:
            torch.manual_seed(seed)
            inputs = [x.to(device) if isinstance(x, torch.Tensor) else x for x in prob.get_inputs()]
            with torch.no_grad():
                ref, out = model(*inputs), model_new(*inputs)
            ref = list(ref) if isinstance(ref, (tuple, list)) else [ref]
            out = list(out) if isinstance(out, (tuple, list)) else [out]
            if not all(isinstance(o, torch.Tensor) for o in out):
                return "incorrect", f"seed {seed}: ModelNew returned {type(out[0]).__name__}, not tensors"
            cmp = compare([r.detach().cpu() for r in ref], [o.detach().cpu() for o in out], tol, tol)
            if not cmp.ok:
                return "incorrect", f"seed {seed}: {cmp.reason}"
    except Exception as exc:  # noqa: BLE001 - the answer's failure is the result
        if "Compilation" in type(exc).__name__:  # triton.compiler.errors.CompilationError and kin
            stage = "compile_error"
        first = str(exc).splitlines()[0][:160] if str(exc) else ""
        return stage, f"{type(exc).__name__}: {first}"
    return "correct", ""


def static_rules(solution: str) -> str | None:
    """Why the verifier's parse and static anti-cheat rules reject `solution` (None: they pass). An SFT
    target must pass them: the code generator answers an identity op (eval-mode dropout) with
    `v0.clone()` and no kernel, which the verifier flags as `launch.no_triton_kernel`."""
    from drtriton.train.fastcheck import _static

    verdict = _static(solution)
    return None if verdict is None else f"static rule {verdict.status}: {verdict.reason}"[:200]


# ---- worker process side ----
_STATE: dict = {}


def _init_worker(device: str, interpret: bool) -> None:
    if interpret:
        os.environ["TRITON_INTERPRET"] = "1"  # before triton is imported: @jit reads it
    import torch

    torch.set_num_threads(1)  # one core per worker: the pool is the parallelism
    _STATE.update(device=device, folder=tempfile.mkdtemp(prefix="drt_datagen_"))


def _run_job(job: Job, scale: str | None) -> Drawn:
    from drtriton.train.data import SynthSource, reference_solution

    t0 = time.perf_counter()
    out = Drawn(job)
    try:
        source = _STATE.setdefault(("source", scale), SynthSource(scale))
        task = source.draw(job.level, job.seed)
        out.task = {"hash": task["hash"], "program": task["program"], "level": job.level}
        if job.solve:
            sol = reference_solution(task["program"])
            if sol is None:
                out.check = "the code generator could not compile the program"
            else:
                out.solution = compact_solution(sol)
                device, folder = _STATE.get("device", "cpu"), _STATE.get("folder")
                # SFT targets: plain launches, canonical names and sizes, then shape-free where it applies;
                # the first form that passes the check is kept (the code generator's own answer last)
                forms = [out.solution]
                if job.canonical:
                    direct = direct_launches(out.solution)
                    canon = canonical_solution(task["program"], direct)
                    free = shape_free(task["program"], canon)
                    forms = list(dict.fromkeys([free, canon, direct, out.solution]))
                if job.check:
                    for form in forms:
                        out.check = check_solution(task["program"], form, device, folder=folder)
                        if out.check is None:
                            out.solution = form
                            break
                    if len(forms) > 1:
                        out.extra["canonical"] = out.check is None and out.solution in (free, canon)
                        out.extra["shape_free"] = out.check is None and out.solution == free != canon
                        out.extra["direct"] = out.check is None and "_Launcher(" not in out.solution
                    if out.check is None:
                        out.check = static_rules(out.solution)  # e.g. an identity op answered with no kernel
                else:
                    out.solution = forms[0]
    except Exception as exc:  # noqa: BLE001 - one failed draw is recorded, the run goes on
        out.error = f"{type(exc).__name__}: {exc}"[:200]
    out.seconds = time.perf_counter() - t0
    return out


class ParallelDraws:
    """Jobs running in a spawned process pool (FIFO: put what matters most first). `collect` waits up to a
    deadline, `poll` takes whatever finished since (so a trainer can keep taking pairs while it trains),
    `close` cancels the jobs not started (running ones finish in the background and are ignored).

    A worker that dies hard (a segfault) breaks a process pool and fails every unfinished job with it. The
    jobs that were running then (the `workers` earliest unfinished ones: the pool is FIFO) are suspects: a
    suspect is retried once, last; the jobs that had not started are resubmitted to a fresh pool as they were.
    """

    MAX_RESTARTS = 3  # fresh pools per run: repeated crashes cannot stall the rest for long

    def __init__(self, jobs: list[Job], scale: str | None, workers: int, device: str = "cpu",
                 run_job=None):
        """`run_job(job, scale) -> Drawn` runs in the workers (a picklable, module-level function)."""
        self.jobs = jobs
        self._scale, self._workers, self._device = scale, max(1, workers), device
        self._run_job = run_job or _run_job
        self._futures: dict = {}  # future -> job index
        self._pending: set = set()
        self._suspected = [0] * len(jobs)
        self._ex: ProcessPoolExecutor | None = None  # the pool new submissions go to
        self._old: list[ProcessPoolExecutor] = []
        self.restarts = 0
        self.finished = 0
        self._submit(range(len(jobs)))

    def _submit(self, indices) -> None:
        import multiprocessing as mp

        if self._ex is None:
            self._ex = ProcessPoolExecutor(max_workers=self._workers, mp_context=mp.get_context("spawn"),
                                           initializer=_init_worker, initargs=(self._device, self._device == "cpu"))
        for i in indices:
            f = self._ex.submit(self._run_job, self.jobs[i], self._scale)
            self._futures[f] = i
            self._pending.add(f)

    def _restart(self, broken: list[int]) -> list[tuple[int, Drawn]]:
        """The pool broke: every unfinished job moves to a fresh pool, suspects last (or out)."""
        for f in list(self._pending):  # the rest of the broken pool's jobs fail too: take them now
            broken.append(self._futures.pop(f))
        self._pending = set()
        self._old.append(self._ex)
        self._ex.shutdown(wait=False, cancel_futures=True)
        self._ex = None
        self.restarts += 1
        broken.sort()
        suspects = broken[: self._workers]
        for i in suspects:
            self._suspected[i] += 1
        retry = broken[self._workers:] + [i for i in suspects if self._suspected[i] < 2]
        lost = [i for i in suspects if self._suspected[i] >= 2]
        if self.restarts > self.MAX_RESTARTS:
            lost, retry = sorted(lost + retry), []
        if retry:
            self._submit(retry)
        return [(i, Drawn(self.jobs[i], error="worker died (its process pool broke)")) for i in lost]

    def _take(self, done) -> list[Drawn]:
        from concurrent.futures.process import BrokenProcessPool

        out, broken = [], []
        for f in done:
            i = self._futures.pop(f)
            try:
                out.append((i, f.result()))
            except BrokenProcessPool:
                broken.append(i)
            except Exception as exc:  # noqa: BLE001 - anything else loses this job only
                out.append((i, Drawn(self.jobs[i], error=f"worker failed: {type(exc).__name__}: {exc}"[:200])))
        if broken:
            out += self._restart(broken)
        self.finished += len(out)
        return [d for _, d in sorted(out, key=lambda x: x[0])]

    def collect(self, deadline: float, on_done=None, enough=None) -> list[Drawn]:
        """Finished jobs until all are done, time.time() passes `deadline`, or `enough()` (checked after
        each finished job) is true; the jobs left keep running (take them with `poll`)."""
        got: list[Drawn] = []
        while self._pending:
            left = deadline - time.time()
            if left <= 0 or (enough is not None and enough()):
                break
            done, self._pending = wait(self._pending, timeout=min(left, 5.0), return_when=FIRST_COMPLETED)
            for d in self._take(done):
                got.append(d)
                if on_done:
                    on_done(d)
        order = {job: i for i, job in enumerate(self.jobs)}
        return sorted(got, key=lambda d: order.get(d.job, len(order)))  # job order, as submitted

    def poll(self) -> list[Drawn]:
        done = {f for f in self._pending if f.done()}
        self._pending -= done
        return self._take(done)

    @property
    def pending(self) -> int:
        return len(self._pending)

    def close(self) -> None:
        if self._ex is not None:
            self._ex.shutdown(wait=False, cancel_futures=True)
        self._pending = set()


def draw_parallel(jobs: list[Job], scale: str | None, workers: int, deadline: float, device: str = "cpu",
                  on_done=None) -> list[Drawn]:
    """Runs `jobs` in a process pool until `deadline` (time.time()); returns the finished ones in job order."""
    draws = ParallelDraws(jobs, scale, workers, device)
    try:
        return draws.collect(deadline, on_done)
    finally:
        draws.close()
