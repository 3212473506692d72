"""Read JSON data files with one-line errors that name the file and the record."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..errors import BadInputError


def read_json(path: str | Path, what: str) -> Any:
    """Parse a JSON file; a missing, unreadable or malformed file is a BadInputError."""
    path = Path(path)
    if not path.is_file():
        raise BadInputError(f"{what} not found: {path}")
    try:
        with path.open("rb") as f:
            return json.load(f)
    except json.JSONDecodeError as exc:
        raise BadInputError(
            f"{what} {path}: malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInputError(f"{what} {path}: cannot read: {exc}") from None
    except RecursionError:
        raise BadInputError(f"{what} {path}: malformed JSON: nested too deeply to read") from None
    except ValueError as exc:  # Python's limit on an integer's digits (4300 by default)
        raise BadInputError(f"{what} {path}: cannot read: {exc}") from None


def require_keys(obj: Any, keys: Iterable[str], path: Path | str, where: str) -> Mapping[str, Any]:
    """Check that `obj` is a mapping holding `keys`; name the file and record otherwise."""
    if not isinstance(obj, Mapping):
        raise BadInputError(f"{path}: {where} should be a JSON object, got {type(obj).__name__}")
    missing = [k for k in keys if k not in obj]
    if missing:
        raise BadInputError(f"{path}: {where} lacks key(s) {', '.join(map(repr, missing))}")
    return obj


def require_list(obj: Any, path: Path | str, where: str) -> list[Any]:
    if not isinstance(obj, list):
        raise BadInputError(f"{path}: {where} should be a JSON list, got {type(obj).__name__}")
    return obj


def require_type(value: Any, kind: type | tuple[type, ...], path: Path | str, where: str) -> Any:
    # bool is an int in Python; an id of `true` is still a schema error.
    if isinstance(value, bool) or not isinstance(value, kind):
        raise BadInputError(f"{path}: {where} has the wrong type {type(value).__name__}: {value!r}")
    if isinstance(value, str):
        try:  # JSON allows lone UTF-16 surrogates ("\ud800"); no tokenizer or scorer does
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise BadInputError(f"{path}: {where} holds invalid Unicode (a lone surrogate): {value!r}") from None
    return value


def read_keyed_results(path: Path, id_key: str, value_key: str) -> dict[int, str]:
    """An official results file, `[{id_key: int, value_key: str}]`, as id -> value.

    A duplicate id or a wrong type is an error naming the record.
    """
    values: dict[int, str] = {}
    for i, entry in enumerate(require_list(read_json(path, "predictions file"), path, "top level")):
        where = f"record {i}"
        require_keys(entry, [id_key, value_key], path, where)
        key = require_type(entry[id_key], int, path, f"{where}.{id_key}")
        value = require_type(entry[value_key], str, path, f"{where}.{value_key}")
        if key in values:
            raise BadInputError(f"{path}: {where}: duplicate {id_key} {key}")
        values[key] = value
    return values
