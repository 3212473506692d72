"""Parse the long array of a big JSON document in several processes, with json.loads's result.

VQAv2 val's annotations file is 160 MB, nearly all of it one array under one top-level key;
one core decodes it in ~4 s. Here the array is cut into byte ranges at guessed element starts,
each range is decoded in its own process, and the cuts are proven right afterwards: part i
must parse as `element (, element)* ,` and end exactly where part i+1 begins, so every part
starts where a sequential parser would start an element. The main process parses the
document's head and tail exactly. Anything unexpected (a guess inside an element, a duplicate
top-level key, a byte that is not strict UTF-8, a worker that fails) gives None, and the caller
reads the file the ordinary way, whose errors name the record.
"""

from __future__ import annotations

import gc
import json
import multiprocessing
import os
import re
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
D = TypeVar("D", bound=json.JSONDecoder)

# Below this size one process is faster than starting others.
MIN_PARALLEL_BYTES = 24 * 2**20
_WHITESPACE = re.compile(r"[ \t\n\r]*")  # JSON's four whitespace characters
_WHITESPACE_BYTES = b" \t\n\r"
_HEAD_CHUNK = 1 << 16


def default_workers() -> int:
    """Processes to use: the CPUs this process may run on, at most 8."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, 8))


def parse_array_in_parts(
    path: Path,
    key: str,
    decoder: Callable[[], D],
    convert: Callable[[list[Any], D], T],
    workers: int,
    min_bytes: int | None = None,
) -> tuple[dict[str, Any], list[T]] | None:
    """(the other top-level fields, [convert(elements, decoder) for each part in order]), or None.

    `decoder` and `convert` run in the worker processes, so they must be module-level; each
    part is parsed with a new `decoder()` (a JSONDecoder, with an object_hook say), which
    `convert` is given too.
    None also when the file is smaller than `min_bytes` (default MIN_PARALLEL_BYTES) or `workers`
    < 2: parse it in one piece.
    """
    try:
        size = path.stat().st_size
        if workers < 2 or size < (MIN_PARALLEL_BYTES if min_bytes is None else min_bytes):
            return None
        with path.open("rb") as f:
            raw = f.read()
    except OSError:
        return None
    head = _parse_head(raw, key)
    if head is None:
        return None
    fields, array_start, first_key = head
    cuts = _guess_cuts(raw, array_start, first_key, workers)
    del raw
    if cuts is None:  # empty array, or too few elements to cut
        return None
    ranges = list(zip(cuts, [*cuts[1:], None], strict=True))
    try:
        context = multiprocessing.get_context("spawn")  # safe beside threads (prefetchers, torch)
        with ProcessPoolExecutor(max_workers=len(ranges), mp_context=context) as pool:
            futures = [pool.submit(_parse_part, str(path), a, b, decoder, convert) for a, b in ranges]
            parts = [f.result() for f in futures]
    except Exception:  # a worker that could not start or died: the ordinary read decides
        return None
    if any(p is None for p in parts):
        return None
    tail_fields = _parse_tail(parts[-1][1], key)
    if tail_fields is None or fields.keys() & tail_fields.keys():  # json.loads keeps the last of a key
        return None
    return {**fields, **tail_fields}, [p[0] for p in parts]


def _skip(text: str, pos: int) -> int:
    return _WHITESPACE.match(text, pos).end()  # type: ignore[union-attr]


def _parse_head(raw: bytes, key: str) -> tuple[dict[str, Any], int, str] | None:
    """The fields before `key`, the byte offset of its array's first element and that element's
    first key; parsed exactly, on a growing decoded prefix (the head is small)."""
    limit = _HEAD_CHUNK
    while True:
        prefix = raw[:limit]
        try:
            text = prefix.decode("utf-8")
        except UnicodeDecodeError as exc:
            if exc.start < len(prefix) - 3 or limit >= len(raw):
                return None
            text = prefix[: exc.start].decode("utf-8")  # a character cut at the end
        found = _scan_head(text, key)
        if found != "incomplete":
            break
        if limit >= len(raw):
            return None
        limit *= 4
    if found is None:
        return None
    fields, element_pos, first_key = found
    return fields, len(text[:element_pos].encode("utf-8")), first_key


def _scan_head(text: str, key: str) -> tuple[dict[str, Any], int, str] | str | None:
    """Parse `{ "k": v, ... "key": [ {"first_key"` in `text`; "incomplete" when `text` ends first."""
    decode = json.JSONDecoder().raw_decode
    fields: dict[str, Any] = {}
    pos = _skip(text, 0)
    if not text.startswith("{", pos):
        return None
    pos += 1
    try:
        while True:
            pos = _skip(text, pos)
            name, pos = decode(text, pos)
            pos = _skip(text, pos)
            if type(name) is not str or not text.startswith(":", pos):
                return None
            pos = _skip(text, pos + 1)
            if name == key:
                if not text.startswith("[", pos):
                    return None
                element = _skip(text, pos + 1)
                if element >= len(text) - 1:
                    return "incomplete"
                if not text.startswith("{", element):
                    return None  # an empty array, or not objects: nothing to cut
                first_key, _ = decode(text, _skip(text, element + 1))
                return (fields, element, first_key) if type(first_key) is str else None
            value, pos = decode(text, pos)
            if name in fields:
                return None
            fields[name] = value
            pos = _skip(text, pos)
            if not text.startswith(",", pos):
                return None  # the document ends without `key`
            pos += 1
    except (json.JSONDecodeError, IndexError, RecursionError):
        return "incomplete"  # or malformed: the caller tells which by whether text was all


def _guess_cuts(raw: bytes, start: int, first_key: str, workers: int) -> list[int] | None:
    """Byte offsets where the parts begin: the first element, then the next `{ "first_key"` after
    each equal share of the bytes (the proof that each is an element start comes later)."""
    probe = json.dumps(first_key).encode()
    cuts = [start]
    share = (len(raw) - start) // workers
    for i in range(1, workers):
        at = max(start + i * share, cuts[-1] + 1)
        while (at := raw.find(probe, at)) > 0:
            brace = at - 1
            while brace > start and raw[brace] in _WHITESPACE_BYTES:
                brace -= 1
            if raw[brace] == ord("{"):
                cuts.append(brace)
                break
            at += 1
        if at < 0:
            break
    return cuts if len(cuts) > 1 else None


def _parse_part(
    path: str, start: int, stop: int | None, decoder: Callable[[], D], convert: Callable[[list[Any], D], T]
) -> tuple[T, str] | None:
    """convert(the elements in bytes [start, stop), decoder) and, for the last part, the text
    after its `]`.

    A part other than the last must end exactly at `stop` after a separating comma."""
    gc.disable()  # millions of new containers, no cycles: the collector's passes only cost time
    try:
        with open(path, "rb") as f:
            f.seek(start)
            text = f.read(-1 if stop is None else stop - start).decode("utf-8")
        part_decoder = decoder()
        decode = part_decoder.raw_decode
        elements: list[Any] = []
        pos = 0
        while True:
            value, pos = decode(text, pos)
            elements.append(value)
            pos = _skip(text, pos)
            if text.startswith(",", pos):
                pos = _skip(text, pos + 1)
                if stop is not None and pos == len(text):
                    return convert(elements, part_decoder), ""
            elif stop is None and text.startswith("]", pos):
                return convert(elements, part_decoder), text[pos + 1 :]
            else:
                return None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return None
    finally:
        gc.enable()


def _parse_tail(text: str, key: str) -> dict[str, Any] | None:
    """The fields after the array: `(, "k": v)* }` and nothing but whitespace after."""
    decode = json.JSONDecoder().raw_decode
    fields: dict[str, Any] = {}
    pos = _skip(text, 0)
    try:
        while text.startswith(",", pos):
            pos = _skip(text, pos + 1)
            name, pos = decode(text, pos)
            pos = _skip(text, pos)
            if type(name) is not str or name == key or name in fields or not text.startswith(":", pos):
                return None
            fields[name], pos = decode(text, _skip(text, pos + 1))
            pos = _skip(text, pos)
    except (json.JSONDecodeError, IndexError, RecursionError):
        return None
    if not text.startswith("}", pos) or _skip(text, pos + 1) != len(text):
        return None
    return fields
