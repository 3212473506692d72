#!/usr/bin/env bash
# The default benchmark, offline: every task on the generated mini benchmark for the shipped
# trained pairings (mini-opt, mini-t5 generators; mini-itm retrieval). Extra args go to each run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
data=.cache/minibench/data
.venv/bin/blip2-bench make-minibench "$data" >/dev/null  # idempotent: same seed, same bytes
for backend in mini-opt mini-t5; do
  .venv/bin/blip2-bench backend=$backend data_root=$data 'task=[vqav2,coco_caption,nocaps]' "$@"
done
.venv/bin/blip2-bench backend=mini-itm data_root=$data 'task=[flickr30k]' "$@"
