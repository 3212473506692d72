"""OK-VQA accuracy as LAVIS computes BLIP-2's: lemmatized predictions, then the VQA evaluation.

LAVIS (``okvqa_zeroshot_flant5xl_eval.yaml``: ``task: vqa``, ``apply_lemmatizer: True``) lemmatizes
the generated answers inside ``predict_answers`` (``metrics/lemmatize.py``) and scores the result
file with its copy of the VQA evaluation (``lavis/common/vqa_tools/vqa_eval.py``, the pre-2021
official code: ``scorer="lavis"`` of ``metrics/vqa_accuracy.py``) against the official OK-VQA
annotations, whose ``answer`` fields are the v1.1 stemmed answers. Nothing else differs from VQAv2.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..data.okvqa import CATEGORIES
from .lemmatize import Lemmatizer
from .vqa_accuracy import VqaRecord, vqa_scores_rows


def okvqa_scores(
    records: Sequence[VqaRecord], lemmatizer: Lemmatizer, scorer: str = "lavis"
) -> tuple[dict[str, Any], list[str]]:
    """(scores, the predictions as scored, in record order).

    scores: the VQA evaluation's keys (``accuracy``, ``per_answer_type``, ``per_question_type``,
    ``per_question``; 0-100, rounded as the official code rounds) plus ``per_category`` (the
    question types under the OK-VQA paper's abbreviations, VT ... WC, Other) and ``lemmatizer``
    (``spacy:en_core_web_sm`` or ``none``) with ``lemmatizer_detail``.
    """
    scored = lemmatizer.apply([r.prediction for r in records])
    rows = [
        (r.question_id, answer, r.human_answers, r.answer_type, r.question_type)
        for r, answer in zip(records, scored, strict=True)
    ]
    scores = vqa_scores_rows(rows, scorer=scorer)
    per_type = scores["per_question_type"]
    scores["per_category"] = {CATEGORIES[code][0]: per_type[code] for code in CATEGORIES if code in per_type}
    scores["lemmatizer"] = lemmatizer.name
    scores["lemmatizer_detail"] = lemmatizer.detail
    return scores, scored
