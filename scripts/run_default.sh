#!/usr/bin/env bash
# The default benchmark, offline: set up .venv, then `blip2-bench` with no arguments: every task on
# the generated mini benchmark for the shipped trained pairings (mini-opt, mini-t5 generators;
# mini-itm retrieval) and one comparison report. Extra args go to `blip2-bench default`
# (--out DIR, --data DIR, Hydra overrides for every run).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/blip2-bench default "$@"
