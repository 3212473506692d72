"""Caption metrics as pycocoevalcap 1.2's COCOEvalCap.evaluate computes them, faster.

Scorers get exactly what COCOEvalCap feeds them. BLEU-1..4, ROUGE-L and CIDEr-D come from
bleu_cider.py and rouge_l.py by default (`scorers="numpy"`: array passes instead of Python
dict loops, same bits as pycocoevalcap's classes, ~10x faster); `scorers="pycocoevalcap"` runs
pycocoevalcap's Bleu(4), Rouge and Cider themselves (the reference; tests compare the two).
METEOR goes through meteor.py, which sends the Meteor class's exact lines. Scores and per-image
values are the official ones (tests compare with COCOEvalCap). What else differs is how often
Java starts, and what runs at the same time:

* PTB tokenizer: COCOEvalCap runs it twice (references, then candidates). It tokenizes line
  by line (``-preserveLines``), so one run over references + candidates gives the same
  tokens; it is run here once per evaluation with the same class, flags, file encoding and
  punctuation filter as ``PTBTokenizer.tokenize``.
* METEOR 1.5: one long-lived process (its start-up loads the paraphrase table, ~8 s) serves
  every evaluation in this Python process; a scoring call sends its own SCORE/EVAL lines, so
  results do not depend on earlier calls. It is started while the tokenizer runs, and scores
  while BLEU, ROUGE-L and CIDEr are computed here (its work is in Java: no GIL contention).
* Both JVMs die with this process on Linux (jvm.py).
* SPICE: see ``spice.py`` (never downloaded; "not computed" with the reason otherwise).

Per-domain scores (NoCaps) come from the same tokenization: ``global`` document frequencies
give CIDEr as the mean of per-image CIDEr from one pass over all images (consistent with the
NoCaps server's breakdown); ``per-domain`` scores each domain alone (LAVIS's img_ids filter).
BLEU, METEOR and ROUGE-L of a domain are always corpus scores over the domain's images.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pycocoevalcap.bleu.bleu import Bleu
from pycocoevalcap.bleu.bleu_scorer import BleuScorer
from pycocoevalcap.cider.cider import Cider
from pycocoevalcap.rouge.rouge import Rouge
from pycocoevalcap.tokenizer import ptbtokenizer

from ..errors import BadInputError
from . import meteor
from .bleu_cider import bleu_scores, bleu_statistics, cider_d, ngram_table
from .jvm import die_with_parent
from .rouge_l import rouge_l
from .spice import ScorerFailedError, find_java, run_spice, spice_mean, spice_status

METRIC_KEYS = ("Bleu_1", "Bleu_2", "Bleu_3", "Bleu_4", "METEOR", "ROUGE_L", "CIDEr")
"""COCOEvalCap.eval's keys, in its order ("SPICE" follows when computed); 0-1 scale, CIDEr ~0-10."""
DOMAINS = ("in-domain", "near-domain", "out-domain")
DF_MODES = ("global", "per-domain")
SCORERS = ("numpy", "pycocoevalcap")
"""Who computes BLEU, ROUGE-L and CIDEr-D: this package's array code, or pycocoevalcap's classes."""

# PTBTokenizer -preserveLines also starts a new line at these; pycocoevalcap replaces only "\n",
# so one of them in a caption silently shifts every later caption onto the wrong image.
_OTHER_LINE_BREAKS = re.compile("[\r\x0b\x0c\u2028\u2029]")


@dataclass
class CaptionScores:
    """Corpus scores (pycocoevalcap keys) and per-image scores of one evaluated set."""

    scores: dict[str, float]
    per_image: dict[int, dict[str, float]]
    not_computed: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    stats: dict[int, dict[str, Any]] = field(default_factory=dict)
    """Per image, the sufficient statistics of the corpus metrics ("bleu": testlen, closest reflen,
    guess 1-4, correct 1-4; "meteor": METEOR 1.5's 23 segment statistics): a corpus score over
    any multiset of images is a function of their sums (blip2_bench/report/caption_stats.py)."""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {**self.scores, "per_image": {str(i): v for i, v in self.per_image.items()}}
        if self.not_computed:
            out["not_computed"] = dict(self.not_computed)
        return out


def tokenize(
    refs: Mapping[int, Sequence[str]], preds: Mapping[int, str]
) -> tuple[dict[int, list[str]], dict[int, list[str]], int]:
    """(gts, res, n_sanitized): PTB-tokenized references and candidates from one tokenizer run.

    Same command, input file and output filter as pycocoevalcap's PTBTokenizer.tokenize;
    `n_sanitized` counts captions whose extra line-break characters were made spaces.
    """
    java = find_java()
    owners = [(False, i) for i, captions in refs.items() for _ in captions] + [(True, i) for i in preds]
    lines = [c for captions in refs.values() for c in captions] + list(preds.values())
    cleaned = [_OTHER_LINE_BREAKS.sub(" ", c.replace("\n", " ")) for c in lines]
    sanitized = sum(a != b.replace("\n", " ") for a, b in zip(cleaned, lines, strict=True))
    jar_dir = Path(ptbtokenizer.__file__).resolve().parent
    with tempfile.TemporaryDirectory(prefix="blip2-bench-ptb-") as tmp:
        path = Path(tmp) / "captions.txt"
        path.write_bytes("\n".join(cleaned).encode())
        cmd = [java, "-cp", ptbtokenizer.STANFORD_CORENLP_3_4_1_JAR, "edu.stanford.nlp.process.PTBTokenizer"]
        try:
            proc = subprocess.run(
                [*cmd, "-preserveLines", "-lowerCase", str(path)],
                capture_output=True,
                cwd=jar_dir,
                preexec_fn=die_with_parent(),  # a killed run leaves no tokenizer behind
            )
        except OSError as exc:
            raise ScorerFailedError(f"cannot start the PTB tokenizer: {exc}") from None
    out = proc.stdout.decode().split("\n")
    if proc.returncode != 0 or len(out) < len(cleaned) or any(out[len(cleaned) :]):
        raise ScorerFailedError(
            f"PTB tokenizer failed (exit {proc.returncode}, {len(out)} lines for {len(cleaned)} captions): "
            f"{proc.stderr.decode(errors='replace').strip()[-600:]}"
        )
    gts: dict[int, list[str]] = {}
    res: dict[int, list[str]] = {}
    for (is_pred, image_id), line in zip(owners, out[: len(owners)], strict=True):
        words = [w for w in line.rstrip().split(" ") if w not in ptbtokenizer.PUNCTUATIONS]
        (res if is_pred else gts).setdefault(image_id, []).append(" ".join(words))
    return gts, res, sanitized


# --- METEOR: one process, reused (meteor.py) ------------------------------------------------
def _meteor_score(
    gts: dict[int, list[str]], res: dict[int, list[str]], stats_out: list[list[float]] | None = None
) -> tuple[float, list[float]]:
    """Meteor.compute_score (same lines sent, same order), keeping each segment's statistics."""
    return _meteor_result(meteor.submit(find_java(), gts, res).result(), stats_out)


def _meteor_result(
    result: tuple[float, list[float], list[str]], stats_out: list[list[float]] | None
) -> tuple[float, list[float]]:
    score, scores, stats = result
    if stats_out is not None:
        stats_out.extend([float(x) for x in line.split()] for line in stats)
    return float(score), [float(s) for s in scores]


def bleu_stats(gts: dict[int, list[str]], res: dict[int, list[str]], ids: Sequence[int]) -> list[list[float]]:
    """Per image: [testlen, closest reflen, guess 1-4, correct 1-4], as BleuScorer(4) with 'closest'."""
    out = []
    for i in ids:
        scorer = BleuScorer(n=4)
        scorer += (res[i][0], gts[i])
        comps = scorer.ctest[0]
        testlen = comps["testlen"]
        reflen = min((abs(length - testlen), length) for length in comps["reflen"])[1]
        out.append([float(testlen), float(reflen), *map(float, comps["guess"]), *map(float, comps["correct"])])
    return out


# --- scoring ---------------------------------------------------------------------------------
def one_caption(captions: list[str]) -> str:
    """An image's candidate: pycocoevalcap's scorers assert there is exactly one."""
    if len(captions) != 1:
        raise ValueError(f"{len(captions)} candidate captions for one image (expected 1)")
    return captions[0]


def score_tokenized(
    gts: dict[int, list[str]],
    res: dict[int, list[str]],
    ids: Sequence[int],
    parallel: bool = True,
    scorers: str = "numpy",
) -> CaptionScores:
    """BLEU-1..4, METEOR, ROUGE-L and CIDEr-D of the images `ids`, as COCOEvalCap.evaluate.

    CIDEr's document frequencies come from the references of exactly these images. With
    `parallel`, METEOR scores (in its JVM) while the other scorers run here; the scorers share no
    state, so the values are the same bits as one after the other (`parallel=False`).
    """
    if scorers not in SCORERS:
        raise BadInputError(f"caption scorers must be one of {SCORERS}, got {scorers!r}")
    g = {i: gts[i] for i in ids}
    r = {i: res[i] for i in ids}
    pending = meteor.submit(find_java(), g, r)
    if not parallel:
        pending.result()
    if scorers == "numpy":
        refs, candidates = [g[i] for i in ids], [one_caption(r[i]) for i in ids]
        table = ngram_table(refs, candidates)
        bleu_rows = bleu_statistics(table)
        bleu, bleu_per_image = bleu_scores(bleu_rows)
        rouge = rouge_l(refs, candidates)
        cider = cider_d(table)
        bleu_stat_rows = [[float(x) for x in row] for row in bleu_rows.tolist()]
    else:
        bleu, bleu_per_image = Bleu(4).compute_score(g, r, verbose=0)
        rouge = Rouge().compute_score(g, r)
        cider = Cider().compute_score(g, r)
        bleu_stat_rows = bleu_stats(g, r, ids)
    meteor_stats: list[list[float]] = []
    meteor_scores = _meteor_result(pending.result(), meteor_stats)

    scores: dict[str, float] = {}
    per_image: dict[int, dict[str, float]] = {i: {} for i in ids}

    def put(key: str, corpus: float, values: Sequence[float]) -> None:
        scores[key] = float(corpus)
        for i, value in zip(ids, values, strict=True):
            per_image[i][key] = float(value)

    # COCOEvalCap.eval's key order.
    for key, corpus, values in zip(METRIC_KEYS[:4], bleu, bleu_per_image, strict=True):
        put(key, corpus, values)
    put("METEOR", *meteor_scores)
    put("ROUGE_L", *rouge)
    put("CIDEr", *cider)
    stats = {i: {"bleu": b, "meteor": m} for i, b, m in zip(ids, bleu_stat_rows, meteor_stats, strict=True)}
    return CaptionScores(scores, per_image, stats=stats)


def _prepare(
    refs: Mapping[int, Sequence[str]], preds: Mapping[int, str], spice: str
) -> tuple[list[int], dict[int, list[str]], dict[int, list[str]], dict[int, float] | None, CaptionScores]:
    ids = [i for i in refs if i in preds]
    if not ids:
        raise BadInputError("no image has both references and a prediction")
    status = spice_status(spice)  # decided before any Java starts
    meteor.start(find_java())  # loads its paraphrase table while the tokenizer runs
    gts, res, sanitized = tokenize({i: refs[i] for i in ids}, {i: preds[i] for i in ids})
    spice_values = run_spice(gts, res, status) if status.available else None
    shell = CaptionScores({}, {}, {} if status.available else {"SPICE": status.reason})
    if sanitized:
        shell.notes.append(
            f"{sanitized} caption(s) held line-break characters (\\r, \\v, \\f, U+2028, U+2029) that the PTB "
            "tokenizer splits lines on; they were made spaces (pycocoevalcap would misalign later captions)"
        )
    return ids, gts, res, spice_values, shell


def _add_spice(part: CaptionScores, spice_values: dict[int, float] | None, ids: Sequence[int]) -> None:
    if spice_values is not None:
        part.scores["SPICE"] = spice_mean([spice_values[i] for i in sorted(ids)])
        for i in ids:
            part.per_image[i]["SPICE"] = spice_values[i]


def evaluate_captions(
    refs: Mapping[int, Sequence[str]], preds: Mapping[int, str], spice: str = "auto", scorers: str = "numpy"
) -> CaptionScores:
    """COCO caption metrics of the images in `refs` (in its order) that have a prediction."""
    ids, gts, res, spice_values, shell = _prepare(refs, preds, spice)
    result = score_tokenized(gts, res, ids, scorers=scorers)
    _add_spice(result, spice_values, ids)
    result.not_computed, result.notes = shell.not_computed, shell.notes
    return result


@dataclass
class DomainScores:
    """NoCaps: scores per domain and over all images ("entire"), and per image."""

    domains: dict[str, dict[str, float]]
    per_image: dict[int, dict[str, float]]
    df: str
    not_computed: dict[str, str]
    notes: list[str]
    stats: dict[int, dict[str, Any]] = field(default_factory=dict)
    """CaptionScores.stats of the one pass over all images, plus "cider_entire": the image's CIDEr-D
    in that pass (its per_image CIDEr is the per-domain pass's under df=per-domain)."""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {**self.domains, "df": self.df}
        out["per_image"] = {str(i): v for i, v in self.per_image.items()}
        if self.not_computed:
            out["not_computed"] = dict(self.not_computed)
        return out


def evaluate_by_domain(
    refs: Mapping[int, Sequence[str]],
    preds: Mapping[int, str],
    domains: Mapping[int, str],
    df: str = "global",
    spice: str = "auto",
    scorers: str = "numpy",
) -> DomainScores:
    """Scores per domain (in-domain, near-domain, out-domain) and "entire", under one df convention."""
    if df not in DF_MODES:
        raise BadInputError(f"df must be one of {DF_MODES}, got {df!r}")
    ids, gts, res, spice_values, shell = _prepare(refs, preds, spice)
    entire = score_tokenized(gts, res, ids, scorers=scorers)  # one pass over all images: "entire", and global df
    _add_spice(entire, spice_values, ids)
    per_image = {i: dict(v) for i, v in entire.per_image.items()}
    out: dict[str, dict[str, float]] = {}
    for domain in DOMAINS:
        members = [i for i in ids if domains[i] == domain]
        if not members:
            shell.notes.append(f"no {domain} images were scored")
            continue
        part = score_tokenized(gts, res, members, scorers=scorers)
        _add_spice(part, spice_values, members)
        if df == "global":
            part.scores["CIDEr"] = float(np.mean(np.array([entire.per_image[i]["CIDEr"] for i in members])))
        else:
            for i in members:
                per_image[i]["CIDEr"] = part.per_image[i]["CIDEr"]
        out[domain] = part.scores
    out["entire"] = entire.scores
    stats = {i: {**entire.stats[i], "cider_entire": entire.per_image[i]["CIDEr"]} for i in ids}
    return DomainScores(out, per_image, df, shell.not_computed, shell.notes, stats)
