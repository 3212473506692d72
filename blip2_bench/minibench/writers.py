"""Write mini-benchmark scenes in the official file formats (VQAv2, COCO Karpathy, NoCaps, Flickr30k)."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .language import Question
from .scenes import IMAGE_SIZE, Scene, jpeg_bytes, render

_VQA_INFO = {
    "description": "This is v2.0 of the VQA dataset.",
    "url": "http://visualqa.org",
    "version": "2.0",
    "year": 2017,
    "contributor": "VQA Team",
    "date_created": "2017-04-26 17:07:13",
}
_VQA_LICENSE = {
    "url": "http://creativecommons.org/licenses/by/4.0/",
    "name": "Creative Commons Attribution 4.0 International License",
}
_CONFIDENCES = ("yes", "yes", "yes", "maybe", "yes", "no", "yes", "yes", "maybe", "yes")


@dataclass(frozen=True)
class VqaItem:
    image_id: int
    scene: Scene
    questions: tuple[Question, ...]
    answers: tuple[tuple[str, ...], ...]
    """Ten raw human answers per question."""
    majorities: tuple[str, ...]


@dataclass(frozen=True)
class CaptionItem:
    image_id: int
    """COCO id, NoCaps id, or the Flickr30k file stem as a number."""
    scene: Scene
    captions: tuple[str, ...]
    """Raw reference captions."""
    open_images_id: str = ""
    """NoCaps only."""


def write_json(path: Path, doc: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def save_image(path: Path, scene: Scene) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(jpeg_bytes(render(scene, IMAGE_SIZE)))


def coco_name(folder: str, image_id: int) -> str:
    return f"COCO_{folder}_{image_id:012d}.jpg"


def write_vqav2(root: Path, subtype: str, items: Sequence[VqaItem]) -> tuple[Path, Path]:
    """v2_OpenEnded_mscoco_<subtype>_questions.json + v2_mscoco_<subtype>_annotations.json + <subtype>/ images."""
    questions, annotations = [], []
    for item in items:
        save_image(root / subtype / coco_name(subtype, item.image_id), item.scene)
        for k, (q, raw, mc) in enumerate(zip(item.questions, item.answers, item.majorities, strict=True)):
            qid = item.image_id * 1000 + k  # VQAv2's question id rule
            questions.append({"image_id": item.image_id, "question": q.text, "question_id": qid})
            answers = [
                {"answer": a, "answer_confidence": _CONFIDENCES[(j + k) % 10], "answer_id": j + 1}
                for j, a in enumerate(raw)
            ]
            annotations.append(
                {
                    "question_type": q.question_type,
                    "multiple_choice_answer": mc,
                    "answers": answers,
                    "image_id": item.image_id,
                    "answer_type": q.answer_type,
                    "question_id": qid,
                }
            )
    header = {"info": _VQA_INFO, "task_type": "Open-Ended", "data_type": "mscoco", "license": _VQA_LICENSE}
    q_file = write_json(
        root / f"v2_OpenEnded_mscoco_{subtype}_questions.json",
        {**header, "data_subtype": subtype, "questions": questions},
    )
    a_file = write_json(
        root / f"v2_mscoco_{subtype}_annotations.json",
        {
            "info": _VQA_INFO,
            "license": _VQA_LICENSE,
            "data_subtype": subtype,
            "annotations": annotations,
            "data_type": "mscoco",
        },
    )
    return q_file, a_file


def _tokens(raw: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", raw.lower())  # Karpathy's tokens: lowercase, no punctuation


def _karpathy_entry(imgid: int, filename: str, split: str, captions: Sequence[str], sentid: int) -> dict:
    sentences = [{"tokens": _tokens(c), "raw": c, "imgid": imgid, "sentid": sentid + j} for j, c in enumerate(captions)]
    return {
        "sentids": [s["sentid"] for s in sentences],
        "imgid": imgid,
        "sentences": sentences,
        "split": split,
        "filename": filename,
    }


def write_coco_karpathy(root: Path, test: Sequence[CaptionItem], train: Sequence[CaptionItem] = ()) -> list[Path]:
    """coco_karpathy_test.json + _gt.json (LAVIS) and dataset_coco.json (Karpathy; train images too)."""
    lavis, gt_images, gt_anns, karpathy, sentid = [], [], [], [], 0
    for split, folder, items in (("test", "val2014", test), ("train", "train2014", train)):
        for item in items:
            name = coco_name(folder, item.image_id)
            save_image(root / folder / name, item.scene)
            entry = _karpathy_entry(len(karpathy), name, split, item.captions, sentid)
            karpathy.append({"filepath": folder, **entry, "cocoid": item.image_id})
            sentid += len(item.captions)
            if split == "test":
                lavis.append({"image": f"{folder}/{name}", "caption": list(item.captions)})
                gt_images.append({"id": item.image_id})
                gt_anns += [
                    {"image_id": item.image_id, "caption": c, "id": len(gt_anns) + j}
                    for j, c in enumerate(item.captions)
                ]
    return [
        write_json(root / "coco_karpathy_test.json", lavis),
        write_json(root / "coco_karpathy_test_gt.json", {"annotations": gt_anns, "images": gt_images}),
        write_json(root / "dataset_coco.json", {"images": karpathy, "dataset": "coco"}),
    ]


def write_nocaps_val(root: Path, items: Sequence[CaptionItem]) -> Path:
    """nocaps_val_4500_captions.json (nocaps.org layout, a domain per image) + val/<open_images_id>.jpg."""
    images, annotations = [], []
    for item in items:
        file_name = f"{item.open_images_id}.jpg"
        save_image(root / "val" / file_name, item.scene)
        images.append(
            {
                "id": item.image_id,
                "open_images_id": item.open_images_id,
                "height": IMAGE_SIZE,
                "width": IMAGE_SIZE,
                "coco_url": f"https://s3.amazonaws.com/nocaps/val/{file_name}",
                "file_name": file_name,
                "license": 0,
                "date_captured": "2018-11-06 11:04:33",
                "domain": item.scene.domain,
            }
        )
        annotations += [
            {"image_id": item.image_id, "id": len(annotations) + j, "caption": c} for j, c in enumerate(item.captions)
        ]
    info = {
        "url": "",
        "date_created": "2018/11/06",
        "version": "0.1",
        "year": 2018,
        "contributor": "nocaps team",
        "description": "nocaps val dataset (blip2-bench minibench)",
    }
    return write_json(
        root / "nocaps_val_4500_captions.json",
        {"licenses": [], "info": info, "images": images, "annotations": annotations},
    )


def write_flickr30k(root: Path, test: Sequence[CaptionItem], train: Sequence[CaptionItem] = ()) -> list[Path]:
    """flickr30k_test.json (LAVIS) + dataset_flickr30k.json (Karpathy, sorted by file name) + flickr30k-images/."""
    entries = [
        (f"{item.image_id}.jpg", split, item) for split, items in (("test", test), ("train", train)) for item in items
    ]
    entries.sort(key=lambda e: e[0])  # Karpathy's file lists images sorted by file name (as strings)
    lavis, karpathy, sentid = [], [], 0
    for filename, split, item in entries:
        save_image(root / "flickr30k-images" / filename, item.scene)
        karpathy.append(_karpathy_entry(len(karpathy), filename, split, item.captions, sentid))
        sentid += len(item.captions)
        if split == "test":
            lavis.append({"image": f"flickr30k-images/{filename}", "caption": list(item.captions)})
    return [
        write_json(root / "flickr30k_test.json", lavis),
        write_json(root / "dataset_flickr30k.json", {"images": karpathy, "dataset": "flickr30k"}),
    ]
