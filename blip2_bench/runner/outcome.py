"""What an executor hands back to the runner for results.json."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..types import TaskScores


@dataclass
class TaskOutcome:
    scores: TaskScores
    sample_ids: list[str]
    """Every sample of the evaluated set (scored or skipped)."""
    n_predicted: int
    computed: int
    """How many outputs (samples, features or pairs) this run computed rather than read from a journal."""
    skipped: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
