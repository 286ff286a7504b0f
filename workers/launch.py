"""Starting Dramatiq's worker processes the way ``alertrelay worker`` needs them.

Three things are set up around ``dramatiq.cli.main`` before it forks:

- **metrics**: every worker process writes its metrics to one fresh prometheus_client
  multiprocess directory, and Dramatiq's Prometheus middleware (added in
  :mod:`workers.app`) serves them all from one fork process on ``ALERTRELAY_METRICS_PORT``
  (default 9102). The directory is removed when the workers stop.
- **SIGHUP reloads the configuration** instead of Dramatiq's restart-everything: the main
  process forwards it to the worker processes, whose config watcher reloads in place.
- **JSON logs** (``ALERTRELAY_LOG_FORMAT=json``): the main process logs through
  :func:`alertrelay.options.setup_logging`; worker processes switch in :mod:`workers.app`.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import shutil
import signal
import tempfile
from typing import Any

from alertrelay import logs, metrics


def _prepare_metrics() -> str | None:
    """Point every process at one fresh multiprocess directory; its path, or ``None`` when off."""
    port = metrics.metrics_port("worker")
    if port is None:
        return None
    directory = tempfile.mkdtemp(prefix="alertrelay-worker-metrics-")
    os.environ.update({"dramatiq_prom_db": directory, "dramatiq_prom_port": str(port), "dramatiq_prom_host": metrics.metrics_host()})
    metrics.enable_multiprocess(directory)
    return directory


def _forward_sighup() -> None:
    """SIGHUP to the main process → SIGHUP to each worker process (not to the metrics fork)."""
    import dramatiq.cli as dramatiq_cli

    if not hasattr(signal, "SIGHUP"):
        return
    dramatiq_cli.HANDLED_SIGNALS.discard(signal.SIGHUP)

    def forward(_signum: int, _frame: Any) -> None:
        for child in multiprocessing.active_children():
            if not child.daemon and child.pid:  # Dramatiq starts worker processes non-daemonic, forks daemonic
                try:
                    os.kill(child.pid, signal.SIGHUP)
                except OSError:
                    pass

    signal.signal(signal.SIGHUP, forward)


#: Dramatiq's consumer wakes every ``worker_timeout`` (1 s by default) when idle; 100 ms bounds
#: how long its housekeeping (delayed messages, shutdown) can lag behind. Each queue's consumer
#: prefetches 64 jobs rather than Dramatiq's 2 per thread: fewer, fuller reads from RabbitMQ
#: (about 4% less CPU per job, measured with bench/); a slow destination still holds at most
#: ``ALERTRELAY_MAX_IN_FLIGHT_PER_DESTINATION`` threads, the rest of its jobs go back to wait.
DRAMATIQ_DEFAULTS = {"dramatiq_worker_timeout": "100", "dramatiq_queue_prefetch": "64"}


def _dramatiq_defaults() -> None:
    """Set before ``dramatiq.worker`` is imported: it reads these once, at import."""
    import sys

    for name, value in DRAMATIQ_DEFAULTS.items():
        os.environ.setdefault(name, value)
    if "dramatiq.worker" in sys.modules:  # pragma: no cover - a guard for future imports
        logging.getLogger("alertrelay.worker").warning("dramatiq was imported before its settings were applied")


def run(arguments: list[str]) -> int:
    """Run ``dramatiq ARGUMENTS`` in this process; its exit code."""
    _dramatiq_defaults()
    from dramatiq.cli import main as dramatiq_main, make_argument_parser

    if logs.json_enabled():
        from alertrelay.options import setup_logging

        setup_logging()
    directory = _prepare_metrics()
    _forward_sighup()
    try:
        return dramatiq_main(make_argument_parser().parse_args(arguments))
    finally:
        if directory:
            shutil.rmtree(directory, ignore_errors=True)
