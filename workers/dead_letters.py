"""Dead letters: jobs that could not be delivered, kept in a durable queue until replayed or purged.

The queue ``alertrelay.dead-letters`` has no TTL, so nothing expires silently (Dramatiq's
own ``.XQ`` queues drop messages after 7 days). Each message is a :class:`DeadLetter` JSON
record. Listing reads every message without acking it, then gives them all back; replay
publishes a fresh job (retry count reset, replay counter incremented) and acks the dead
letter only after the broker confirmed the new job.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable, Iterator

from pydantic import ValidationError

from alertrelay.amqp import ConfirmedPublisher, connect, declare_topology
from contracts import topology
from contracts.dead_letter import DeadLetter
from contracts.job import job_message
from contracts.registry import REGISTRY

log = logging.getLogger("alertrelay.dead_letters")
#: ``progress(done, total)``: messages looked at so far, of how many.
Progress = Callable[[int, int], None]
_local = threading.local()


def publisher(url: str | None = None) -> ConfirmedPublisher:
    """This thread's confirmed publisher (shared by dead letters, fallbacks and failure notices)."""
    return _publisher(url)


def _publisher(url: str | None) -> ConfirmedPublisher:
    publisher = getattr(_local, "publisher", None)
    if publisher is None:
        publisher = _local.publisher = ConfirmedPublisher(url)
    return publisher


def add(dead_letter: DeadLetter, url: str | None = None) -> None:
    """Store a dead letter; returns once the broker confirmed it (so the job may be acked)."""
    _publisher(url).publish(
        topology.DEAD_LETTER_QUEUE,
        dead_letter.model_dump_json().encode(),
        message_id=dead_letter.id,
        content_type="application/json",
    )


@dataclass
class Filters:
    """Which dead letters a command applies to; every given filter must match."""

    id: str | None = None
    type: str | None = None
    contact_point: str | None = None
    uid: str | None = None
    error: str | None = None
    older_than: timedelta | None = None
    newer_than: timedelta | None = None

    def match(self, letter: DeadLetter) -> bool:
        age = datetime.now(timezone.utc) - letter.dead_lettered_at
        checks = [
            self.id is None or self.id in (letter.id, letter.job.id),
            self.type is None or letter.job.type == self.type,
            self.contact_point is None or letter.job.contact_point == self.contact_point,
            self.uid is None or letter.job.uid == self.uid,
            self.error is None or self.error.lower() in letter.error.message.lower(),
            self.older_than is None or age >= self.older_than,
            self.newer_than is None or age <= self.newer_than,
        ]
        return all(checks)


@dataclass
class Unreadable:
    """A message in the dead-letter queue that is not a dead-letter record (kept, never dropped)."""

    body: bytes
    error: str


def _decode(body: bytes) -> DeadLetter | Unreadable:
    try:
        return DeadLetter.model_validate_json(body)
    except (ValidationError, ValueError) as exc:
        return Unreadable(body, str(exc).splitlines()[0])


class DeadLetterQueue:
    """Reads and acts on the dead-letter queue for the command line."""

    def __init__(self, url: str | None = None):
        self.url = url

    def _scan(self, act: Callable[[DeadLetter | Unreadable], bool], progress: Progress | None = None) -> int:
        """Offer every message to ``act``; acks those it returns True for, gives back the rest.

        ``progress(done, total)`` is called once before the first message and after each one.
        """
        connection = connect(self.url, attempts=3)
        done = 0
        try:
            channel = connection.channel()
            declare_topology(channel)
            count = channel.queue_declare(topology.DEAD_LETTER_QUEUE, passive=True).method.message_count
            if progress:
                progress(0, count)
            for seen in range(1, count + 1):
                method, _props, body = channel.basic_get(topology.DEAD_LETTER_QUEUE, auto_ack=False)
                if method is None:
                    break  # somebody else took it meanwhile
                if act(_decode(body)):
                    channel.basic_ack(method.delivery_tag)
                    done += 1
                if progress:
                    progress(seen, count)
        finally:
            connection.close()
        return done

    def iter(self, filters: Filters | None = None) -> Iterator[DeadLetter | Unreadable]:
        found: list[DeadLetter | Unreadable] = []

        unfiltered = filters is None or not _any_filter(filters)

        def collect(item: DeadLetter | Unreadable) -> bool:
            if unfiltered or (isinstance(item, DeadLetter) and filters.match(item)):  # type: ignore[union-attr]
                found.append(item)
            return False  # listing never removes anything

        self._scan(collect)
        return iter(found)

    def list(self, filters: Filters | None = None) -> list[DeadLetter | Unreadable]:
        return list(self.iter(filters))

    def replay(self, filters: Filters, dry_run: bool = False, progress: Progress | None = None) -> list[DeadLetter]:
        """Re-enqueue matching dead letters as fresh jobs; each is acked only once its job is confirmed."""
        replayed: list[DeadLetter] = []
        with ConfirmedPublisher(self.url, job_queues=[e.queue_name for e in REGISTRY.values()]) as publisher:

            def act(item: DeadLetter | Unreadable) -> bool:
                if isinstance(item, Unreadable) or not filters.match(item):
                    return False
                replayed.append(item)
                if dry_run:
                    return False
                entry = REGISTRY.get(item.job.type)
                if entry is None:
                    log.error("dead letter %s: integration type %r no longer exists; kept", item.id, item.job.type)
                    replayed.pop()
                    return False
                job = item.job.model_copy(update={"replays": item.job.replays + 1})
                payload = job_message(job, queue_name=entry.queue_name, actor_name=entry.actor_name)
                publisher.publish(entry.queue_name, payload, message_id=job.id, content_type="application/json")
                return True

            self._scan(act, progress)
        return replayed

    def purge(self, filters: Filters, dry_run: bool = False, progress: Progress | None = None) -> list[DeadLetter]:
        purged: list[DeadLetter] = []

        def act(item: DeadLetter | Unreadable) -> bool:
            if isinstance(item, Unreadable) or not filters.match(item):
                return False
            purged.append(item)
            return not dry_run

        self._scan(act, progress)
        return purged


def _any_filter(filters: Filters) -> bool:
    return any(value is not None for value in vars(filters).values())


def describe(item: DeadLetter | Unreadable) -> dict[str, object]:
    if isinstance(item, Unreadable):
        return {"id": None, "unreadable": item.error, "body": item.body[:200].decode("utf-8", "replace")}
    return item.summary()


def as_json(item: DeadLetter | Unreadable) -> str:
    if isinstance(item, Unreadable):
        return json.dumps(describe(item))
    return item.model_dump_json(indent=2)
