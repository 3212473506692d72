"""Published reference numbers (published.json) and matching a run to them: checkpoint and protocol.

A run is matched to a published row only when its checkpoint (backend.model, a Hugging Face id)
is the row's, its split is the row's, and every protocol setting the row depends on is the
run's (scorer, prompt, generation, image size, df convention, the full evaluation set);
otherwise the reason is given, e.g. "scorer official, paper used lavis".
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

from .protocol import effective_prompt
from .runs import Run

SOURCE_NAMES = {"paper": "paper", "lavis": "LAVIS"}


@lru_cache(maxsize=1)
def published_data() -> dict[str, Any]:
    return json.loads(resources.files(__package__).joinpath("published.json").read_text(encoding="utf-8"))


@dataclass
class Reference:
    """One published source for a run's task: its numbers when matched, else why not."""

    source: str
    checkpoint: str | None
    values: dict[str, float] = field(default_factory=dict)
    reason: str | None = None
    note: str | None = None

    @property
    def matched(self) -> bool:
        return self.reason is None


def run_split(run: Run, task: str) -> str:
    config = ((run.results.get("config") or {}).get("task") or {}).get(task) or {}
    default = {"nocaps": "val", "vqav2": "val"}.get(task, "test")
    return str(config.get("split", default))


def _setting(info: dict[str, Any], dotted: str) -> Any:
    value: Any = info
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def protocol_mismatches(run: Run, task: str, protocol: dict[str, Any], source: str) -> list[str]:
    info = run.tasks[task]
    who = SOURCE_NAMES.get(source, source)
    reasons = []
    for dotted, expected in (protocol.get("settings") or {}).items():
        actual = _setting(info, dotted)
        if actual != expected:
            reasons.append(f"{dotted.split('.')[-1]} {json.dumps(actual)}, {who} used {json.dumps(expected)}")
    family = run.backend.get("family")
    if "prompt" in protocol:
        expected = protocol["prompt"].get(str(family))
        actual = effective_prompt(info, family)
        if actual != expected:
            reasons.append(f"prompt {actual!r}, {who} used {expected!r}")
    if "df" in protocol and task == "nocaps":
        actual = (info.get("scores") or {}).get("df")
        if actual != protocol["df"]:
            reasons.append(f"df {actual}, {who} used {protocol['df']}")
    if "image_size" in protocol:
        size = (run.backend.get("image_processing") or {}).get("size") or {}
        actual = size.get("height") if size.get("height") == size.get("width") else size
        if actual != protocol["image_size"]:
            reasons.append(f"image size {actual}, {who} used {protocol['image_size']}")
    return reasons


def references(run: Run, task: str) -> list[Reference]:
    """Per published source for the run's checkpoint and task (paper first), matched or with the reason."""
    data = published_data()
    checkpoint = run.backend.get("model")
    rows = [e for e in data["entries"] if e["task"] == task]
    if not rows:
        return []
    mine = [e for e in rows if e["checkpoint"] is not None and e["checkpoint"] == checkpoint]
    if not mine:
        return [Reference("paper", None, reason=f"no published {task} number for checkpoint {checkpoint}")]
    split = run_split(run, task)
    out = []
    for source in sorted({e["source"] for e in mine}, key=lambda s: (s != "paper", s)):
        entries = [e for e in mine if e["source"] == source]
        entry = next((e for e in entries if e["split"] == split), None)
        if entry is None:
            splits = ", ".join(sorted({e["split"] for e in entries}))
            out.append(Reference(source, checkpoint, reason=f"split {split}, {source} published {splits}"))
            continue
        reasons = protocol_mismatches(run, task, data["protocols"].get(entry["protocol"]) or {}, source)
        full = data["full_sets"].get(f"{task}/{split}")
        scored = run.tasks[task].get("n_predicted")
        if full is not None and scored != full:
            reasons.append(f"scored {scored} of the {full:,} samples the {source} numbers cover")
        ref = Reference(source, checkpoint, note=entry.get("note"))
        if reasons:
            ref.reason = "; ".join(reasons)
        else:
            ref.values = dict(entry["metrics"])
        out.append(ref)
    return out
