#!/usr/bin/env bash
# Create .venv at the repo root and install blip2-bench with its test tools (idempotent).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
if [ ! -f .venv/.installed ] || [ pyproject.toml -nt .venv/.installed ]; then
  # Install torch first: on our CPU machines torch==2.13.0 is a local CPU build, and with it
  # present pip keeps it instead of pulling a multi-GB CUDA build. A GPU user's own torch stays.
  .venv/bin/python -c "import torch" 2>/dev/null || .venv/bin/pip install -q torch==2.13.0
  .venv/bin/pip install -q -e ".[dev]"
  touch .venv/.installed
fi
