"""RabbitMQ plumbing shared by the router, the workers and the command line.

Connections come from ``RABBITMQ_URL``; :func:`declare_topology` declares every queue with
the arguments of :mod:`contracts.topology`; :class:`ConfirmedPublisher` publishes persistent
messages and returns only once the broker has confirmed them, reconnecting when the
connection drops.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Callable, Iterable

import pika
import pika.exceptions
from pika.adapters.blocking_connection import BlockingChannel

from contracts import topology

log = logging.getLogger("alertrelay.amqp")

DEFAULT_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"

#: Errors after which a connection or channel must be thrown away and made again.
RECONNECT_ERRORS: tuple[type[BaseException], ...] = (
    pika.exceptions.AMQPConnectionError,
    pika.exceptions.AMQPChannelError,
    pika.exceptions.StreamLostError,
    ConnectionError,
    OSError,
)


class PublishError(Exception):
    """The broker did not confirm a message after every retry."""


def rabbitmq_url() -> str:
    return os.environ.get("RABBITMQ_URL") or DEFAULT_URL


def broker_urls(url: str | None = None) -> list[str]:
    """The broker URLs: ``RABBITMQ_URL`` may list several nodes separated by ``;`` (as Dramatiq's)."""
    return [part.strip() for part in (url or rabbitmq_url()).split(";") if part.strip()]


def connection_parameters(url: str | None = None, node: int = 0) -> pika.URLParameters:
    """Parameters for one node (``node`` counts round the list, so reconnects try the next one)."""
    urls = broker_urls(url)
    chosen = urls[node % len(urls)]
    params = pika.URLParameters(chosen)
    if "heartbeat" not in chosen:
        params.heartbeat = 30
    params.blocked_connection_timeout = 60
    return params


def safe_url(url: str | None = None) -> str:
    """The broker URL(s) with passwords masked, for log lines."""
    shown = []
    for one in broker_urls(url):
        params = pika.URLParameters(one)
        scheme = "amqps" if params.ssl_options else "amqp"
        shown.append(f"{scheme}://{params.credentials.username}:***@{params.host}:{params.port}/{params.virtual_host}")
    return ";".join(shown)


def connect(url: str | None = None, attempts: int = 0, on_wait: Callable[[Exception], None] | None = None) -> pika.BlockingConnection:
    """Connect, retrying with backoff; ``attempts=0`` retries until it works."""
    delay, tried = 0.5, 0
    while True:
        try:
            return pika.BlockingConnection([connection_parameters(url, n) for n in range(len(broker_urls(url)))])
        except RECONNECT_ERRORS as exc:
            tried += 1
            if attempts and tried >= attempts:
                raise
            if on_wait:
                on_wait(exc)
            else:
                log.warning("cannot reach RabbitMQ at %s (%s); retrying in %.1fs", safe_url(url), type(exc).__name__, delay)
            time.sleep(delay)
            delay = min(delay * 2, 5.0)


class QueueMismatch(Exception):
    """A queue exists with other arguments (RabbitMQ 406); the message says what to do."""


def declarations(job_queues: Iterable[str] = ()) -> list[tuple[str, dict[str, object]]]:
    """Every queue alertrelay declares, with its arguments, in declaration order."""
    queues: list[tuple[str, dict[str, object]]] = [
        (topology.EVENTS_QUEUE, topology.events_queue_arguments()),
        (topology.REJECTED_QUEUE, topology.kept_queue_arguments()),
        (topology.DEAD_LETTER_QUEUE, topology.kept_queue_arguments()),
    ]
    for queue in job_queues:
        arguments = topology.job_queue_arguments(queue)
        queues += [
            (queue, arguments),
            (topology.delay_queue(queue), arguments),
            (topology.dramatiq_dead_queue(queue), topology.dramatiq_dead_queue_arguments()),
        ]
    return queues


def declare_topology(channel: BlockingChannel, job_queues: Iterable[str] = ()) -> None:
    """Declare the events exchange and every queue; a 406 becomes :class:`QueueMismatch`."""
    try:
        channel.exchange_declare(exchange=topology.EVENTS_EXCHANGE, exchange_type="fanout", durable=True)
        for queue, arguments in declarations(job_queues):
            channel.queue_declare(queue=queue, durable=True, arguments=arguments or None)
        channel.queue_bind(queue=topology.EVENTS_QUEUE, exchange=topology.EVENTS_EXCHANGE)
    except pika.exceptions.ChannelClosedByBroker as exc:
        if exc.reply_code == 406:
            raise QueueMismatch(topology.mismatch_advice(exc.reply_text)) from None
        raise


class ConfirmedPublisher:
    """Publishes persistent messages on a confirm-mode channel; each call returns once confirmed.

    One instance per thread. On a dropped connection it reconnects and publishes again, for
    up to ``ALERTRELAY_PUBLISH_RETRY_SECONDS`` (default 60, long enough for a broker restart);
    a message may then arrive twice, never zero times.
    """

    def __init__(
        self, url: str | None = None, job_queues: Iterable[str] = (), retry_seconds: float | None = None, attempts: int = 0
    ):
        """``attempts`` (0 = no limit) bounds the tries as well, for callers that must answer fast."""
        self.url = url
        self.attempts = attempts
        self.job_queues = tuple(job_queues)
        self.retry_seconds = (
            retry_seconds if retry_seconds is not None else float(os.environ.get("ALERTRELAY_PUBLISH_RETRY_SECONDS", "60"))
        )
        self._connection: pika.BlockingConnection | None = None
        self._channel: BlockingChannel | None = None

    def _ensure(self) -> BlockingChannel:
        if self._channel is None or not self._channel.is_open:
            self.close()
            self._connection = connect(self.url, attempts=1)
            self._channel = self._connection.channel()
            declare_topology(self._channel, self.job_queues)
            self._channel.confirm_delivery()
        return self._channel

    def publish(
        self,
        routing_key: str,
        body: bytes,
        *,
        exchange: str = "",
        headers: dict[str, object] | None = None,
        message_id: str | None = None,
        content_type: str | None = None,
    ) -> None:
        properties = pika.BasicProperties(
            delivery_mode=pika.DeliveryMode.Persistent,
            headers=headers,
            message_id=message_id,
            content_type=content_type,
        )
        deadline = time.monotonic() + self.retry_seconds
        delay, tries = 0.2, 0
        while True:
            tries += 1
            try:
                self._ensure().basic_publish(exchange, routing_key, body, properties, mandatory=True)
                return
            except pika.exceptions.UnroutableError as exc:
                last: BaseException = exc  # the queue vanished: the next _ensure() declares it again
                self.close()
            except RECONNECT_ERRORS as exc:
                last = exc
                self.close()
            if time.monotonic() + delay > deadline or (self.attempts and tries >= self.attempts):
                raise PublishError(f"RabbitMQ did not confirm the message to {routing_key or exchange!r}: {type(last).__name__}: {last}")
            log.warning("publish to %r failed (%s); retrying in %.1fs", routing_key or exchange, type(last).__name__, delay)
            time.sleep(delay)
            delay = min(delay * 2, 3.0)

    def close(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None and connection.is_open:
            try:
                connection.close()
            except RECONNECT_ERRORS:
                pass

    def __enter__(self) -> "ConfirmedPublisher":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
