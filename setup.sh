#!/usr/bin/env bash
# Set-up for the README commands: a .venv with solverlayers (editable), every built-in backend,
# Triton (its interpreter runs the kernels on CPU), the example plugin, and the test/example extras.
# Idempotent; the pins in constraints.txt keep the CPU torch wheel and the verified solver versions.
set -euo pipefail
cd "$(dirname "$0")"
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install -q --disable-pip-version-check -c constraints.txt \
    -e ".[solvers,triton,examples,test]" -e examples/ortools_backend
