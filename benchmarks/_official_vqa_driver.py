"""Score VQAv2 files with the test suite's restatement of the official evaluator, used as upstream uses it.

Usage: python benchmarks/_official_vqa_driver.py QUESTIONS ANNOTATIONS RESULTS OUT_JSON [--scorer official|lavis]

Upstream's demo (PythonEvaluationTools/vqaEvalDemo.py) does `vqa = VQA(annFile, quesFile)`,
`vqaRes = vqa.loadRes(resFile, quesFile)`, `VQAEval(vqa, vqaRes, n=2).evaluate()`. The VQA
class's work (json.load of both files, index by question_id, loadRes copying the question's
types onto each result) is restated below; the evaluation itself is
tests/unit/_official_vqa_reference.py. Upstream's progress printing is left out.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "unit"))
from _official_vqa_reference import ReferenceVQAEval  # noqa: E402


def _vqa_index(annotation_file: Path, question_file: Path) -> tuple[dict, dict]:
    # VQA.__init__ + createIndex: qa and qqa keyed by question_id.
    dataset = json.load(open(annotation_file))
    questions = json.load(open(question_file))
    qa = {ann["question_id"]: ann for ann in dataset["annotations"]}
    qqa = {q["question_id"]: q for q in questions["questions"]}
    return qa, qqa


def _load_res(results_file: Path, qa: dict) -> dict:
    # VQA.loadRes: every question answered, types copied from the annotation.
    anns = json.load(open(results_file))
    assert isinstance(anns, list), "results is not an array of objects"
    assert {ann["question_id"] for ann in anns} == set(qa), "results do not cover every question"
    res = {}
    for ann in anns:
        qa_ann = qa[ann["question_id"]]
        ann["image_id"] = qa_ann["image_id"]
        ann["question_type"] = qa_ann["question_type"]
        ann["answer_type"] = qa_ann["answer_type"]
        res[ann["question_id"]] = ann
    return res


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("questions", type=Path)
    parser.add_argument("annotations", type=Path)
    parser.add_argument("results", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--scorer", choices=("official", "lavis"), default="official")
    args = parser.parse_args()
    qa, qqa = _vqa_index(args.annotations, args.questions)
    res = _load_res(args.results, qa)
    ev = ReferenceVQAEval({"official": "head", "lavis": "pre2021"}[args.scorer], n=2)
    ev.evaluate(qa, res)
    out = {**ev.accuracy, "perQuestion": {str(q): v for q, v in ev.evalQA.items()}}
    args.out.write_text(json.dumps(out))
    print(f"Overall Accuracy is: {ev.accuracy['overall']:.2f}")


if __name__ == "__main__":
    main()
