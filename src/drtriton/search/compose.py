"""Composite ModelNew: one file that runs a cover's steps (verified fragment kernels, and under the
hybrid policy fragments left in PyTorch) in execution order, with the program's own weights.

Each step's file is inlined with its top-level names prefixed (`_s3_ModelNew`, `_s3_fused_kernel`), so
kernels from different fragments never clash. Weights: ModelNew first builds `_drt_p_Model` -- the
user's Model without its forward, so the verifier's seeded construction draws exactly the user's
weights -- then every step module (whose __init__ is the user's too, see search/program.py) is given
those parameters and buffers by plain attribute assignment, one line per tensor.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from drtriton.util.errors import UsageError


def _attr_path(name: str) -> str:
    """"fc.weight" -> ".fc.weight"; "layers.0.weight" -> ".layers[0].weight" (static access only: the
    verifier rejects getattr/setattr with computed names)."""
    out = ""
    for part in name.split("."):
        out += f"[{part}]" if part.isdigit() else (f".{part}" if part.isidentifier() else f"[{part!r}]")
    return out



@dataclass(frozen=True, slots=True)
class Step:
    """One module call in the composite."""

    source: str                      # a full file defining `cls`, whose __init__ is the user's
    cls: str                         # "ModelNew" for a kernel, "Model" for a fragment kept in PyTorch
    entry_values: tuple[int, ...]    # global value ids passed in, in order (module tensors excluded)
    exit_values: tuple[int, ...]     # global value ids it returns (a tuple when more than one)
    label: str                       # shown in the file's header comment


def _top_level_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for stmt in tree.body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(stmt.name)
        elif isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            for t in targets:
                for n in ast.walk(t):
                    if isinstance(n, ast.Name):
                        names.add(n.id)
    return names


class _Renamer(ast.NodeTransformer):
    """Prefixes references to a file's top-level names, leaving function-local names alone."""

    def __init__(self, names: set[str], prefix: str):
        self.names, self.prefix, self.local_stack = names, prefix, [set()]

    def _rename(self, name: str) -> str:
        if name in self.names and not any(name in s for s in self.local_stack[1:]):
            return self.prefix + name
        return name

    def visit_FunctionDef(self, node):
        node.decorator_list = [self.visit(d) for d in node.decorator_list]
        if node.returns:
            node.returns = self.visit(node.returns)
        node.args = self.visit(node.args)
        a = node.args
        local = {x.arg for x in (*a.posonlyargs, *a.args, *a.kwonlyargs)}
        local |= {x.arg for x in (a.vararg, a.kwarg) if x}
        globals_declared = {n for s in ast.walk(node) if isinstance(s, ast.Global) for n in s.names}
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
                local.add(sub.id)
        self.local_stack.append(local - globals_declared)
        node.body = [self.visit(s) for s in node.body]
        self.local_stack.pop()
        node.name = self._rename(node.name)
        return node

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node):
        self.generic_visit(node)
        node.name = self._rename(node.name)
        return node

    def visit_Name(self, node):
        node.id = self._rename(node.id)
        return node


def _split(source: str, prefix: str, drop_forward: bool = False) -> tuple[list[str], list[str]]:
    """(import lines, renamed body lines) of one step file; drops docstrings and `__main__` blocks, and
    with `drop_forward` the forward of class Model (the parameter holder must compute nothing)."""
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise UsageError(f"a composite step does not parse ({exc.msg}, line {exc.lineno})") from None
    names = _top_level_names(tree)
    imports, body = [], []
    for stmt in tree.body:
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            if not (isinstance(stmt, ast.ImportFrom) and stmt.module == "__future__"):
                imports.append(ast.unparse(stmt))
            continue
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            continue
        if isinstance(stmt, ast.If) and "__main__" in ast.unparse(stmt.test):
            continue
        if drop_forward and isinstance(stmt, ast.ClassDef) and stmt.name == "Model":
            stmt.body = [f for f in stmt.body if not (isinstance(f, ast.FunctionDef) and f.name == "forward")]
        body.append(ast.unparse(_Renamer(names, prefix).visit(stmt)))
    return imports, body


def _init_args(params_tree_src: list[str]) -> tuple[str, str]:
    """(parameter list, pass-through call arguments) of `_drt_p_Model.__init__` (already renamed)."""
    for chunk in params_tree_src:
        tree = ast.parse(chunk)
        for cls in tree.body:
            if isinstance(cls, ast.ClassDef) and cls.name == "_drt_p_Model":
                for fn in cls.body:
                    if isinstance(fn, ast.FunctionDef) and fn.name == "__init__":
                        a = fn.args
                        for arg in (*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg):
                            if arg is not None:
                                arg.annotation = None
                        params = ast.unparse(a)
                        names = [x.arg for x in (*a.posonlyargs, *a.args)][1:]
                        call = [*names]
                        if a.vararg:
                            call.append("*" + a.vararg.arg)
                        call += [f"{x.arg}={x.arg}" for x in a.kwonlyargs]
                        if a.kwarg:
                            call.append("**" + a.kwarg.arg)
                        return params.partition(",")[2].strip() if "," in params else "", ", ".join(call)
    return "", ""


def _forward_args(problem_src: str, num_inputs: int) -> list[str]:
    tree = ast.parse(problem_src)
    for cls in tree.body:
        if isinstance(cls, ast.ClassDef) and cls.name == "Model":
            for fn in cls.body:
                if isinstance(fn, ast.FunctionDef) and fn.name == "forward":
                    names = [a.arg for a in fn.args.args[1:]]
                    if len(names) == num_inputs and not fn.args.vararg:
                        return names
    return [f"x{i}" for i in range(num_inputs)]


def compose(problem_src: str, steps: list[Step], num_inputs: int, outputs: list[int],
            state_names: list[str]) -> str:
    """The composite ModelNew file text.

    Args:
        problem_src: the user's program (its Model, minus forward, holds the weights).
        steps: the cover's steps in execution order.
        num_inputs: forward's arguments (values 0..num_inputs-1); module tensors the program reads
            directly are not among them (each step reads its own, assigned from the program's weights).
        outputs: value ids returned by forward.
        state_names: the user's Model's parameter and buffer names ("fc.weight"), each handed to every step.
    """
    imports = ["import torch", "import torch.nn as nn", "import triton", "import triton.language as tl"]
    chunks: list[str] = []
    p_imports, p_body = _split(problem_src, "_drt_p_", drop_forward=True)
    imports += p_imports
    chunks.append("# ---- the program's weights: its own Model without forward (seeded draws match) ----")
    chunks += p_body
    for i, step in enumerate(steps):
        s_imports, s_body = _split(step.source, f"_s{i}_")
        imports += s_imports
        chunks.append(f"# ---- step {i}: {step.label} ----")
        chunks += s_body
    header = ["# Composite ModelNew written by drtriton optimize: one module call per step, in order.",
              *[f"#   step {i}: {s.label}" for i, s in enumerate(steps)]]
    init_params, call = _init_args(p_body)
    fwd_args = _forward_args(problem_src, num_inputs)
    lines = ["class ModelNew(nn.Module):",
             f"    def __init__(self{', ' + init_params if init_params else ''}):",
             "        super().__init__()",
             f"        self.p = _drt_p_Model({call})"]
    for i, step in enumerate(steps):
        lines.append(f"        self.s{i} = _s{i}_{step.cls}({call})")
        lines.append(f"        # step {i} uses the program's weights, not the ones it drew")
        lines += [f"        self.s{i}{_attr_path(n)} = self.p{_attr_path(n)}" for n in state_names]
    lines.append("")
    lines.append(f"    def forward(self{''.join(', ' + a for a in fwd_args)}):")
    for v, a in enumerate(fwd_args):
        lines.append(f"        v{v} = {a}")
    for i, step in enumerate(steps):
        args = ", ".join(f"v{v}" for v in step.entry_values)
        outs = ", ".join(f"v{v}" for v in step.exit_values)
        lines.append(f"        {outs}{',' if len(step.exit_values) > 1 else ''} = self.s{i}({args})"
                     if len(step.exit_values) > 1 else f"        {outs} = self.s{i}({args})")
    if len(outputs) == 1:
        lines.append(f"        return v{outputs[0]}")
    else:
        lines.append(f"        return ({', '.join(f'v{v}' for v in outputs)},)")
    uniq_imports = list(dict.fromkeys(imports))
    return "\n".join([*header, "", *uniq_imports, "", *chunks, "", *lines]) + "\n"
