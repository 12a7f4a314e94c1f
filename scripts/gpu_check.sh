#!/usr/bin/env bash
# GPU check, for a machine with an NVIDIA GPU: the tests that matter on the GPU backend, the
# benchmark, and a large vmapped sweep (256 learning rates) with its throughput. A few minutes.
#
#   python3 -m venv .venv && .venv/bin/pip install -e '.[test]' 'jax[cuda12]'
#   NNJAX_DATA_DIR=/path/to/mnist PATH=.venv/bin:$PATH bash scripts/gpu_check.sh [OUT_DIR]
#
# Everything it prints also goes to OUT_DIR (default reports/gpu).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-reports/gpu}
mkdir -p "$out"
export NNJAX_DATA_DIR=${NNJAX_DATA_DIR:-../shared/data/mnist}
export PYTHONUNBUFFERED=1
python - <<'PY' 2>&1 | tee "$out/device.txt"
import jax
print("backend:", jax.default_backend(), "devices:", jax.devices())
assert jax.default_backend() == "gpu", "no GPU backend: install jax[cuda12] (see the header)"
PY
# the behaviour that must not depend on the backend: learning, the log and its host callbacks,
# gradients, the diagnostics, the sweep
python -m pytest -q -x -p no:cacheprovider tests/test_network.py tests/test_logging.py \
  tests/test_training.py tests/test_divergence.py tests/test_sweep.py tests/test_train_epoch.py \
  tests/test_diagnostics.py 2>&1 | tee "$out/tests.txt"
python scripts/bench.py --epochs 5 --out "$out" 2>&1 | tee "$out/bench.txt"
python scripts/bench_sweep.py --runs 256 --repeats 3 --skip-sequential 2>&1 | tee "$out/sweep256.txt"
echo "written: $out"
