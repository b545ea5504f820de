#!/usr/bin/env bash
# The main job on the embedded default: install lego with its plugins into .venv, generate the
# synthetic dataset, train and evaluate the quickstart model, print the metrics table.
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PIP_DISABLE_PIP_VERSION_CHECK=1
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/pip install -qq torch==2.13.0            # first and pinned: the CPU build
plugins=()
for p in plugins/*/; do plugins+=(-e "$p"); done
.venv/bin/pip install -qq -e . "${plugins[@]}"     # core and every plugin in one command
.venv/bin/lego data synth --out data/synth
.venv/bin/lego run examples/quickstart.toml "$@"
