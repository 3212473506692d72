"""Test-only restatement of the official VQA evaluator, control flow kept literal.

Mirrors GT-Vision-Lab/VQA PythonEvaluationTools/vqaEvaluation/vqaEval.py in
Python 3: ``version="head"`` is a013f0043c1e (2021, "Fixed processing answers
bug"), ``version="pre2021"`` is 458a8b268b1a (== salesforce/LAVIS
lavis/common/vqa_tools/vqa_eval.py). It deliberately keeps the upstream shape
(annotation dicts with answer_id, in-place mutation of the answer dicts, the
gtAcc loop over otherGTAns, setdefault on the number map, sub() with
re.UNICODE passed as count) rather than reusing the production helpers; only
the data tables are shared, and those are pinned by digest in the tests.
"""

from __future__ import annotations

import re

from blip2_bench.metrics.vqa_accuracy import (
    _ARTICLES,
    _CONTRACTIONS,
    _MANUAL_MAP,
    _PUNCT,
)


class ReferenceVQAEval:
    def __init__(self, version: str, n: int = 2) -> None:
        assert version in ("head", "pre2021")
        self.version = version
        self.n = n
        self.accuracy: dict = {}
        self.evalQA: dict = {}
        self.contractions = dict(_CONTRACTIONS)
        self.manualMap = dict(_MANUAL_MAP)
        self.articles = list(_ARTICLES)
        self.punct = list(_PUNCT)
        self.periodStrip = re.compile(r"(?!<=\d)(\.)(?!\d)")
        self.commaStrip = re.compile(r"(\d)(\,)(\d)")

    def processPunctuation(self, inText: str) -> str:
        outText = inText
        for p in self.punct:
            cond = p + " " in inText or " " + p in inText
            if cond or (re.search(self.commaStrip, inText) is not None):
                outText = outText.replace(p, "")
            else:
                outText = outText.replace(p, " ")
        # upstream passes re.UNICODE positionally, i.e. as `count`
        return self.periodStrip.sub("", outText, int(re.UNICODE))

    def processDigitArticle(self, inText: str) -> str:
        outText = []
        for word in inText.lower().split():
            word = self.manualMap.setdefault(word, word)
            if word not in self.articles:
                outText.append(word)
        for wordId, word in enumerate(outText):
            if word in self.contractions:
                outText[wordId] = self.contractions[word]
        return " ".join(outText)

    def evaluate(self, gts: dict, res: dict) -> None:
        """gts: {qid: {"answers": [{"answer", "answer_id"}], "question_type",
        "answer_type"}}, res: {qid: {"answer": str}}; gts is mutated like upstream."""
        accQA: list = []
        accQuesType: dict = {}
        accAnsType: dict = {}
        for quesId in gts:
            if self.version == "head":
                for ansDic in gts[quesId]["answers"]:
                    ansDic["answer"] = ansDic["answer"].replace("\n", " ")
                    ansDic["answer"] = ansDic["answer"].replace("\t", " ")
                    ansDic["answer"] = ansDic["answer"].strip()
            resAns = res[quesId]["answer"]
            resAns = resAns.replace("\n", " ")
            resAns = resAns.replace("\t", " ")
            resAns = resAns.strip()
            if self.version == "pre2021":
                resAns = self.processPunctuation(resAns)
                resAns = self.processDigitArticle(resAns)
            gtAcc = []
            gtAnswers = [ans["answer"] for ans in gts[quesId]["answers"]]
            if len(set(gtAnswers)) > 1:
                for ansDic in gts[quesId]["answers"]:
                    ansDic["answer"] = self.processPunctuation(ansDic["answer"])
                    if self.version == "head":
                        ansDic["answer"] = self.processDigitArticle(ansDic["answer"])
                if self.version == "head":
                    resAns = self.processPunctuation(resAns)
                    resAns = self.processDigitArticle(resAns)
            for gtAnsDatum in gts[quesId]["answers"]:
                otherGTAns = [item for item in gts[quesId]["answers"] if item != gtAnsDatum]
                matchingAns = [item for item in otherGTAns if item["answer"] == resAns]
                acc = min(1, float(len(matchingAns)) / 3)
                gtAcc.append(acc)
            quesType = gts[quesId]["question_type"]
            ansType = gts[quesId]["answer_type"]
            avgGTAcc = float(sum(gtAcc)) / len(gtAcc)
            accQA.append(avgGTAcc)
            accQuesType.setdefault(quesType, []).append(avgGTAcc)
            accAnsType.setdefault(ansType, []).append(avgGTAcc)
            self.evalQA[quesId] = round(100 * avgGTAcc, self.n)
        self.raw = accQA

        def pct(v: list) -> float:
            return round(100 * float(sum(v)) / len(v), self.n)

        self.accuracy["overall"] = pct(accQA)
        self.accuracy["perQuestionType"] = {t: pct(v) for t, v in accQuesType.items()}
        self.accuracy["perAnswerType"] = {t: pct(v) for t, v in accAnsType.items()}


def reference_eval(records, scorer: str) -> ReferenceVQAEval:
    """Run the reference on (qid, prediction, humans, answer_type, question_type)."""
    version = {"official": "head", "lavis": "pre2021"}[scorer]
    gts = {
        q: {
            "answers": [{"answer": a, "answer_id": i + 1, "answer_confidence": "yes"} for i, a in enumerate(humans)],
            "question_type": qt,
            "answer_type": at,
        }
        for q, _, humans, at, qt in records
    }
    res = {q: {"answer": pred} for q, pred, _, _, _ in records}
    ev = ReferenceVQAEval(version)
    ev.evaluate(gts, res)
    return ev


def reference_accuracy(prediction: str, humans, scorer: str) -> float:
    return reference_eval([(1, prediction, list(humans), "a", "q")], scorer).raw[0]
