#!/usr/bin/env bash
# GPU check, run once from the repository root on a CUDA machine without network:
#   bash benchmarks/run_device_check.sh
# Installs the wheels in .whl/ (skorch, POT) into a temporary folder, runs
# tests/test_cuda.py, then benchmarks/device_check.py. Results go to $OUT
# (default benchmarks/results/device_check, the place BENCHMARKS.md cites).
set -u
OUT=${OUT:-benchmarks/results/device_check}
SITE=$(mktemp -d)
mkdir -p "$OUT"
{
  nvidia-smi || true
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
    --upgrade --target "$SITE" .whl/*.whl ||
    python3 -c 'import sys, zipfile
for w in sys.argv[2:]: zipfile.ZipFile(w).extractall(sys.argv[1])' "$SITE" .whl/*.whl
} >"$OUT/setup.log" 2>&1
export PYTHONPATH="$SITE:$PWD"
python3 -c 'import torch, skorch, ot, sklearn_wdist as w
print("torch", torch.__version__, "cuda", torch.version.cuda,
      torch.cuda.is_available(), "skorch", skorch.__version__,
      "pot", ot.__version__, "sklearn_wdist", w.__file__)' 2>&1 | tee -a "$OUT/setup.log"
timeout 150 python3 -m pytest tests/test_cuda.py -ra -q -p no:cacheprovider \
  >"$OUT/pytest.txt" 2>&1
echo "pytest exit code $?" >>"$OUT/pytest.txt"
timeout 300 python3 benchmarks/device_check.py --out "$OUT" --budget-seconds 210 \
  >"$OUT/device_check.log" 2>&1
echo "device_check exit code $?" | tee -a "$OUT/device_check.log"
cat "$OUT/device_check.md" 2>/dev/null || tail -c 4000 "$OUT/device_check.log"
echo "== pytest tests/test_cuda.py (full output in pytest.txt)"
tail -c 3000 "$OUT/pytest.txt"
