"""The router process: consume events, fan out confirmed jobs, reject what cannot be routed.

An event is acked only after every job it produced (or its rejection) is confirmed by the
broker, so a crash at any point redelivers the event and loses nothing; the redelivered
event yields the same job ids.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from datetime import datetime, timezone

import pika
import pika.exceptions

from alertrelay.amqp import RECONNECT_ERRORS, ConfirmedPublisher, connect, declare_topology, safe_url
from contracts import topology
from contracts.event import EventError, parse_event
from contracts.job import job_message
from contracts.provisioning import Config
from contracts.registry import REGISTRY
from router.routing import route

log = logging.getLogger("alertrelay.router")


class Router:
    def __init__(self, config: Config, url: str | None = None, prefetch: int = 50):
        self.config = config
        self.url = url
        self.prefetch = prefetch
        self.stopping = threading.Event()
        self.publisher = ConfirmedPublisher(url, job_queues=[e.queue_name for e in REGISTRY.values()])
        self.routed = 0
        self.rejected = 0

    def handle(self, body: bytes) -> None:
        """Route one event body; publishes jobs or the rejection, confirmed. Raises on publish failure."""
        try:
            event = parse_event(body)
            routed = route(event, self.config, datetime.now(timezone.utc))
        except EventError as exc:
            self.reject(body, str(exc))
            return
        for job in routed.jobs:
            entry = REGISTRY[job.type]
            payload = job_message(job, queue_name=entry.queue_name, actor_name=entry.actor_name)
            self.publisher.publish(entry.queue_name, payload, message_id=job.id, content_type="application/json")
        if routed.jobs:
            log.info("event %s → contact point %r: %d job(s)", event.id, routed.contact_point.name, len(routed.jobs))
        else:
            log.info("event %s → contact point %r: nothing to send", event.id, routed.contact_point.name)
        self.routed += 1

    def reject(self, body: bytes, reason: str) -> None:
        headers = {
            topology.REJECT_REASON_HEADER: reason[:4000],
            topology.REJECTED_AT_HEADER: datetime.now(timezone.utc).isoformat(),
        }
        self.publisher.publish(topology.REJECTED_QUEUE, body, headers=headers)
        self.rejected += 1
        log.warning("event rejected: %s", reason)

    def run(self) -> None:
        """Consume until :meth:`stop`; reconnect whenever the broker goes away."""
        while not self.stopping.is_set():
            try:
                self._consume()
            except RECONNECT_ERRORS as exc:
                if self.stopping.is_set():
                    break
                log.warning("lost RabbitMQ (%s: %s); reconnecting", type(exc).__name__, exc)
                self.publisher.close()
                time.sleep(1.0)
        self.publisher.close()

    def _consume(self) -> None:
        connection = connect(self.url, on_wait=lambda exc: self._waiting(exc))
        try:
            channel = connection.channel()
            declare_topology(channel, [e.queue_name for e in REGISTRY.values()])
            channel.basic_qos(prefetch_count=self.prefetch)
            log.info("router consuming %s on %s", topology.EVENTS_QUEUE, safe_url(self.url))
            for method, _properties, body in channel.consume(topology.EVENTS_QUEUE, inactivity_timeout=1.0):
                if method is None:
                    if self.stopping.is_set():
                        break
                    continue
                self.handle(body)
                channel.basic_ack(method.delivery_tag)
                if self.stopping.is_set():
                    break
            channel.cancel()
        finally:
            if connection.is_open:
                try:
                    connection.close()
                except RECONNECT_ERRORS:
                    pass

    def _waiting(self, exc: Exception) -> None:
        if self.stopping.is_set():
            raise exc
        log.warning("waiting for RabbitMQ at %s (%s)", safe_url(self.url), type(exc).__name__)

    def stop(self, *_: object) -> None:
        self.stopping.set()


def run_router(config: Config, url: str | None = None) -> None:
    router = Router(config, url)
    signal.signal(signal.SIGTERM, router.stop)
    signal.signal(signal.SIGINT, router.stop)
    router.run()
    log.info("router stopped: %d event(s) routed, %d rejected", router.routed, router.rejected)
