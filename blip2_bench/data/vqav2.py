"""VQAv2 loaders: the official visualqa.org JSON files, or a Hugging Face `datasets` source."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import BadInputError
from ..types import ImageSource
from .vqav2_official import IMAGE_FOLDERS, Annotation, read_official

__all__ = ["IMAGE_FOLDERS", "VqaSample", "coco_image_path", "load_hf", "load_official"]


@dataclass(frozen=True)
class VqaSample:
    question_id: int
    image_id: int
    question: str
    """The question exactly as in the file (preprocessing happens when the prompt is built)."""
    image: ImageSource
    answers: tuple[str, ...] | None
    """The 10 raw human answers, or None where the split has no annotations (test-dev)."""
    answer_type: str = ""
    question_type: str = ""

    @property
    def sample_id(self) -> str:
        return str(self.question_id)


def coco_image_path(image_dir: Path, folder: str, image_id: int) -> Path:
    return image_dir / f"COCO_{folder}_{image_id:012d}.jpg"


def load_official(
    questions_file: Path, annotations_file: Path | None, image_dir: Path, limit: int | None = None
) -> list[VqaSample]:
    """Questions (and annotations, where the split has them) in the official v2 format."""
    data = read_official(questions_file, annotations_file, limit)
    folder = IMAGE_FOLDERS[data.subtype]
    samples: list[VqaSample] = []
    for qid, image_id, text in data.questions:
        path = coco_image_path(image_dir, folder, image_id)
        ann = data.annotations[qid] if data.annotations is not None else None
        samples.append(_sample(qid, image_id, text, ImageSource(f"coco:{image_id}", path=str(path)), ann))
    return samples


def _sample(qid: int, image_id: int, question: str, image: ImageSource, ann: Annotation | None) -> VqaSample:
    if ann is None:
        return VqaSample(qid, image_id, question, image, None)
    answers, answer_type, question_type = ann
    return VqaSample(qid, image_id, question, image, answers, answer_type, question_type)


def load_hf(source: str, split: str, limit: int | None = None) -> list[VqaSample]:
    """A `datasets` source in the lmms-lab/VQAv2 schema: a hub id, or local parquet/arrow files."""
    dataset = _open_hf_dataset(source, split)
    needed = {"question_id", "image_id", "question", "image"}
    missing = needed - set(dataset.column_names)
    if missing:
        raise BadInputError(f"{source}: dataset lacks column(s) {', '.join(sorted(missing))}")
    import datasets

    # Keep encoded bytes: the harness decodes (and reports corrupt images) itself.
    dataset = dataset.cast_column("image", datasets.Image(decode=False))
    if limit:
        dataset = dataset.select(range(min(limit, len(dataset))))
    if len(dataset) == 0:
        raise BadInputError(f"{source}: split {split!r} is empty")
    has_answers = "answers" in dataset.column_names
    samples: list[VqaSample] = []
    seen: set[int] = set()
    for i, row in enumerate(dataset):
        qid, image_id = int(row["question_id"]), int(row["image_id"])
        if qid in seen:
            raise BadInputError(f"{source}: row {i}: duplicate question_id {qid}")
        seen.add(qid)
        image = ImageSource(f"coco:{image_id}", data=row["image"]["bytes"], path=None)
        if image.data is None:
            image = ImageSource(f"coco:{image_id}", path=row["image"]["path"])
        ann = _hf_annotation(row) if has_answers and row["answers"] else None
        samples.append(_sample(qid, image_id, row["question"], image, ann))
    return samples


def _hf_annotation(row: Mapping[str, Any]) -> Annotation:
    return tuple(a["answer"] for a in row["answers"]), str(row["answer_type"]), str(row["question_type"])


def _open_hf_dataset(source: str, split: str) -> Any:
    import datasets

    path = Path(source)
    try:
        if path.is_file() or path.is_dir():
            files = sorted(path.glob("**/*.parquet")) if path.is_dir() else [path]
            builder = "arrow" if files and files[0].suffix == ".arrow" else "parquet"
            if not files:
                files = sorted(path.glob("**/*.arrow"))
                builder = "arrow"
            if not files:
                raise BadInputError(f"{source}: no .parquet or .arrow files found")
            return datasets.load_dataset(builder, data_files=[str(f) for f in files], split="train")
        return datasets.load_dataset(source, split=split)
    except BadInputError:
        raise
    except Exception as exc:  # datasets raises many types for a missing or offline hub id
        raise BadInputError(f"cannot open dataset {source!r} split {split!r}: {type(exc).__name__}: {exc}") from None
