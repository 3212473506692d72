#!/usr/bin/env bash
# The default benchmark: zero-shot VQAv2 on generated data with a tiny BLIP-2 (OPT), offline.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/blip2-bench make-demo .cache/demo
exec .venv/bin/blip2-bench backend=tiny-opt backend.model=.cache/demo/tiny-opt data_root=.cache/demo/vqav2 "$@"
