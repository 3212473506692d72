"""The runner: batch plan, journal, stage skeleton, executors per backend protocol, and the job."""
