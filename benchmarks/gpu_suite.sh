#!/usr/bin/env bash
# The GPU suite in one command on a lent GPU machine, and the wheels it needs there.
#
#   bash benchmarks/gpu_suite.sh prepare           # here, where pip reaches the package index:
#                                                  # the wheels into benchmarks/gpu_wheels/ (about 38 MiB)
#   bash benchmarks/gpu_suite.sh run [SUITE ARGS]  # there: install the carried wheels into a scratch
#                                                  # folder, run the suite, results and log under $OUT
#
# `run` writes $OUT/gpu-<card>-<date>.jsonl (one JSON line per measurement, then a summary),
# $OUT/gpu_suite.log (everything the suite printed) and $OUT/nvidia-smi.txt (the card's state
# before the run). Without $OUT it writes to benchmarks/results/. SUITE ARGS go to
# benchmarks/gpu_suite.py, e.g. `--only steer.alphas`. GPU_SUITE_TIMEOUT (default 560 s) bounds
# the whole run, so it ends inside the device tool's 600 s per command; GPU_SUITE_WHEELS names
# another wheel folder, GPU_SUITE_SITE the scratch folder they are installed into, PYTHON the interpreter.
set -uo pipefail
cd "$(dirname "$0")/.."

case "${1:-}" in
prepare)
    shift
    python="${PYTHON:-python3}"
    [ -x .venv/bin/python ] && python="${PYTHON:-.venv/bin/python}"
    exec "$python" benchmarks/gpu_wheels.py download "$@"
    ;;
run)
    shift
    out="${OUT:-benchmarks/results}"
    site="${GPU_SUITE_SITE:-/tmp/gpu_suite_site}"
    wheels="${GPU_SUITE_WHEELS:-benchmarks/gpu_wheels}"
    python="${PYTHON:-python3}"
    mkdir -p "$out"
    nvidia-smi >"$out/nvidia-smi.txt" 2>&1 || true
    export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
    if compgen -G "$wheels/*.whl" >/dev/null; then
        start=$SECONDS
        "$python" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$site" \
            "$wheels"/*.whl 2>&1 | tee "$out/gpu_suite.log" ||
            { echo "gpu_suite.sh: installing $wheels/*.whl failed (above)" >&2; exit 2; }
        echo "gpu_suite.sh: carried wheels installed in $((SECONDS - start)) s" | tee -a "$out/gpu_suite.log"
        export PYTHONPATH="$site:$PYTHONPATH"
    else
        echo "gpu_suite.sh: no wheels in $wheels/ (bash benchmarks/gpu_suite.sh prepare, then carry that folder);" \
             "running with what is installed" | tee "$out/gpu_suite.log" >&2
    fi
    export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false PYTHONUNBUFFERED=1
    timeout --kill-after=20 "${GPU_SUITE_TIMEOUT:-560}" \
        "$python" benchmarks/gpu_suite.py --out-dir "$out" "$@" 2>&1 | tee -a "$out/gpu_suite.log"
    status=${PIPESTATUS[0]}
    [ "$status" = 124 ] && echo "gpu_suite.sh: stopped after ${GPU_SUITE_TIMEOUT:-560} s; the lines written so far" \
        "are in $out" | tee -a "$out/gpu_suite.log" >&2
    exit "$status"
    ;;
*)
    echo "usage: bash benchmarks/gpu_suite.sh prepare | run [--only NAME] [--dry-run]" >&2
    exit 2
    ;;
esac
