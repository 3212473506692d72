"""Flickr30K 1K test image-text retrieval (BLIP-2 paper Table 5, "zero-shot" with the COCO-fine-tuned model).

Changelog:
- v1: LAVIS compute_sim_matrix protocol (ITC top-k_test=128, ITM re-rank), LAVIS _report_metrics.
"""

from __future__ import annotations

from blip2_bench.task_api.retrieval import ImageTextRetrievalTask


class Flickr30kTask(ImageTextRetrievalTask):
    name = "flickr30k"
    score_command = "blip2_bench.scoring.retrieval:flickr30k_main"
    version = 1
    dataset = "flickr30k"
    # LAVIS's builder stores flickr30k_test.json as flickr30k/annotations/test.json.
    lavis_files = ("flickr30k_test.json", "annotations/flickr30k_test.json", "flickr30k/annotations/test.json")
    karpathy_file = "dataset_flickr30k.json"
    # The image root holds flickr30k-images/ (LAVIS list) or the images themselves (Karpathy).
    image_roots = ("flickr30k/images", ".")


TASK = Flickr30kTask
