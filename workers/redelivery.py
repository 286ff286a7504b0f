"""Bounding redeliveries: a job that kills its worker every time must not loop forever.

RabbitMQ redelivers an unacked job when its worker dies (kill -9, OOM), and Dramatiq does
not count that as a retry. This middleware counts it: a redelivered job is re-published
with ``alertrelay_redeliveries`` incremented (confirmed) and the redelivered copy acked;
once the count passes ``ALERTRELAY_MAX_REDELIVERIES`` (default 3) the job becomes a
permanent dead letter instead of being run again.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime, timezone
from typing import Any

from dramatiq.middleware import Middleware, SkipMessage

from contracts.dead_letter import DeadLetter, Failure
from contracts.job import Job
from workers import dead_letters

log = logging.getLogger("alertrelay.redelivery")
REDELIVERIES = "alertrelay_redeliveries"


def max_redeliveries() -> int:
    return int(os.environ.get("ALERTRELAY_MAX_REDELIVERIES", "3"))


class RedeliveryLimit(Middleware):
    def before_process_message(self, broker: Any, message: Any) -> None:
        if not getattr(message, "redelivered", False):
            return
        count = int(message.options.get(REDELIVERIES, 0)) + 1
        if count > max_redeliveries():
            self._dead_letter(message, count)
        else:
            log.warning("job %s was redelivered (%d of %d allowed); requeueing it counted", message.message_id, count, max_redeliveries())
            broker.enqueue(message.copy(options={REDELIVERIES: count}))
        raise SkipMessage()

    @staticmethod
    def _dead_letter(message: Any, count: int) -> None:
        job = Job.model_validate(message.args[0])
        first_ms = message.options.get("alertrelay_first_attempt_ms", message.message_timestamp)
        letter = DeadLetter(
            job=job,
            error=Failure(
                kind="permanent",
                message=f"the job was delivered {count} times and its worker never finished it "
                f"(the worker process died each time: a poison message); ALERTRELAY_MAX_REDELIVERIES={max_redeliveries()}",
            ),
            attempts=int(message.options.get("alertrelay_attempts", 0)),
            first_attempt_at=datetime.fromtimestamp(first_ms / 1000, timezone.utc),
            last_attempt_at=datetime.now(timezone.utc),
        )
        dead_letters.add(letter)
        log.error("job %s dead-lettered as %s after %d deliveries that never finished", job.id, letter.id, count)
