"""The contract a task plugin implements; tasks own data, prompts, parsing and metrics."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Protocol

from .types import GenerationRequest, ModelTraits, TaskScores


class Sample(Protocol):
    @property
    def sample_id(self) -> str: ...


class GenerationTask(ABC):
    """A task answered by text generation. Subclasses set the class variables below.

    A task never loads a model and never writes files: it turns data into requests and
    raw outputs into scores.
    """

    name: ClassVar[str]
    version: ClassVar[int]
    """Bump (with a changelog line in the task's docstring) when prompt, parsing or metric change."""
    Options: ClassVar[type]
    """Dataclass schema of `task.<name>.*`; validated before any model loads."""
    needs: ClassVar[str] = "generate"
    """The backend protocol the runner must find before any work."""

    def __init__(self, options: Any, data_root: Path) -> None:
        self.options = options
        self.data_root = data_root

    @abstractmethod
    def data_files(self) -> dict[str, Path]:
        """The data files this run reads (hashed into provenance), checked to exist."""

    @abstractmethod
    def load(self, limit: int | None) -> Sequence[Sample]:
        """The samples in file order, at most `limit` of them."""

    @abstractmethod
    def requests(self, samples: Sequence[Sample], traits: ModelTraits) -> list[GenerationRequest]:
        """One request per sample, in the same order."""

    def parse(self, raw_output: str) -> str:
        """Answer cleanup of one raw generated text."""
        return raw_output.strip()

    @abstractmethod
    def score(self, samples: Sequence[Sample], predictions: Mapping[str, str]) -> TaskScores:
        """Scores from parsed predictions keyed by sample id (skipped samples are absent)."""

    def exports(self, samples: Sequence[Sample], predictions: Mapping[str, str]) -> dict[str, Any]:
        """Extra files for the run directory, file name -> JSON value (e.g. a server submission)."""
        return {}

    def describe(self) -> dict[str, Any]:
        """Settings worth recording in results (prompt template, generation settings, ...)."""
        return {}
