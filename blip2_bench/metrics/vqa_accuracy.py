"""VQAv2 accuracy, reproducing the official evaluation code in two versions.

Sources (read from git history, re-implemented here, nothing vendored):

* ``scorer="official"``: GT-Vision-Lab/VQA HEAD,
  ``PythonEvaluationTools/vqaEvaluation/vqaEval.py`` at a013f0043c1e ("Fixed
  processing answers bug", 2021-03-11, also the repo HEAD).
* ``scorer="lavis"``: the same file before that commit (458a8b268b1a, 2016),
  which salesforce/LAVIS ships as ``lavis/common/vqa_tools/vqa_eval.py``
  (c2cfb001a685); its tables and scoring logic are identical to 458a8b2.

What each version does to one question (tables and helpers are shared):

* lavis (pre-2021): the prediction is ALWAYS cleaned (``\\n``/``\\t`` -> space,
  strip) and fully normalized (processPunctuation then processDigitArticle:
  lower-case, number words -> digits, articles dropped, contractions). The
  human answers get no whitespace cleanup; if they are not all identical
  (``len(set(gtAnswers)) > 1`` on the raw strings) they get processPunctuation
  ONLY - no lower-casing, no digits/articles/contractions. If they are all
  identical they are compared raw against the normalized prediction, so ten
  "two" never match any prediction (the prediction "two" becomes "2").
* official (HEAD): human answers and prediction both get the whitespace
  cleanup first. Then, only if the cleaned human answers are not all identical,
  BOTH sides get the full normalization. If they are all identical, NEITHER
  side is normalized: the comparison is exact on cleaned strings, so ten "dog"
  do not match "a dog" or "Dog". A claim that HEAD "skips normalization when
  all 10 human answers are identical" is right, provided it is read as skipping
  the prediction's normalization too; the identical-answers condition itself
  predates 2021 (there it only ever gated the human answers' punctuation step).

Then, in both: accuracy = mean over the leave-one-out subsets (one per human
answer; VQA answer dicts carry distinct answer_id, so ``item != gtAnsDatum``
drops exactly one) of ``min(1, matches / 3)``: 0/1/2/3+ matches give
0, 0.3, 0.6, 0.9, 1.0 over 10 answers.

Python 2 vs 3: the official file is Python 2 only (print statements); it is
used today through Python 3 ports (LAVIS, pip copies), so Python 3 semantics
are reproduced. All divisions there use float(), so none change. Two do change:
``round`` (Python 2 rounds exact binary ties such as 3.125 away from zero to
3.13; Python 3 gives 3.12) and ``\\d`` (Python 2 with unicode input and no
re.UNICODE flag matched only ASCII digits; Python 3 matches any Unicode digit).
Both are negligible in practice; we use the Python 3 behaviour.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

SCORERS: tuple[str, ...] = ("official", "lavis")

# Verbatim data of the official tables, quirks kept: capitalised keys ("Im",
# "Id've", ...) can never match because words are lower-cased first, "let's"
# and "she's" map to themselves, and "somebody'd" maps to "somebodyd".
_CONTRACTIONS: dict[str, str] = {
    "aint": "ain't", "arent": "aren't", "cant": "can't", "couldve": "could've",
    "couldnt": "couldn't", "couldn'tve": "couldn't've", "couldnt've": "couldn't've",
    "didnt": "didn't", "doesnt": "doesn't", "dont": "don't", "hadnt": "hadn't",
    "hadnt've": "hadn't've", "hadn'tve": "hadn't've", "hasnt": "hasn't",
    "havent": "haven't", "hed": "he'd", "hed've": "he'd've", "he'dve": "he'd've",
    "hes": "he's", "howd": "how'd", "howll": "how'll", "hows": "how's",
    "Id've": "I'd've", "I'dve": "I'd've", "Im": "I'm", "Ive": "I've", "isnt": "isn't",
    "itd": "it'd", "itd've": "it'd've", "it'dve": "it'd've", "itll": "it'll",
    "let's": "let's", "maam": "ma'am", "mightnt": "mightn't",
    "mightnt've": "mightn't've", "mightn'tve": "mightn't've", "mightve": "might've",
    "mustnt": "mustn't", "mustve": "must've", "neednt": "needn't", "notve": "not've",
    "oclock": "o'clock", "oughtnt": "oughtn't", "ow's'at": "'ow's'at",
    "'ows'at": "'ow's'at", "'ow'sat": "'ow's'at", "shant": "shan't",
    "shed've": "she'd've", "she'dve": "she'd've", "she's": "she's",
    "shouldve": "should've", "shouldnt": "shouldn't", "shouldnt've": "shouldn't've",
    "shouldn'tve": "shouldn't've", "somebody'd": "somebodyd",
    "somebodyd've": "somebody'd've", "somebody'dve": "somebody'd've",
    "somebodyll": "somebody'll", "somebodys": "somebody's", "someoned": "someone'd",
    "someoned've": "someone'd've", "someone'dve": "someone'd've",
    "someonell": "someone'll", "someones": "someone's", "somethingd": "something'd",
    "somethingd've": "something'd've", "something'dve": "something'd've",
    "somethingll": "something'll", "thats": "that's", "thered": "there'd",
    "thered've": "there'd've", "there'dve": "there'd've", "therere": "there're",
    "theres": "there's", "theyd": "they'd", "theyd've": "they'd've",
    "they'dve": "they'd've", "theyll": "they'll", "theyre": "they're",
    "theyve": "they've", "twas": "'twas", "wasnt": "wasn't", "wed've": "we'd've",
    "we'dve": "we'd've", "weve": "we've", "werent": "weren't", "whatll": "what'll",
    "whatre": "what're", "whats": "what's", "whatve": "what've", "whens": "when's",
    "whered": "where'd", "wheres": "where's", "whereve": "where've", "whod": "who'd",
    "whod've": "who'd've", "who'dve": "who'd've", "wholl": "who'll", "whos": "who's",
    "whove": "who've", "whyll": "why'll", "whyre": "why're", "whys": "why's",
    "wont": "won't", "wouldve": "would've", "wouldnt": "wouldn't",
    "wouldnt've": "wouldn't've", "wouldn'tve": "wouldn't've", "yall": "y'all",
    "yall'll": "y'all'll", "y'allll": "y'all'll", "yall'd've": "y'all'd've",
    "y'alld've": "y'all'd've", "y'all'dve": "y'all'd've", "youd": "you'd",
    "youd've": "you'd've", "you'dve": "you'd've", "youll": "you'll", "youre": "you're",
    "youve": "you've",
}  # fmt: skip
_MANUAL_MAP: dict[str, str] = {
    "none": "0", "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4",
    "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9", "ten": "10",
}  # fmt: skip
_ARTICLES: tuple[str, ...] = ("a", "an", "the")
# Upstream order kept (results do not depend on it: every test reads the original text).
# Absent on purpose (as upstream): "'", ":", ".", "*", "#", "$", "%", "&", "~".
_PUNCT: tuple[str, ...] = (
    ";", "/", "[", "]", '"', "{", "}", "(", ")", "=", "+", "\\", "_", "-",
    ">", "<", "@", "`", ",", "?", "!",
)  # fmt: skip
# Upstream typo kept: "(?!<=\d)" is a negative LOOKAHEAD for the text "<=" plus
# a digit (meant as a lookbehind); before a "." it always succeeds, so this is
# effectively r"\.(?!\d)": drop a period unless a digit follows ("3.5" stays).
_PERIOD_STRIP = re.compile(r"(?!<=\d)(\.)(?!\d)")
_COMMA_STRIP = re.compile(r"(\d)(,)(\d)")
# Upstream calls periodStrip.sub("", text, re.UNICODE): the third positional
# argument is `count`, so only the first re.UNICODE == 32 periods are removed.
_PERIOD_COUNT = int(re.UNICODE)


@dataclass(frozen=True)
class VqaRecord:
    question_id: int
    prediction: str
    human_answers: tuple[str, ...]
    answer_type: str
    question_type: str


def _check_scorer(scorer: str) -> None:
    if scorer not in SCORERS:
        raise ValueError(f"unknown scorer {scorer!r}; valid scorers: {SCORERS}")


def _clean_whitespace(text: str) -> str:
    return text.replace("\n", " ").replace("\t", " ").strip()


def _process_punctuation(text: str) -> str:
    out = text
    # Both conditions test the ORIGINAL text, not the partly processed `out`;
    # one "digit,digit" anywhere makes every punctuation mark vanish.
    has_digit_comma = _COMMA_STRIP.search(text) is not None
    for p in _PUNCT:
        if p + " " in text or " " + p in text or has_digit_comma:
            out = out.replace(p, "")
        else:
            out = out.replace(p, " ")
    return _PERIOD_STRIP.sub("", out, count=_PERIOD_COUNT)


def _process_digit_article(text: str) -> str:
    words = [_MANUAL_MAP.get(w, w) for w in text.lower().split()]
    # Number words are mapped before the article test, contractions after it.
    words = [w for w in words if w not in _ARTICLES]
    return " ".join(_CONTRACTIONS.get(w, w) for w in words)


def _full(text: str) -> str:
    return _process_digit_article(_process_punctuation(text))


def normalize_answer(answer: str, scorer: str = "official") -> str:
    """Full normalization (punctuation then digit/article/contraction) as the
    official code applies it to an answer when it normalizes.

    Identical for both scorers (same tables and helpers); it includes the
    whitespace cleanup that both versions apply to the prediction first.
    """
    _check_scorer(scorer)
    return _full(_clean_whitespace(answer))


class _Memo(dict):
    """text -> fn(text), computed once per distinct string: the official processing is a pure
    function of the string, and VQAv2 val's 2.4M answer strings hold far fewer distinct ones."""

    __slots__ = ("_fn",)

    def __init__(self, fn: Callable[[str], str]) -> None:
        super().__init__()
        self._fn = fn

    def __missing__(self, text: str) -> str:
        value = self[text] = self._fn(text)
        return value


Prepare = Callable[[str, Sequence[str]], tuple[str, list[str]]]


def _preparer(scorer: str) -> Prepare:
    """(prediction, human answers) -> the strings each version compares, memoized per string."""
    if scorer == "lavis":
        normalize, punctuation = _Memo(lambda t: _full(_clean_whitespace(t))), _Memo(_process_punctuation)

        def lavis(prediction: str, human_answers: Sequence[str]) -> tuple[str, list[str]]:
            gts = list(human_answers)  # no whitespace cleanup of humans pre-2021
            if len(set(gts)) > 1:
                gts = list(map(punctuation.__getitem__, gts))  # punctuation only
            return normalize[prediction], gts

        return lavis
    clean = _Memo(_clean_whitespace)
    clean_full = _Memo(lambda text: _full(clean[text]))

    def official(prediction: str, human_answers: Sequence[str]) -> tuple[str, list[str]]:
        # The cleaned answers are all identical iff the distinct raw ones clean to one string.
        distinct = set(human_answers)
        if len(distinct) > 1 and len({clean[h] for h in distinct}) > 1:
            return clean_full[prediction], list(map(clean_full.__getitem__, human_answers))
        # HEAD: identical humans => nobody is normalized
        return clean[prediction], [clean[human_answers[0]]] * len(human_answers)

    return official


def _accuracy(pred: str, gts: list[str]) -> float:
    return accuracy_of_hits([g == pred for g in gts])


def accuracy_of_hits(hits: Sequence[bool]) -> float:
    """One question's accuracy from which human answers match: upstream's expressions and
    summation order, min(1, ...) included, whose int 1 matters to sum() from Python 3.12 on
    (compensated for floats only), so floats agree bit-wise on any Python."""
    matches = sum(hits)
    if matches == 0:  # every subset scores 0.0, so the mean is exactly 0.0
        return 0.0
    if matches > 3:  # every subset keeps >= 3 matches: all 1, mean exactly 1.0
        return 1.0
    # Leaving out answer j drops one match iff it matched.
    hit, miss = min(1, float(matches - 1) / 3), min(1, float(matches) / 3)
    return float(sum([hit if h else miss for h in hits])) / len(hits)


def _checked_answers(human_answers: Sequence[str]) -> Sequence[str]:
    if isinstance(human_answers, str) or len(human_answers) == 0:
        raise ValueError("human_answers must be a non-empty sequence of strings")
    return human_answers


def question_accuracy(prediction: str, human_answers: Sequence[str], scorer: str = "official") -> float:
    """Unrounded accuracy in [0, 1] for one question: mean over the 10
    leave-one-out subsets of min(1, matches/3), with each version's
    normalization rules (including when it normalizes at all)."""
    _check_scorer(scorer)
    return _accuracy(*_preparer(scorer)(prediction, _checked_answers(human_answers)))


def _mean_pct(accs: list[float]) -> float:
    # Upstream: round(100*float(sum(acc))/len(acc), n) with n=2 (Python 3 round).
    return round(100 * float(sum(accs)) / len(accs), 2)


Row = tuple[int, str, Sequence[str], str, str]
"""A VqaRecord's fields in order, for callers scoring many questions without building records."""
Columns = tuple[Sequence[int], Sequence[str], Sequence[Sequence[str]], Sequence[str], Sequence[str]]
"""The Rows' fields as five columns: question ids, predictions, human answers, answer and question types."""


def vqa_scores(records: Sequence[VqaRecord], scorer: str = "official") -> dict:
    """Returns {"accuracy": float, "per_answer_type": {type: float},
    "per_question_type": {type: float}, "per_question": {str(question_id): float}}
    on the official 0-100 scale, rounded exactly as the official code rounds each
    (overall/perAnswerType/perQuestionType round(100*mean of unrounded accs, 2);
    perQuestion round(100*acc, 2)). Raises ValueError on an unknown scorer or
    empty records (and on a duplicate question_id, which upstream cannot hold)."""
    rows = [(r.question_id, r.prediction, r.human_answers, r.answer_type, r.question_type) for r in records]
    return vqa_scores_rows(rows, scorer)


def vqa_scores_rows(rows: Sequence[Row], scorer: str = "official") -> dict:
    """vqa_scores on (question_id, prediction, human_answers, answer_type, question_type) rows.

    Scored with arrays (vqa_accuracy_arrays: same numbers bit for bit, ~2x faster on VQAv2 val)
    when every question has the same number of human answers, else question by question."""
    _check_scorer(scorer)
    if len(rows) == 0:
        raise ValueError("records is empty")
    from .vqa_accuracy_arrays import scores_of_rows  # numpy: imported only when scoring

    scores = scores_of_rows(rows, scorer)
    return scores if scores is not None else scores_of_rows_one_by_one(rows, scorer)


def vqa_scores_columns(columns: Columns, scorer: str = "official") -> dict:
    """vqa_scores_rows on the rows' fields as columns (no row tuples built for 214k questions)."""
    _check_scorer(scorer)
    if len(columns[0]) == 0:
        raise ValueError("records is empty")
    from .vqa_accuracy_arrays import scores_of_columns

    scores = scores_of_columns(columns, scorer)
    return scores if scores is not None else scores_of_rows_one_by_one(list(zip(*columns, strict=True)), scorer)


def scores_of_rows_one_by_one(rows: Sequence[Row], scorer: str) -> dict:
    """vqa_scores_rows, one question at a time: any rows, and the errors it raises."""
    prepare = _preparer(scorer)
    all_accs: list[float] = []
    by_answer_type: defaultdict[str, list[float]] = defaultdict(list)  # no new list per row
    by_question_type: defaultdict[str, list[float]] = defaultdict(list)
    per_question: dict[str, float] = {}
    for question_id, prediction, human_answers, answer_type, question_type in rows:
        key = str(question_id)
        # Upstream keys everything by question id, so duplicates cannot exist.
        if key in per_question:
            raise ValueError(f"duplicate question_id {question_id!r}")
        acc = _accuracy(*prepare(prediction, _checked_answers(human_answers)))
        all_accs.append(acc)
        by_answer_type[answer_type].append(acc)
        by_question_type[question_type].append(acc)
        per_question[key] = round(100 * acc, 2)
    return {
        "accuracy": _mean_pct(all_accs),
        "per_answer_type": {t: _mean_pct(a) for t, a in by_answer_type.items()},
        "per_question_type": {t: _mean_pct(a) for t, a in by_question_type.items()},
        "per_question": per_question,
    }
