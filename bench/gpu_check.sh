#!/usr/bin/env bash
# The CUDA path on a real GPU, in one run: install this checkout into `python` (no dependencies: a GPU machine may have no
# network), print the versions and the GPU, run tests/test_cuda.py (its GPU tests and the simulator's), then the
# GPU bench. Logs, the tests' JUnit XML and bench/results/<gpu>.json go to the folder given.
#   bash bench/gpu_check.sh OUTPUT_DIR
set -uo pipefail
out=${1:?usage: bash bench/gpu_check.sh OUTPUT_DIR}
mkdir -p "$out"
# numba-cuda 0.30 registers np.row_stack, which numpy 2.5 removed: give this run's processes (only) the alias,
# so that the checks reach fastsched's own code
if ! python -c "import numpy; numpy.row_stack" 2>/dev/null; then
  shim=$(mktemp -d)
  printf 'import numpy\nnumpy.row_stack = numpy.vstack\n' >"$shim/sitecustomize.py"
  export PYTHONPATH="$shim${PYTHONPATH:+:$PYTHONPATH}"
fi
if ! python -m pip install --no-deps --no-build-isolation -e . >"$out/install.log" 2>&1; then
  tail -20 "$out/install.log"
  exit 1
fi
{
  nvidia-smi
  python - <<'PY'
import importlib.metadata as metadata
import torch
print("gpu", torch.cuda.get_device_name(), "| driver cuda", torch.version.cuda)
for name in ("torch", "numba", "numba-cuda", "numpy", "transformers", "fastsched"):
    print(name, metadata.version(name))
PY
} 2>&1 | tee "$out/versions.txt"
timeout "${GPU_TESTS_TIMEOUT:-360}" python -m pytest tests/test_cuda.py -p no:cacheprovider -q -rs \
  --junitxml="$out/gpu-tests.xml" 2>&1 | tee "$out/gpu-tests.log"
tests=${PIPESTATUS[0]}
timeout "${GPU_BENCH_TIMEOUT:-180}" python bench/test_bench_gpu.py 2>&1 | tee "$out/gpu-bench.log"
bench=${PIPESTATUS[0]}
written=$(sed -n 's/^written to //p' "$out/gpu-bench.log")
[ -n "$written" ] && cp "$written" "$out/"
echo "tests exit $tests, bench exit $bench"
[ "$tests" -eq 0 ] && [ "$bench" -eq 0 ]
