"""What every `score` command with --allow-partial refuses: a file that scores nothing."""

from __future__ import annotations

from pathlib import Path

from ..errors import BadInputError


def refuse_nothing_scored(missing: int, total: int, predictions: Path, questions: Path) -> None:
    """--allow-partial scores the answered subset; with nothing answered there is no subset."""
    if missing == total:
        raise BadInputError(f"{predictions}: answers none of the {total} questions in {questions}: nothing to score")
