"""COCO 5K (Karpathy test) image-text retrieval (BLIP-2 paper Table 5, fine-tuned model).

Changelog:
- v1: LAVIS compute_sim_matrix protocol (ITC top-k_test=128, ITM re-rank), LAVIS _report_metrics.
"""

from __future__ import annotations

from blip2_bench.data.locate import COCO_IMAGE_ROOTS
from blip2_bench.task_api.retrieval import ImageTextRetrievalTask


class CocoRetrievalTask(ImageTextRetrievalTask):
    name = "coco_retrieval"
    score_command = "blip2_bench.scoring.retrieval:coco_retrieval_main"
    version = 1
    dataset = "coco"
    lavis_files = (
        "coco_karpathy_test.json",
        "annotations/coco_karpathy_test.json",
        "coco/annotations/coco_karpathy_test.json",
    )
    karpathy_file = "dataset_coco.json"
    # The image root holds val2014/ (both file forms name images relative to it).
    image_roots = COCO_IMAGE_ROOTS
    image_folder = "val2014"


TASK = CocoRetrievalTask
