"""VQAv2 loaders: the official visualqa.org JSON files, or a Hugging Face `datasets` source."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import BadInputError
from ..types import ImageSource
from .json_files import read_json, require_keys, require_list, require_type


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


# data_subtype in the questions file -> the COCO image folder its images live in.
IMAGE_FOLDERS = {"val2014": "val2014", "train2014": "train2014", "test-dev2015": "test2015", "test2015": "test2015"}


def coco_image_path(image_dir: Path, folder: str, image_id: int) -> Path:
    return image_dir / f"COCO_{folder}_{image_id:012d}.jpg"


def load_official(
    questions_file: Path, annotations_file: Path | None, image_dir: Path, limit: int | None = None
) -> list[VqaSample]:
    """Questions (and annotations, where the split has them) in the official v2 format."""
    qdoc = require_keys(read_json(questions_file, "VQAv2 questions file"), ["questions"], questions_file, "top level")
    subtype = qdoc.get("data_subtype", "val2014")
    folder = IMAGE_FOLDERS.get(subtype)
    if folder is None:
        raise BadInputError(f"{questions_file}: unknown data_subtype {subtype!r} (known: {', '.join(IMAGE_FOLDERS)})")
    questions = require_list(qdoc["questions"], questions_file, "'questions'")
    if not questions:
        raise BadInputError(f"{questions_file}: 'questions' is empty")
    annotations = _annotations_by_id(annotations_file) if annotations_file is not None else None

    samples: list[VqaSample] = []
    seen: set[int] = set()
    for i, q in enumerate(questions[:limit] if limit else questions):
        where = f"questions[{i}]"
        require_keys(q, ["image_id", "question", "question_id"], questions_file, where)
        qid = require_type(q["question_id"], int, questions_file, f"{where}.question_id")
        image_id = require_type(q["image_id"], int, questions_file, f"{where}.image_id")
        text = require_type(q["question"], str, questions_file, f"{where}.question")
        if qid in seen:
            raise BadInputError(f"{questions_file}: {where}: duplicate question_id {qid}")
        seen.add(qid)
        ann: Mapping[str, Any] | None = None
        if annotations is not None:
            ann = annotations.get(qid)
            if ann is None:
                raise BadInputError(
                    f"{annotations_file}: no annotation for question_id {qid} ({questions_file} {where})"
                )
        path = coco_image_path(image_dir, folder, image_id)
        samples.append(_sample(qid, image_id, text, ImageSource(f"coco:{image_id}", path=str(path)), ann))
    return samples


def _annotations_by_id(path: Path) -> dict[int, Mapping[str, Any]]:
    doc = require_keys(read_json(path, "VQAv2 annotations file"), ["annotations"], path, "top level")
    by_id: dict[int, Mapping[str, Any]] = {}
    for i, ann in enumerate(require_list(doc["annotations"], path, "'annotations'")):
        where = f"annotations[{i}]"
        require_keys(ann, ["question_id", "answers", "answer_type", "question_type"], path, where)
        qid = require_type(ann["question_id"], int, path, f"{where}.question_id")
        if qid in by_id:
            raise BadInputError(f"{path}: {where}: duplicate question_id {qid}")
        answers = require_list(ann["answers"], path, f"{where}.answers")
        if not answers:
            raise BadInputError(f"{path}: {where}: no human answers")
        for j, a in enumerate(answers):
            require_keys(a, ["answer"], path, f"{where}.answers[{j}]")
            require_type(a["answer"], str, path, f"{where}.answers[{j}].answer")
        by_id[qid] = ann
    return by_id


def _sample(qid: int, image_id: int, question: str, image: ImageSource, ann: Mapping[str, Any] | None) -> VqaSample:
    if ann is None:
        return VqaSample(qid, image_id, question, image, None)
    return VqaSample(
        qid,
        image_id,
        question,
        image,
        tuple(a["answer"] for a in ann["answers"]),
        str(ann["answer_type"]),
        str(ann["question_type"]),
    )


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
        ann = row if has_answers and row["answers"] else None
        samples.append(_sample(qid, image_id, row["question"], image, ann))
    return samples


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
