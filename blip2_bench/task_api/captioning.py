"""The captioning protocol shared by coco_caption and nocaps (BLIP-2 paper Table 3, LAVIS).

Protocol (LAVIS lavis/projects/blip2/eval/caption_coco_*_eval.yaml + blip2_opt/blip2_t5.generate):
prompt "a photo of"; the scored caption is the generated continuation only (LAVIS decodes
the new tokens, so the prompt is never part of it), cut at the first newline and stripped;
5 beams, at most 30 and at least 8 new tokens; repetition penalty 1.0 and length penalty 1.0
(the generate() defaults the paper-era captioning task ran with: it passed neither; LAVIS
71a2da9, 2023-12-06, made the task default to 1.15 and 0.0 when unset, so both are pinned).

Min length, pinned as new tokens only: LAVIS from May 2023 (8491f1d) generates from
embeddings, where min_length counts new tokens; the January 2023 release (cd4db98) passed
the prompt as input_ids, so its min_length=8 also counted the prompt's tokens.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..data.coco_captions import CaptionSample
from ..data.locate import find_in_root
from ..errors import BadInputError
from ..metrics.captions import SCORERS
from ..metrics.spice import SPICE_MODES, find_java
from ..scoring.captions import coverage_note
from ..types import GenerationRequest, GenerationSettings, ModelTraits
from . import GenerationTask

PENALTIES_NOTE = (
    "pinned: repetition_penalty and length_penalty as set (defaults 1.0/1.0: blip2_opt/blip2_t5.generate's "
    "defaults, which the paper-era LAVIS captioning task used by passing neither); LAVIS since 71a2da9 "
    "(2023-12-06) silently uses 1.15/0.0 when a config leaves them unset"
)
MIN_LENGTH_NOTE = (
    "min_new_tokens counts generated tokens only (LAVIS >= 8491f1d, generation from embeddings); LAVIS's "
    "Jan-2023 release counted the prompt's tokens toward min_length=8 as well"
)


@dataclass(frozen=True)
class CaptionProtocolOptions:
    """Generation and metric settings shared by the captioning tasks."""

    prompt: str = "a photo of"
    """Text the caption continues; never part of the scored caption."""
    num_beams: int = 5
    max_new_tokens: int = 30
    min_new_tokens: int = 8
    """Counted in new tokens only (see the module docstring)."""
    repetition_penalty: float = 1.0
    length_penalty: float = 1.0
    spice: str = "auto"
    """auto: SPICE when its jars and a suitable Java are present (else "not computed" + reason); off."""
    scorers: str = "numpy"
    """Who computes BLEU, ROUGE-L, CIDEr-D: numpy (fast, pycocoevalcap's bits) or pycocoevalcap."""

    def __post_init__(self) -> None:
        if self.spice not in SPICE_MODES:
            raise BadInputError(f"spice must be one of {SPICE_MODES}, got {self.spice!r}")
        if self.scorers not in SCORERS:
            raise BadInputError(f"scorers must be one of {SCORERS}, got {self.scorers!r}")
        if not 0 <= self.min_new_tokens <= self.max_new_tokens or self.num_beams < 1:
            raise BadInputError("need num_beams >= 1 and 0 <= min_new_tokens <= max_new_tokens")


class CaptionTask(GenerationTask):
    """Requests, parsing, records and settings shared by coco_caption and nocaps."""

    options: CaptionProtocolOptions

    def _find(self, explicit: str | None, names: Sequence[str], folders: Sequence[str]) -> Path:
        return find_in_root(self.data_root, names, folders, explicit=explicit)  # missing: data_files() says so

    def _check_java(self) -> None:
        # Before any model loads: the metrics need Java, and a missing one should not surface after generation.
        find_java()

    def settings(self) -> GenerationSettings:
        o = self.options
        return GenerationSettings(
            o.num_beams, o.max_new_tokens, o.min_new_tokens, o.length_penalty, o.repetition_penalty
        )

    def requests(self, samples: Sequence[CaptionSample], traits: ModelTraits) -> list[GenerationRequest]:
        settings = self.settings()
        return [GenerationRequest(s.sample_id, s.image, self.options.prompt, settings) for s in samples]

    def parse(self, raw_output: str) -> str:
        # The backend returns the continuation only; LAVIS's blip2_opt stops at "\n" and strips.
        return raw_output.split("\n", 1)[0].strip()

    @staticmethod
    def _scored(
        samples: Sequence[CaptionSample], predictions: Mapping[str, str]
    ) -> tuple[dict[int, tuple[str, ...]], dict[int, str], str | None]:
        refs = {s.image_id: s.references or () for s in samples}
        preds = {s.image_id: predictions[s.sample_id] for s in samples if s.sample_id in predictions}
        return refs, preds, coverage_note(list(refs), preds, "this run", allow_partial=True)

    @staticmethod
    def _records(
        samples: Sequence[CaptionSample],
        predictions: Mapping[str, str],
        per_image: Mapping[str, Any],
        stats: Mapping[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """One record per predicted image; `stats` (per-image BLEU/METEOR sufficient statistics)
        let the comparison report bootstrap corpus metrics."""
        records = []
        for s in samples:
            if s.sample_id in predictions:
                extra: dict[str, Any] = {"domain": s.domain} if s.domain is not None else {}
                if stats and s.sample_id in stats:
                    extra["stats"] = stats[s.sample_id]
                records.append({"id": s.sample_id, "image_id": s.image_id, **extra, **per_image.get(s.sample_id, {})})
        return records

    @staticmethod
    def _results_file(samples: Sequence[CaptionSample], predictions: Mapping[str, str]) -> list[dict[str, Any]]:
        # The COCO / NoCaps server format.
        return [
            {"image_id": s.image_id, "caption": predictions[s.sample_id]} for s in samples if s.sample_id in predictions
        ]

    def describe(self) -> dict[str, Any]:
        return {
            "prompt": self.options.prompt,
            "scored_caption": "generated continuation only (prompt excluded), cut at the first newline, stripped",
            "generation": self.settings().__dict__,
            "min_new_tokens_reading": MIN_LENGTH_NOTE,
            "penalties": PENALTIES_NOTE,
            "metrics": "pycocoevalcap COCOEvalCap keys and 0-1 scale (CIDEr ~0-10); table.md/csv show x100",
            "spice": self.options.spice,
        }
