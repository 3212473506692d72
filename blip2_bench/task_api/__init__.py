"""The contract a task plugin implements; tasks own data, prompts, parsing and metrics."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from ..types import GenerationRequest, ModelTraits, TaskScores

if TYPE_CHECKING:  # numpy for annotations only: `score` commands start without it
    import numpy as np

    from ..data.retrieval import RetrievalData


class Sample(Protocol):
    @property
    def sample_id(self) -> str: ...


class BaseTask(ABC):
    """What every task declares. A task never loads a model and never writes files."""

    name: ClassVar[str]
    version: ClassVar[int]
    """Bump (with a changelog line in the task's docstring) when prompt, parsing or metric change."""
    Options: ClassVar[type]
    """Dataclass schema of `task.<name>.*`; validated before any model loads."""
    needs: ClassVar[str]
    """The backend protocol the runner must find before any work."""

    score_command: ClassVar[str | None] = None
    """"module:function" behind `blip2-bench score <name>` (argv -> exit code), if the task has one."""

    def __init__(self, options: Any, data_root: Path) -> None:
        self.options = options
        self.data_root = data_root
        self._files: dict[str, Path] | None = None

    @abstractmethod
    def data_files(self) -> dict[str, Path]:
        """The data files this run reads (hashed into provenance), checked to exist."""

    def files(self) -> dict[str, Path]:
        """`data_files()`, found once per task (the folder search and checks run once)."""
        if self._files is None:
            self._files = self.data_files()
        return self._files

    def describe(self) -> dict[str, Any]:
        """Settings worth recording in results (prompt template, generation settings, ...)."""
        return {}


class GenerationTask(BaseTask):
    """A task answered by text generation: data -> requests, raw outputs -> scores."""

    needs: ClassVar[str] = "generate"

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


class RetrievalTask(BaseTask):
    """Image-text retrieval: a gallery of images and texts -> score matrices -> recall."""

    needs: ClassVar[str] = "retrieval"

    @abstractmethod
    def load(self, limit: int | None) -> RetrievalData:
        """Images and texts in file order (at most `limit` images, with all their texts)."""

    @abstractmethod
    def model_texts(self, data: RetrievalData) -> list[str]:
        """The texts as the model sees them (the task owns caption preprocessing)."""

    @abstractmethod
    def plan(self) -> RetrievalPlan:
        """Re-ranking settings for the runner."""

    @abstractmethod
    def score(self, data: RetrievalData, scores_i2t: np.ndarray, scores_t2i: np.ndarray) -> TaskScores:
        """Recall metrics and per-query records from the final score matrices."""


@dataclass(frozen=True)
class RetrievalPlan:
    rerank: bool
    """Re-score the top candidates with the ITM head (LAVIS), or rank by ITC alone."""
    k_test: int
    text_batch_size: int
    itm_batch_size: int
