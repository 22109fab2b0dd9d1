#!/usr/bin/env bash
# The GPU check, run on a machine with an NVIDIA GPU, torch and cuda-python (no MLIR needed):
#   bash tools/gpu_check.sh BUNDLE_DIR
# BUNDLE_DIR holds kernels built beforehand where girflow's compiler is installed:
#   girflow gpu bundle --cases tests/gpu/gpu_cases.py --out BUNDLE_DIR
# Steps, each under its own `timeout`: versions (nvidia-smi, torch, cuda-python), bundle validation,
# tests/gpu/test_cuda_bundle.py (every kernel against PyTorch on the GPU), the benchmark.
# Environment: OUT (where logs and CSVs go; default ./gpu_out), PYTHON (default python3),
# GIRFLOW_GPU_BUDGET_S (seconds for the whole check; default 270), GIRFLOW_GPU_TEST_S (tests' share;
# default 100), GIRFLOW_GPU_NO_BENCH=1 (tests only), GIRFLOW_GPU_NCU_CASES=id,id (ncu counters of
# those bundle cases, after the bench; full reports in $OUT/gpu_ncu.log).
# Exit status: 0 when every step that ran passed; without a GPU the tests skip (saying why) and the
# benchmark does not run.
set -u -o pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUNDLE=$(cd "${1:?usage: tools/gpu_check.sh BUNDLE_DIR}" && pwd)
OUT=${OUT:-$PWD/gpu_out}
PY=${PYTHON:-python3}
BUDGET=${GIRFLOW_GPU_BUDGET_S:-270}
TEST_S=${GIRFLOW_GPU_TEST_S:-100}
mkdir -p "$OUT"
START=$(date +%s)
left() { echo $((BUDGET - ($(date +%s) - START))); }

# the repository's folder need not be named `girflow`: import it through a link that is
SHIM=$(mktemp -d)
ln -s "$ROOT" "$SHIM/girflow"
export PYTHONPATH="$SHIM${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
export GIRFLOW_CACHE_DIR="$SHIM/cache" TORCHINDUCTOR_CACHE_DIR="$SHIM/inductor"
status=0

echo "== versions ($(date -u +%H:%M:%S))"
timeout 20 nvidia-smi || echo "(nvidia-smi unavailable)"
timeout 120 "$PY" - <<'EOF' || status=1
import importlib.metadata as md, sys
import torch
import girflow
print("python", sys.version.split()[0], "| girflow from", girflow.__path__[0])
print("torch", torch.__version__, "cuda", torch.version.cuda, "| available", torch.cuda.is_available())
for pkg in ("cuda-bindings", "cuda-python", "numpy", "pytest", "triton"):
    try:
        print(pkg, md.version(pkg))
    except md.PackageNotFoundError:
        print(pkg, "not installed")
if torch.cuda.is_available():
    p = torch.cuda.get_device_properties(0)
    print("device", p.name, "| SMs", p.multi_processor_count, "| L2", getattr(p, "L2_cache_size", "?"),
          "| memory GiB", round(p.total_memory / 2**30, 1))
EOF

echo "== bundle ($(date -u +%H:%M:%S))"
timeout 60 "$PY" -m girflow.tools.cli gpu check "$BUNDLE" || status=1

echo "== tests ($(date -u +%H:%M:%S), budget $(left) s)"
T=$(( TEST_S < $(left) ? TEST_S : $(left) ))
GIRFLOW_GPU_BUNDLE="$BUNDLE" timeout -k 10 "$T" "$PY" -m pytest "$ROOT/tests/gpu/test_cuda_bundle.py" \
    -q -rs -p no:cacheprovider --rootdir "$ROOT" --junitxml="$OUT/gpu_tests.xml" 2>&1 | tee "$OUT/gpu_tests.log"
rc=$?
[ $rc -eq 124 ] && echo "TESTS TIMED OUT after $T s"
[ $rc -ne 0 ] && status=1

HAVE_GPU=$(timeout 60 "$PY" -c "from girflow.runtime.cuda_launch import gpu_available as g; print(int(g()[0]))" 2>/dev/null)
if [ "${GIRFLOW_GPU_NO_BENCH:-0}" = 1 ]; then
    echo "== bench not run (GIRFLOW_GPU_NO_BENCH=1)"
elif [ "$HAVE_GPU" != 1 ]; then
    echo "== bench not run: no CUDA GPU here"
else
    B=$(( $(left) - 15 ))
    echo "== bench ($(date -u +%H:%M:%S), budget $B s)"
    if [ "$B" -gt 20 ]; then
        timeout -k 10 "$B" "$PY" -m girflow.tools.cli gpu bench "$BUNDLE" --csv "$OUT/gpu_bench.csv" \
            --summary "$OUT/gpu_bench_summary.csv" --budget-s $((B - 25)) 2>&1 | tee "$OUT/gpu_bench.log"
        rc=$?
        [ $rc -eq 124 ] && echo "BENCH TIMED OUT after $B s (partial CSV kept)"
        [ $rc -ne 0 ] && status=1
    else
        echo "no time left for the bench"
    fi
fi
# optional: hardware counters of named bundle cases (GIRFLOW_GPU_NCU_CASES=id,id), ncu's clocks left alone
if [ -n "${GIRFLOW_GPU_NCU_CASES:-}" ] && [ "$HAVE_GPU" = 1 ] && command -v ncu >/dev/null; then
    echo "== ncu ($(date -u +%H:%M:%S))"
    for id in ${GIRFLOW_GPU_NCU_CASES//,/ }; do
        [ "$(left)" -lt 20 ] && { echo "no time left for ncu on $id"; break; }
        kernel="$(echo "$id" | cut -d. -f2)_kernel"    # ids: group.op.dtype.shape.launch
        timeout -k 5 60 ncu --clock-control none --section SpeedOfLight --section Occupancy \
            --section MemoryWorkloadAnalysis --section LaunchStats -k "$kernel" --launch-count 1 \
            "$PY" -m girflow.tools.cli gpu launch "$BUNDLE" "$id" 2>&1 | tee -a "$OUT/gpu_ncu.log" | \
            grep -E "launched|Duration|Memory Throughput|DRAM Throughput|Achieved Occupancy|Theoretical Occupancy|Registers Per|Waves Per SM|L2 Hit|Block Limit|==ERR|==PROF" || true
    done
fi
echo "== done in $(( $(date +%s) - START )) s, status $status"
rm -rf "$SHIM"
exit $status
