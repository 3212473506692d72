"""LAVIS's OK-VQA answer lemmatizer (spaCy en_core_web_sm), and whether it can run here.

Source: salesforce/LAVIS ``lavis/models/blip2_models/blip2_t5.py`` and ``blip2_opt.py``,
``_lemmatize`` (the same in the February 2023 code, 0e9a3ec, and at HEAD), switched on by
``apply_lemmatizer: True`` in ``lavis/projects/blip2/eval/okvqa_zeroshot_flant5xl_eval.yaml``:

* the model's decoded answers (nothing else: the human answers are never lemmatized) are run
  through ``spacy.load("en_core_web_sm")`` with its full default pipeline, one ``nlp(answer)``
  call per answer;
* every token whose coarse part of speech ``pos_`` is ``NOUN`` or ``VERB`` is replaced by its
  ``lemma_``; every other token (``AUX``, ``PROPN``, ``ADJ``, ``NUM``, ``PUNCT``, ...) keeps its
  ``text``;
* the tokens are joined with single spaces, so spaCy's token boundaries become spaces even where
  nothing was lemmatized ("don't" -> "do n't", "t-shirts" -> "t - shirt");
* the result then goes to the VQA evaluation as the prediction.

spaCy is not a dependency of blip2-bench (its English model is not on PyPI). Nothing here imports
spaCy until a lemmatizer is asked for; ``lemmatizer_status`` only reads installed-package metadata.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import metadata
from typing import Any, Protocol

from ..errors import BadInputError

SPACY_MODEL = "en_core_web_sm"
LEMMATIZED_POS: tuple[str, ...] = ("NOUN", "VERB")
"""The coarse tags LAVIS lemmatizes (``token.pos_ in ["NOUN", "VERB"]``)."""
APPLIED = f"spacy:{SPACY_MODEL}"
"""How results name the lemmatizer when it ran (the value published.json's OK-VQA protocol asks for)."""
NOT_APPLIED = "none"
INSTALL_HINT = f"pip install spacy && python -m spacy download {SPACY_MODEL}"
MODES: tuple[str, ...] = ("auto", "spacy", "off")
"""auto: LAVIS's lemmatizer when spaCy and its model load, else none (said up front and recorded);
spacy: required (a one-line error when it cannot load); off: never."""
NOT_COMPARABLE = (
    "LAVIS lemmatizes OK-VQA predictions (spaCy en_core_web_sm) before scoring, so this score is "
    "not comparable with the BLIP-2 paper's"
)


class Token(Protocol):
    text: str
    lemma_: str
    pos_: str


Nlp = Callable[[str], Iterable[Token]]
"""A spaCy pipeline, or anything that maps a text to tokens with text, lemma_ and pos_."""


class LemmatizerUnavailable(Exception):
    """spaCy or its English model cannot be loaded; the message says why."""


def lemmatize_answer(answer: str, nlp: Nlp) -> str:
    """One answer exactly as LAVIS's ``_lemmatize.apply``."""
    return " ".join(t.lemma_ if t.pos_ in LEMMATIZED_POS else t.text for t in nlp(answer))


def lemmatize_answers(answers: Sequence[str], nlp: Nlp) -> list[str]:
    """``lemmatize_answer`` over many answers, each distinct string run through the pipeline once
    (a pipeline maps equal texts to equal analyses, so this changes nothing but the time)."""
    done: dict[str, str] = {}
    out = []
    for answer in answers:
        if answer not in done:
            done[answer] = lemmatize_answer(answer, nlp)
        out.append(done[answer])
    return out


def _version(*names: str) -> str | None:
    for name in names:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return None


@dataclass(frozen=True)
class LemmatizerStatus:
    installed: bool
    """spaCy and its English model are installed (by package metadata; nothing imported)."""
    detail: str
    """Versions when installed, else what is missing and how to install it."""


def lemmatizer_status() -> LemmatizerStatus:
    """Whether spaCy and en_core_web_sm are installed, read from package metadata only."""
    spacy_version = _version("spacy")
    model_version = _version(SPACY_MODEL, SPACY_MODEL.replace("_", "-"))
    if spacy_version is None:
        return LemmatizerStatus(False, f"spaCy is not installed ({INSTALL_HINT})")
    if model_version is None:
        return LemmatizerStatus(
            False, f"spaCy {spacy_version} is installed but its model {SPACY_MODEL} is not ({INSTALL_HINT})"
        )
    return LemmatizerStatus(True, f"spacy {spacy_version}, {SPACY_MODEL} {model_version}")


@lru_cache(maxsize=1)
def load_spacy() -> Any:
    """``spacy.load("en_core_web_sm")`` as LAVIS calls it (full pipeline), once per process."""
    status = lemmatizer_status()
    if not status.installed:
        raise LemmatizerUnavailable(status.detail)
    try:
        import spacy

        return spacy.load(SPACY_MODEL)
    except Exception as exc:  # ImportError, OSError E050/E053 (model missing or for another spaCy), ...
        raise LemmatizerUnavailable(f"cannot load spaCy model {SPACY_MODEL}: {type(exc).__name__}: {exc}") from None


@dataclass(frozen=True)
class Lemmatizer:
    """The lemmatizer a run or a score command uses, and how results name it."""

    name: str
    """APPLIED ("spacy:en_core_web_sm") or NOT_APPLIED ("none")."""
    detail: str
    """Versions when applied; why not otherwise."""
    nlp: Any = field(default=None, compare=False, repr=False)

    @property
    def applied(self) -> bool:
        return self.nlp is not None

    def apply(self, answers: Sequence[str]) -> list[str]:
        return lemmatize_answers(answers, self.nlp) if self.applied else list(answers)


def choose_lemmatizer(mode: str, where: str) -> Lemmatizer:
    """The lemmatizer for `mode` (one of MODES); `where` names the option in messages."""
    if mode not in MODES:
        raise BadInputError(f"{where} must be one of {list(MODES)}, got {mode!r}")
    if mode == "off":
        return Lemmatizer(NOT_APPLIED, f"off ({where}=off)")
    try:
        nlp = load_spacy()
    except LemmatizerUnavailable as exc:
        if mode == "spacy":
            raise BadInputError(f"{where}=spacy, but {exc}") from None
        return Lemmatizer(NOT_APPLIED, f"not applied: {exc}")
    detail = f"{lemmatizer_status().detail}; NOUN/VERB tokens -> lemma_, tokens joined by spaces (LAVIS _lemmatize)"
    return Lemmatizer(APPLIED, detail, nlp)
