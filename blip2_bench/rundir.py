"""Kept for blip2_bench.scoring.captions until it imports blip2_bench.files (being edited elsewhere)."""

from .files import atomic_write_json, atomic_write_text  # noqa: F401
