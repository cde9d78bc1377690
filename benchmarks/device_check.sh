#!/usr/bin/env bash
# The GPU check run on the lent device machine (see BENCHMARKS.md, "GPU"): the evaluator's
# tests on the GPU, then evaluator throughput and search rate on the GPU and, as the
# baseline on the same machine, on its CPU.  Usage: bash benchmarks/device_check.sh [OUTDIR]
set -uo pipefail
out=${1:-.}
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1 DISCOVER_CACHE_DIR=/tmp/discover-jax
{
  nvidia-smi -L; nproc
  python3 -c "import jax; print('jax', jax.__version__, jax.devices())"
  python3 -m pytest -q -p no:cacheprovider tests/test_evaluate.py tests/test_constants.py 2>&1 | tail -3
  for rows in 1000 10000 100000; do python3 benchmarks/throughput.py --rows "$rows" --repeats 3; done
  JAX_PLATFORMS=cpu python3 benchmarks/throughput.py --rows 10000 --repeats 3
  python3 benchmarks/search_rate.py --seconds 15 --batch-sizes 500 5000
  JAX_PLATFORMS=cpu python3 benchmarks/search_rate.py --seconds 15 --batch-sizes 500 5000
} 2>&1 | tee "$out/device_check.log"
