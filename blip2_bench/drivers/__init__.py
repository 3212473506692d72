"""Drivers run one kind of task (by the backend protocol it needs) on the runner's behalf."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from ..types import TaskScores
from .context import RunContext


@dataclass
class TaskOutcome:
    """What a driver hands back to the runner for results.json."""

    scores: TaskScores
    sample_ids: list[str]
    n_predicted: int
    seconds: float
    computed: int
    """How many samples (or pairs) were computed in this process rather than read from the journal."""
    skipped: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


class Driver(Protocol):
    def prepare(self, task: Any, ctx: RunContext) -> Any:
        """Load data and check inputs; everything that can fail on bad input fails here."""
        ...

    def run(self, prepared: Any, ctx: RunContext) -> TaskOutcome: ...


def driver_for(needs: str) -> Driver:
    """The driver for a backend protocol (imported on use: retrieval pulls in its metrics)."""
    if needs == "generate":
        from .generation import GenerationDriver

        return GenerationDriver()
    if needs == "retrieval":
        from .retrieval import RetrievalDriver

        return RetrievalDriver()
    raise ValueError(f"no driver for backend protocol {needs!r}")


__all__ = ["Driver", "RunContext", "TaskOutcome", "driver_for"]
