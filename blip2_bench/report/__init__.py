"""Comparison reports and the quality gate: read run directories, never datasets or models."""
