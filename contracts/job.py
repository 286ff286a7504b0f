"""The job: one notification for one integration of one contact point.

A job names its contact point and integration uid and carries the notification data; it
never carries settings, so no secret ever sits in a queue. Its id is derived from the event
id, contact point, uid and status, so a redelivered event yields the same job ids.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone

from pydantic import BaseModel, Field

from contracts.event import Notification


def job_id(event_id: str, contact_point: str, uid: str, status: str) -> str:
    key = "\x1f".join((event_id, contact_point, uid, status))
    return hashlib.sha256(key.encode()).hexdigest()[:32]


class FallbackOrigin(BaseModel):
    """Where a fallback job comes from: the dead-lettered job it stands in for."""

    dead_letter_id: str
    job_id: str
    contact_point: str
    uid: str
    type: str


class Job(BaseModel):
    id: str
    event_id: str
    contact_point: str
    uid: str
    type: str
    notification: Notification
    created_at: datetime = Field(default_factory=lambda: datetime.now(timezone.utc))
    #: How many times an operator replayed this job from the dead letters.
    replays: int = 0
    #: Set on a job sent through a fallback contact point; depth counts fallbacks followed.
    fallback_of: FallbackOrigin | None = None
    fallback_depth: int = 0

    @classmethod
    def for_integration(cls, event_id: str, contact_point: str, uid: str, type_name: str, notification: Notification) -> "Job":
        return cls(
            id=job_id(event_id, contact_point, uid, notification.status),
            event_id=event_id,
            contact_point=contact_point,
            uid=uid,
            type=type_name,
            notification=notification,
        )


def job_message(job: Job, *, queue_name: str, actor_name: str) -> bytes:
    """The job as the Dramatiq message its actor consumes; the message id is the job id."""
    import time

    from dramatiq import Message

    message = Message(
        queue_name=queue_name,
        actor_name=actor_name,
        args=(job.model_dump(mode="json"),),
        kwargs={},
        options={},
        message_id=job.id,
        message_timestamp=int(time.time() * 1000),
    )
    return message.encode()
