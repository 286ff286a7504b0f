"""The Dramatiq broker every worker process uses: RabbitMQ with publisher confirms."""

from __future__ import annotations

import dramatiq
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.middleware import CurrentMessage

from alertrelay.amqp import rabbitmq_url


def make_broker(url: str | None = None) -> RabbitmqBroker:
    """A confirm-mode broker (so a retry published to the delay queue is never lost silently)."""
    broker = RabbitmqBroker(url=url or rabbitmq_url(), confirm_delivery=True)
    broker.add_middleware(CurrentMessage())
    return broker


def install_broker(url: str | None = None) -> RabbitmqBroker:
    broker = make_broker(url)
    dramatiq.set_broker(broker)
    return broker
