"""`blip2-bench bench`: throughput, per-stage time and harness overhead against naive baselines."""
