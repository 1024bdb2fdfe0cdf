#!/usr/bin/env bash
# Runs the default test tier: the C++ GoogleTest suite through CTest, then pytest on CPU with the Triton
# interpreter, without the `gpu` and `slow` markers (run those with: PYTHONPATH=src python -m pytest -m slow).
# Builds the engine in build/dev with the Python module placed in src/drtriton (tests import from src/).
set -euo pipefail
cd "$(dirname "$0")/.."

cmake -S . -B build/dev -DDRT_BUILD_TESTS=ON -DDRT_BUILD_PYTHON=ON -DDRT_INPLACE=ON \
  -DPython_EXECUTABLE="$(command -v python3)" >/dev/null
cmake --build build/dev -j "$(nproc)"
ctest --test-dir build/dev --output-on-failure -j "$(nproc)"

export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
export TRITON_INTERPRET=1
python3 -m pytest -q -m "not gpu and not slow" "$@"
