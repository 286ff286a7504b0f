"""The Dramatiq broker every worker process uses: RabbitMQ with publisher confirms."""

from __future__ import annotations

import threading
from typing import Any

import dramatiq
import pika.exceptions
from dramatiq.brokers.rabbitmq import RabbitmqBroker, _RabbitmqConsumer
from dramatiq.errors import ConnectionClosed
from dramatiq.middleware import CurrentMessage, Retries, TimeLimit

from alertrelay.amqp import rabbitmq_url
from contracts import topology
from workers.redelivery import RedeliveryLimit


class BatchedAckConsumer(_RabbitmqConsumer):
    """Dramatiq's consumer, but the acks worker threads hand over are sent in batches.

    Dramatiq wakes the consumer's connection once per ack and flushes the socket after each
    one: a fifth of a worker's CPU under load (profiled). Here an ack joins a list, and one
    callback sends every ack waiting and flushes once. Nothing is acked earlier than before,
    only together; a job whose ack was not yet sent is redelivered, as it always was.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pending_acks: list[int] = []
        self._pending_lock = threading.Lock()

    def ack(self, message: Any) -> None:
        try:
            self.known_tags.remove(message._tag)
        except KeyError:
            self.logger.warning("Failed to ack message: not in known tags.")
            return
        with self._pending_lock:
            self._pending_acks.append(message._tag)
            first = len(self._pending_acks) == 1
        if not first:
            return  # the callback scheduled for the first one sends this one too
        try:
            self.connection.add_callback_threadsafe(self._send_acks)
        except (pika.exceptions.AMQPConnectionError, pika.exceptions.AMQPChannelError) as exc:
            raise ConnectionClosed(exc) from None

    def _send_acks(self) -> None:
        """On the consumer's thread: every pending ack in one write."""
        with self._pending_lock:
            tags, self._pending_acks = self._pending_acks, []
        for tag in tags[:-1]:
            self.channel._impl.basic_ack(delivery_tag=tag)  # queued; the last call flushes them all
        if tags:
            self.channel.basic_ack(tags[-1])


class AlertrelayBroker(RabbitmqBroker):
    """Dramatiq's RabbitMQ broker declaring queues with alertrelay's arguments (classic or quorum),
    consuming with :class:`BatchedAckConsumer`."""

    @property
    def consumer_class(self) -> type[_RabbitmqConsumer]:
        return BatchedAckConsumer

    def _build_queue_arguments(self, queue_name: str) -> dict[str, object]:
        return topology.job_queue_arguments(queue_name)

    def _declare_xq_queue(self, queue_name: str) -> object:
        return self.channel.queue_declare(
            queue=topology.dramatiq_dead_queue(queue_name), durable=True, arguments=topology.dramatiq_dead_queue_arguments()
        )


#: Of Dramatiq's default middleware only these are used: the actors' time limit and retries.
#: AgeLimit, ShutdownNotifications, Callbacks and Pipelines serve actor options alertrelay never
#: sets, and every middleware is called on every hook of every job.
MIDDLEWARE = (TimeLimit, Retries)


def make_broker(url: str | None = None) -> RabbitmqBroker:
    """A confirm-mode broker (so a retry published to the delay queue is never lost silently)."""
    broker = AlertrelayBroker(url=url or rabbitmq_url(), confirm_delivery=True, middleware=[m() for m in MIDDLEWARE])
    broker.add_middleware(CurrentMessage())
    broker.add_middleware(RedeliveryLimit())
    return broker


def install_broker(url: str | None = None) -> RabbitmqBroker:
    broker = make_broker(url)
    dramatiq.set_broker(broker)
    return broker
