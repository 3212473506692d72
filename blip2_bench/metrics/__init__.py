"""Metrics: pure functions of predictions and references, tested against official code."""
