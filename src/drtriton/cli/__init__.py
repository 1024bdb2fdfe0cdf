"""drtriton command line: one entry point over subcommand modules (cli/<name>.py: register + run).

    drtriton --help
    drtriton synth --n 1000 --level 5 --seed 0 --out tasks.parquet
"""

from __future__ import annotations

import argparse
import importlib
import sys

from drtriton.util.errors import EXIT_INTERRUPTED, EXIT_USAGE, UsageError

# Subcommand modules in the order --help lists them (pipeline order: synth → verify → train → search → bench).
SUBCOMMANDS = ["ops", "synth", "compile", "verify", "optimize", "train", "eval_model", "bench"]


# drtriton._core exceptions that mean "the request cannot be met as given" (no traceback, exit 2).
_CORE_USAGE_ERRORS = ("InfeasibleError", "ValueError")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse's own usage errors: one line, exit 2
        self.print_usage(sys.stderr)
        prog = self.prog
        print(f"{prog}: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="drtriton",
        description="Turn PyTorch programs into fast, verified Triton kernels; synthesize training tasks; "
        "train and benchmark kernel-writing models.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in SUBCOMMANDS:
        try:
            module = importlib.import_module(f"drtriton.cli.{name}")
        except ModuleNotFoundError as exc:
            # A subcommand whose optional dependencies are missing is left out, never half-registered.
            if exc.name and (exc.name == f"drtriton.cli.{name}" or not exc.name.startswith("drtriton")):
                continue
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(args.run(args))
    except UsageError as exc:
        print(f"drtriton {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ValueError as exc:
        # The engine's InfeasibleError / ValueError say what failed and what to change in one line.
        if type(exc).__module__ != "drtriton._core" or type(exc).__name__ not in _CORE_USAGE_ERRORS:
            raise
        print(f"drtriton {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"drtriton {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
