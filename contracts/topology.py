"""Names and arguments of every exchange and queue, shared by all processes.

Every process must declare a queue with identical arguments, or RabbitMQ refuses the
declaration (406 PRECONDITION_FAILED); keeping them in one place is how that holds.
Job queues use exactly the arguments Dramatiq declares.
"""

from __future__ import annotations

EVENTS_EXCHANGE = "alertrelay.events"
EVENTS_QUEUE = "alertrelay.events"
REJECTED_QUEUE = "alertrelay.rejected"
DEAD_LETTER_QUEUE = "alertrelay.dead-letters"

#: Header on a rejected event that says why it was refused.
REJECT_REASON_HEADER = "x-alertrelay-reason"
REJECTED_AT_HEADER = "x-alertrelay-rejected-at"

#: Dramatiq's dead-message TTL for ``<queue>.XQ`` (its default, 7 days).
DRAMATIQ_XQ_TTL_MS = 86400000 * 7


def delay_queue(queue: str) -> str:
    return f"{queue}.DQ"


def dramatiq_dead_queue(queue: str) -> str:
    return f"{queue}.XQ"


def job_queue_arguments(queue: str) -> dict[str, object]:
    """The arguments Dramatiq gives a job queue and its delay queue."""
    return {"x-dead-letter-exchange": "", "x-dead-letter-routing-key": dramatiq_dead_queue(queue)}
