"""The router process: consume events, fan out confirmed jobs, reject what cannot be routed.

It runs on one asynchronous pika connection with two channels: one consumes
``alertrelay.events`` (manual ack, bounded prefetch), one publishes jobs in confirm mode.
Publishes are pipelined: many jobs are in flight at once and the broker's confirms (often
``multiple=True``) are matched back to their events. An event is acked only when every job
it produced (or its rejection) is confirmed; a negative confirm or a returned message
(unroutable) closes the connection so every unacked event is redelivered. Crashes may
duplicate, never lose: a redelivered event yields the same job ids.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import pika
import pika.exceptions
from pika.adapters.select_connection import SelectConnection
from pika.channel import Channel
from pika.spec import Basic

from alertrelay import logs, metrics, reload
from alertrelay.amqp import connection_parameters, declarations, safe_url
from contracts import topology
from contracts.event import EventError, parse_event
from contracts.job import job_message
from contracts.provisioning import Config
from contracts.registry import REGISTRY
from router.routing import route

log = logging.getLogger("alertrelay.router")


@dataclass
class Outgoing:
    """One message the router must have confirmed before it may ack an event."""

    routing_key: str
    body: bytes
    properties: pika.BasicProperties


@dataclass
class Decision:
    """What to do with one event body: publish these messages, then ack it."""

    messages: list[Outgoing] = field(default_factory=list)
    summary: str = ""
    rejected: bool = False
    event_id: str | None = None


def decide(body: bytes, config: Config, now: datetime | None = None) -> Decision:
    """Pure: route an event body to job messages, or to its rejection."""
    try:
        event = parse_event(body)
        routed = route(event, config, now or datetime.now(timezone.utc))
    except EventError as exc:
        reason = str(exc)
        headers = {topology.REJECT_REASON_HEADER: reason[:4000], topology.REJECTED_AT_HEADER: datetime.now(timezone.utc).isoformat()}
        properties = pika.BasicProperties(delivery_mode=pika.DeliveryMode.Persistent, headers=headers)
        return Decision([Outgoing(topology.REJECTED_QUEUE, body, properties)], f"rejected: {reason}", rejected=True)
    messages = []
    for job in routed.jobs:
        entry = REGISTRY[job.type]
        payload = job_message(job, queue_name=entry.queue_name, actor_name=entry.actor_name)
        properties = pika.BasicProperties(
            delivery_mode=pika.DeliveryMode.Persistent, content_type="application/json", message_id=job.id
        )
        messages.append(Outgoing(entry.queue_name, payload, properties))
    summary = f"event {event.id} → contact point {routed.contact_point.name!r}: {len(messages)} job(s)"
    return Decision(messages, summary, event_id=event.id)


class Router:
    """Consumes events until stopped, reconnecting whenever the broker goes away."""

    def __init__(self, config: Config, url: str | None = None, prefetch: int = 200):
        self.config = config
        self.url = url
        self.prefetch = prefetch
        self.stopping = threading.Event()
        self.routed = 0
        self.rejected = 0
        self._connection: SelectConnection | None = None
        self._consume: Channel | None = None
        self._publish: Channel | None = None
        self._seq = 0
        self._pending_confirms: dict[int, int] = {}  # publish seq → event delivery tag
        self._remaining: dict[int, int] = {}  # event delivery tag → confirms still awaited
        self._consumer_tag: str | None = None
        self.exit_code = 0
        self._attempt = 0

    # -- lifecycle -------------------------------------------------------------------------

    def run(self) -> None:
        while not self.stopping.is_set():
            self._reset()
            self._connection = SelectConnection(
                connection_parameters(self.url, node=self._attempt),
                on_open_callback=self._on_open,
                on_open_error_callback=self._on_open_error,
                on_close_callback=self._on_closed,
            )
            self._connection.ioloop.start()
            self._attempt += 1  # the next connection tries the next node of a cluster
            if not self.stopping.is_set():
                time.sleep(1.0)
        log.info("router stopped: %d event(s) routed, %d rejected", self.routed, self.rejected)

    def stop(self, *_: object) -> None:
        """Stop consuming; events in flight finish (or go back to the queue), then exit."""
        if self.stopping.is_set():
            return
        self.stopping.set()
        connection = self._connection
        if connection is not None:
            connection.ioloop.add_callback_threadsafe(self._begin_shutdown)

    def _begin_shutdown(self) -> None:
        if self._consume is not None and self._consume.is_open and self._consumer_tag:
            self._consume.basic_cancel(self._consumer_tag, callback=lambda _f: self._close_when_idle())
        else:
            self._close_when_idle()

    def _close_when_idle(self, waited: float = 0.0) -> None:
        connection = self._connection
        if connection is None:
            return
        if self._remaining and waited < 10.0:
            connection.ioloop.call_later(0.05, lambda: self._close_when_idle(waited + 0.05))
            return
        if connection.is_open:
            connection.close()
        else:
            connection.ioloop.stop()

    def _reset(self) -> None:
        self._seq = 0
        self._pending_confirms.clear()
        self._remaining.clear()
        self._consume = self._publish = None
        self._consumer_tag = None

    def _on_open_error(self, connection: SelectConnection, error: BaseException) -> None:
        log.warning("cannot reach RabbitMQ at %s (%s); retrying", safe_url(self.url), error)
        connection.ioloop.stop()

    def _on_closed(self, connection: SelectConnection, reason: BaseException) -> None:
        if not self.stopping.is_set():
            log.warning("lost RabbitMQ (%s); reconnecting", reason)
        connection.ioloop.stop()

    def _on_open(self, connection: SelectConnection) -> None:
        connection.channel(on_open_callback=self._on_publish_channel)

    def _on_publish_channel(self, channel: Channel) -> None:
        self._publish = channel
        channel.add_on_close_callback(self._on_channel_closed)
        channel.add_on_return_callback(self._on_returned)
        channel.confirm_delivery(self._on_confirm, callback=lambda _f: self._declare(channel))

    def _declare(self, channel: Channel) -> None:
        """Declare the topology step by step, then open the consuming channel."""
        steps: list[Any] = [lambda cb: channel.exchange_declare(topology.EVENTS_EXCHANGE, "fanout", durable=True, callback=cb)]
        for queue, arguments in declarations([e.queue_name for e in REGISTRY.values()]):
            steps.append(lambda cb, q=queue, a=arguments: channel.queue_declare(q, durable=True, arguments=a or None, callback=cb))
        steps.append(lambda cb: channel.queue_bind(topology.EVENTS_QUEUE, topology.EVENTS_EXCHANGE, callback=cb))

        def run(index: int) -> None:
            if index == len(steps):
                assert self._connection is not None
                self._connection.channel(on_open_callback=self._on_consume_channel)
                return
            steps[index](lambda _frame: run(index + 1))

        run(0)

    def _on_consume_channel(self, channel: Channel) -> None:
        self._consume = channel
        channel.add_on_close_callback(self._on_channel_closed)
        channel.basic_qos(prefetch_count=self.prefetch, callback=lambda _f: self._start_consuming(channel))

    def _start_consuming(self, channel: Channel) -> None:
        if self.stopping.is_set():
            self._close_when_idle()
            return
        self._consumer_tag = channel.basic_consume(topology.EVENTS_QUEUE, self._on_event)
        log.info("router consuming %s on %s", topology.EVENTS_QUEUE, safe_url(self.url))

    def _on_channel_closed(self, channel: Channel, reason: BaseException) -> None:
        if isinstance(reason, pika.exceptions.ChannelClosedByBroker) and reason.reply_code == 406:
            log.critical(topology.mismatch_advice(reason.reply_text))
            self.exit_code = 2
            self.stopping.set()
        connection = self._connection
        if connection is not None and connection.is_open:
            if not self.stopping.is_set():
                log.warning("channel closed (%s); reconnecting", reason)
            connection.close()

    # -- events ------------------------------------------------------------------------------

    def _on_event(self, channel: Channel, method: Basic.Deliver, _properties: Any, body: bytes) -> None:
        decision = decide(body, self.config)
        logs.bind(event_id=decision.event_id)
        metrics.observe_decision(decision)
        tag = method.delivery_tag
        if decision.rejected:
            self.rejected += 1
            log.warning("event %s", decision.summary)
        else:
            self.routed += 1
            log.info(decision.summary if decision.messages else decision.summary + " (nothing to send)")
        if not decision.messages:
            channel.basic_ack(tag)
            return
        assert self._publish is not None
        self._remaining[tag] = len(decision.messages)
        for message in decision.messages:
            self._seq += 1
            self._pending_confirms[self._seq] = tag
            self._publish.basic_publish("", message.routing_key, message.body, message.properties, mandatory=True)

    def _on_confirm(self, frame: Any) -> None:
        method = frame.method
        if isinstance(method, Basic.Nack):
            log.error("RabbitMQ refused a job (nack); reconnecting so the event is redelivered")
            self._fail()
            return
        if method.multiple:
            tags = []
            for seq in self._pending_confirms:  # insertion order is publish order
                if seq > method.delivery_tag:
                    break
                tags.append(seq)
        else:
            tags = [method.delivery_tag]
        for seq in tags:
            event_tag = self._pending_confirms.pop(seq, None)
            if event_tag is None:
                continue
            self._remaining[event_tag] -= 1
            if self._remaining[event_tag] == 0:
                del self._remaining[event_tag]
                if self._consume is not None and self._consume.is_open:
                    self._consume.basic_ack(event_tag)

    def _on_returned(self, _channel: Channel, method: Basic.Return, _props: Any, _body: bytes) -> None:
        log.error("a job was returned as unroutable (%s to %r); reconnecting to declare queues again", method.reply_text, method.routing_key)
        self._fail()

    def _fail(self) -> None:
        """Drop the connection: every unacked event goes back to the queue and is routed again."""
        connection = self._connection
        if connection is not None and connection.is_open:
            connection.close()


def run_router(config: Config, url: str | None = None) -> None:
    router = Router(config, url)
    signal.signal(signal.SIGTERM, router.stop)
    signal.signal(signal.SIGINT, router.stop)
    watcher = reload.watch("router", lambda new: setattr(router, "config", new), current=config)
    router.run()
    if watcher is not None:
        watcher.stop()
    if router.exit_code:
        raise SystemExit(router.exit_code)
