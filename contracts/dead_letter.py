"""The dead-letter record: a job that could not be delivered, and why."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Literal

from pydantic import BaseModel, Field

from contracts.job import Job

FailureKind = Literal["transient", "permanent"]


class Failure(BaseModel):
    """The final error of a job. Texts are redacted of secrets before they get here."""

    kind: FailureKind
    message: str
    status_code: int | None = None
    body_excerpt: str | None = None


class DeadLetter(BaseModel):
    id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    job: Job
    error: Failure
    attempts: int
    first_attempt_at: datetime
    last_attempt_at: datetime
    dead_lettered_at: datetime = Field(default_factory=lambda: datetime.now(timezone.utc))
    #: The fallback contact point the notification was sent through instead, and those jobs.
    fallback_contact_point: str | None = None
    fallback_job_ids: list[str] = Field(default_factory=list)

    @property
    def age_seconds(self) -> float:
        return (datetime.now(timezone.utc) - self.dead_lettered_at).total_seconds()

    def summary(self) -> dict[str, object]:
        """The one-line view ``dead-letters list`` prints."""
        return {
            "id": self.id,
            "job_id": self.job.id,
            "type": self.job.type,
            "contact_point": self.job.contact_point,
            "uid": self.job.uid,
            "status": self.job.notification.status,
            "kind": self.error.kind,
            "status_code": self.error.status_code,
            "error": self.error.message,
            "attempts": self.attempts,
            "replays": self.job.replays,
            "dead_lettered_at": self.dead_lettered_at.isoformat(),
            "fallback_contact_point": self.fallback_contact_point,
            "fallback_of": self.job.fallback_of.dead_letter_id if self.job.fallback_of else None,
        }
