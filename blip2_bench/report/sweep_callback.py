"""Hydra callback: at the end of a `-m` sweep, write the comparison report of its runs.

conf/config.yaml: hydra.callbacks.report._target_: blip2_bench.report.sweep_callback.ReportCallback
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback

from ..errors import BadInputError

log = logging.getLogger(__name__)


class ReportCallback(Callback):
    """Writes <sweep dir>/report/ (and logs the table) once every job of the sweep has finished."""

    def on_multirun_end(self, config: Any, **kwargs: Any) -> None:
        from .cli import write_report

        sweep_dir = Path(str(config.hydra.sweep.dir))
        try:
            text = write_report([sweep_dir], sweep_dir / "report", None, 2000, 20230130)
        except BadInputError as exc:
            log.error("sweep report not written: %s", exc)
            return
        except Exception:  # the sweep's runs are done and kept: a report failure must not hide them
            log.exception("sweep report not written")
            return
        log.info("%s\nsweep report written to %s", text, sweep_dir / "report")
