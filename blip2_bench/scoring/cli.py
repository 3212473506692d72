"""Argument parsing and output for `blip2-bench score <task> ...`."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable

from ..errors import BenchError
from ..registry import unknown_name_message

# task name -> "module:function"; each function takes argv and returns an exit code.
COMMANDS = {
    "vqav2": "blip2_bench.scoring.vqav2:main",
    "coco_caption": "blip2_bench.scoring.captions:coco_caption_main",
    "nocaps": "blip2_bench.scoring.captions:nocaps_main",
    "flickr30k": "blip2_bench.scoring.retrieval:flickr30k_main",
    "coco_retrieval": "blip2_bench.scoring.retrieval:coco_retrieval_main",
}


def _command(name: str) -> Callable[[list[str]], int]:
    module, function = COMMANDS[name].split(":")
    return getattr(importlib.import_module(module), function)


def score_main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(f"usage: blip2-bench score {{{','.join(COMMANDS)}}} [options]")
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"blip2-bench score: {unknown_name_message('scorer task', name, COMMANDS)}", file=sys.stderr)
        return 2
    try:
        return _command(name)(rest)
    except BenchError as exc:
        print(f"blip2-bench score {name}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except SystemExit as exc:  # argparse: bad arguments
        return 2 if exc.code else 0
