#!/usr/bin/env bash
# benchmarks/gpu_check.py in one call on a GPU machine without network: the wheels `make gpu-wheels` put in
# .gpu-wheels/ (carried with the working tree) are installed first, into a scratch folder on the children's
# PYTHONPATH. Every argument goes to gpu_check.py, e.g.
#   bash benchmarks/gpu_check.sh --budget-s 450 --out "$OUT"
# PYTHON picks the interpreter (default: python3).
set -euo pipefail
cd "$(dirname "$0")/.."
wheels=()
if [ -d .gpu-wheels ]; then
    wheels=(--install-wheels .gpu-wheels)
else
    echo "gpu_check.sh: no .gpu-wheels/ here (make gpu-wheels): the packages this machine lacks stay missing" >&2
fi
exec env PYTHONUNBUFFERED=1 "${PYTHON:-python3}" benchmarks/gpu_check.py ${wheels[@]+"${wheels[@]}"} "$@"
