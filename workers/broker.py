"""The Dramatiq broker every worker process uses: RabbitMQ with publisher confirms."""

from __future__ import annotations

import dramatiq
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.middleware import CurrentMessage

from alertrelay.amqp import rabbitmq_url
from contracts import topology
from workers.redelivery import RedeliveryLimit


class AlertrelayBroker(RabbitmqBroker):
    """Dramatiq's RabbitMQ broker declaring queues with alertrelay's arguments (classic or quorum)."""

    def _build_queue_arguments(self, queue_name: str) -> dict[str, object]:
        return topology.job_queue_arguments(queue_name)

    def _declare_xq_queue(self, queue_name: str) -> object:
        return self.channel.queue_declare(
            queue=topology.dramatiq_dead_queue(queue_name), durable=True, arguments=topology.dramatiq_dead_queue_arguments()
        )


def make_broker(url: str | None = None) -> RabbitmqBroker:
    """A confirm-mode broker (so a retry published to the delay queue is never lost silently)."""
    broker = AlertrelayBroker(url=url or rabbitmq_url(), confirm_delivery=True)
    broker.add_middleware(CurrentMessage())
    broker.add_middleware(RedeliveryLimit())
    return broker


def install_broker(url: str | None = None) -> RabbitmqBroker:
    broker = make_broker(url)
    dramatiq.set_broker(broker)
    return broker
