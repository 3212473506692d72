#!/usr/bin/env python
"""Retrain the shipped mini-benchmark pairings: `python scripts/train_minibench.py [--score] [--only NAME ...]`."""

import sys

from blip2_bench.minibench.cli import train_main

if __name__ == "__main__":
    sys.exit(train_main(sys.argv[1:]))
