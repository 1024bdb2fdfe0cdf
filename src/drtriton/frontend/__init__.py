"""Frontend: import KernelBench programs into the graph IR and compile them to fused Triton (non-LLM).

    PYTHONPATH=src python -m drtriton compile tests/problems/gelu.py -o /tmp/gelu_new.py
"""

from drtriton.frontend.compile import CompileConfig, CompileResult, compile_problem, parse_knobs
from drtriton.frontend.importer import ImportedProgram, Unsupported, import_program

__all__ = ["CompileConfig", "CompileResult", "ImportedProgram", "Unsupported", "compile_problem",
           "import_program", "parse_knobs"]
