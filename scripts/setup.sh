#!/usr/bin/env bash
# Sets up a fresh CPU machine (Debian, Python 3.11, root): GoogleTest, the pinned CPU torch, triton for
# the interpreter, and drtriton itself (C++ engine built by scikit-build-core). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! [ -f /usr/include/gtest/gtest.h ] || ! [ -f /usr/include/nlohmann/json.hpp ]; then
  (apt-get update -qq && apt-get install -y -qq libgtest-dev nlohmann-json3-dev) >/dev/null
fi
python3 -m pip install -q --disable-pip-version-check "torch==2.13.0" "numpy<2.5"
python3 -m pip install -q --disable-pip-version-check "triton==3.6.0" nanobind scikit-build-core \
  rich pyarrow pyyaml pytest scipy matplotlib ray
# training (the `train` extra; tests build tiny models with these on CPU)
python3 -m pip install -q --disable-pip-version-check "transformers>=4.45" "tokenizers>=0.20" "peft>=0.12" \
  "accelerate>=0.34" "trl>=0.20" "datasets>=2.20" "tensorboard>=2.15"
# Non-editable: the `drtriton` command uses this copy; tests import src/ first (scripts/test.sh).
python3 -m pip install -q --disable-pip-version-check --no-build-isolation .
