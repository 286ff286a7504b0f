"""Names and arguments of every exchange and queue, shared by all processes.

Every process must declare a queue with identical arguments, or RabbitMQ refuses the
declaration (406 PRECONDITION_FAILED); keeping them in one place is how that holds.
Job queues use exactly the arguments Dramatiq declares.
"""

from __future__ import annotations

import os

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


QUEUE_TYPES = ("classic", "quorum")
#: Quorum queues dead-letter a message after this many deliveries (poison protection).
DEFAULT_DELIVERY_LIMIT = 20
#: Queues people read without consuming (listing dead letters returns them unacked) must
#: not count those reads as failed deliveries.
UNLIMITED_DELIVERIES = 1_000_000


def queue_type() -> str:
    """``ALERTRELAY_QUEUE_TYPE``: ``classic`` (default, a single node) or ``quorum`` (clusters)."""
    kind = os.environ.get("ALERTRELAY_QUEUE_TYPE", "classic").strip().lower() or "classic"
    if kind not in QUEUE_TYPES:
        raise ValueError(f"ALERTRELAY_QUEUE_TYPE must be classic or quorum, not {kind!r}")
    return kind


def _quorum(delivery_limit: int | None = None) -> dict[str, object]:
    if queue_type() != "quorum":
        return {}
    limit = delivery_limit or int(os.environ.get("ALERTRELAY_QUORUM_DELIVERY_LIMIT", DEFAULT_DELIVERY_LIMIT))
    return {"x-queue-type": "quorum", "x-delivery-limit": limit}


def events_queue_arguments() -> dict[str, object]:
    """An event redelivered past the delivery limit (it crashes every router) goes to the rejected queue."""
    if queue_type() != "quorum":
        return {}
    return {**_quorum(), "x-dead-letter-exchange": "", "x-dead-letter-routing-key": REJECTED_QUEUE}


def kept_queue_arguments() -> dict[str, object]:
    """The rejected and dead-letter queues: read by people, never expired, never dropped."""
    return _quorum(UNLIMITED_DELIVERIES)


def job_queue_arguments(queue: str) -> dict[str, object]:
    """The arguments Dramatiq gives a job queue and its delay queue (plus the quorum ones)."""
    return {"x-dead-letter-exchange": "", "x-dead-letter-routing-key": dramatiq_dead_queue(queue), **_quorum()}


def dramatiq_dead_queue_arguments() -> dict[str, object]:
    return {"x-message-ttl": DRAMATIQ_XQ_TTL_MS, **_quorum(UNLIMITED_DELIVERIES)}


def mismatch_advice(detail: str) -> str:
    """What to tell an operator when RabbitMQ refuses a declaration (406)."""
    return (
        f"RabbitMQ refused to declare a queue because it already exists with other arguments ({detail}). "
        f"Every alertrelay process must run with the same ALERTRELAY_QUEUE_TYPE (this one: {queue_type()}) "
        "and ALERTRELAY_QUORUM_DELIVERY_LIMIT. To change the type of existing queues: stop every alertrelay "
        "process, drain or move their messages, delete the queues (rabbitmqctl delete_queue NAME), then start again."
    )
