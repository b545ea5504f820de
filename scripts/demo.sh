#!/usr/bin/env bash
# The main job on the embedded default: install lego with its plugins into .venv, generate the
# synthetic dataset, train and evaluate the quickstart model, print the metrics table.
# On a quiet 2-core machine: about 2 minutes of installing (the first time), then about 1 minute of training.
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PIP_DISABLE_PIP_VERSION_CHECK=1
PY=${PYTHON:-python3}
started=$SECONDS
stage() { printf '[demo %3ds] %s\n' $((SECONDS - started)) "$*"; }

if [ ! -x .venv/bin/python ]; then
  stage "creating the virtual environment .venv"
  "$PY" -m venv .venv
fi
stage "installing torch 2.13.0 (the CPU build; about a minute the first time)"
.venv/bin/pip install -qq torch==2.13.0            # first and pinned: the CPU build
plugins=()
for p in plugins/*/; do plugins+=(-e "$p"); done
stage "installing lego-core and its plugins: $(ls plugins | tr '\n' ' ')(about a minute the first time)"
.venv/bin/pip install -qq -e . "${plugins[@]}"     # core and every plugin in one command
stage "generating the synthetic dataset into data/synth (2,000 items, 600 users)"
.venv/bin/lego data synth --out data/synth
stage "training and evaluating examples/quickstart.toml (an NRMS-style text model, 3 epochs)"
.venv/bin/lego run examples/quickstart.toml "$@"
stage "done"
