"""Error types the CLI maps to exit codes: bad input or configuration exits 2."""

from __future__ import annotations


class BenchError(Exception):
    """Anything the harness reports as one clear line and a non-zero exit."""

    exit_code = 1


class BadInputError(BenchError):
    """Bad input or configuration: a missing or malformed file, a wrong schema, an unknown name."""

    exit_code = 2
