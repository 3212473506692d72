"""blip2-bench: an evaluation harness for BLIP-2-style vision-language models."""

__version__ = "0.1.0"
