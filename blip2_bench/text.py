"""LAVIS's text preprocessing (lavis/processors/blip_processors.py), reproduced exactly."""

from __future__ import annotations

import re

# The characters LAVIS removes from questions and blanks out of captions.
_LAVIS_PUNCT = re.compile(r"([.!\"()*#:;~])")
_MULTI_SPACE = re.compile(r"\s{2,}")


def blip_question(question: str, max_words: int = 50) -> str:
    """BlipQuestionProcessor.pre_question: lowercase, drop .!"()*#:;~, rstrip spaces, cap words.

    Words are split on single spaces exactly as LAVIS does, so runs of spaces count as
    empty words there too; "?" is kept.
    """
    question = _LAVIS_PUNCT.sub("", question.lower()).rstrip(" ")
    words = question.split(" ")
    if len(words) > max_words:
        question = " ".join(words[:max_words])
    return question


def blip_caption(caption: str, max_words: int = 50) -> str:
    """BlipCaptionProcessor.pre_caption: lowercase, .!"()*#:;~ to spaces, collapse, strip, cap words."""
    caption = _LAVIS_PUNCT.sub(" ", caption.lower())
    caption = _MULTI_SPACE.sub(" ", caption).rstrip("\n").strip(" ")
    words = caption.split(" ")
    if len(words) > max_words:
        caption = " ".join(words[:max_words])
    return caption
