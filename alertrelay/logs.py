"""Log formats and the per-thread context (event id, job id) every log line carries.

``ALERTRELAY_LOG_FORMAT=json`` turns every log line into one JSON object with the time,
level, logger, message, process, thread and the ids of the event and job being handled
(``null`` outside one). The ids live in context variables: a worker thread binds them
while it processes a job, the router while it routes an event, the ingest while it
publishes. Plain text stays the default.
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Iterator

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

_event_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("alertrelay_event_id", default=None)
_job_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("alertrelay_job_id", default=None)


def json_enabled() -> bool:
    return os.environ.get("ALERTRELAY_LOG_FORMAT", "text").strip().lower() == "json"


def bind(event_id: str | None = None, job_id: str | None = None) -> None:
    """Set the ids the following log lines of this thread (or task) carry."""
    _event_id.set(event_id)
    _job_id.set(job_id)


def clear() -> None:
    bind(None, None)


@contextmanager
def bound(event_id: str | None = None, job_id: str | None = None) -> Iterator[None]:
    """Carry the ids for the duration of a block, then restore what was there."""
    tokens = (_event_id.set(event_id), _job_id.set(job_id))
    try:
        yield
    finally:
        _event_id.reset(tokens[0])
        _job_id.reset(tokens[1])


def current_ids() -> tuple[str | None, str | None]:
    return _event_id.get(), _job_id.get()


class JsonFormatter(logging.Formatter):
    """One JSON object per line; ``event_id`` and ``job_id`` are always present."""

    def format(self, record: logging.LogRecord) -> str:
        event_id, job_id = current_ids()
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "event_id": getattr(record, "event_id", None) or event_id,
            "job_id": getattr(record, "job_id", None) or job_id,
            "process": record.process,
            "thread": record.threadName,
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def formatter() -> logging.Formatter:
    return JsonFormatter() if json_enabled() else logging.Formatter(TEXT_FORMAT)
