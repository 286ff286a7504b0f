"""The limits of this machine and broker: raw pika and a do-nothing Dramatiq actor."""

from __future__ import annotations

import threading
import time

import pika
from pika.adapters.select_connection import SelectConnection

BODY = b'{"bench": true, "padding": "' + b"x" * 300 + b'"}'
PERSISTENT = pika.BasicProperties(delivery_mode=2)


def _declare(url: str, queue: str) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    channel.queue_declare(queue, durable=True)
    channel.queue_purge(queue)
    connection.close()


def publish_per_message(url: str, n: int, queue: str = "bench.raw") -> float:
    """Persistent publishes, each waiting for its confirm (BlockingConnection)."""
    _declare(url, queue)
    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    channel.confirm_delivery()
    start = time.perf_counter()
    for _ in range(n):
        channel.basic_publish("", queue, BODY, PERSISTENT, mandatory=True)
    elapsed = time.perf_counter() - start
    connection.close()
    return n / elapsed


def publish_pipelined(url: str, n: int, queue: str = "bench.raw", window: int = 2000) -> float:
    """Persistent publishes with confirms in flight (SelectConnection), at most ``window`` unconfirmed."""
    _declare(url, queue)
    return n / pipelined(url, "", queue, [BODY] * n, window)


def pipelined(url: str, exchange: str, routing_key: str, bodies: list[bytes], window: int = 2000,
              properties: pika.BasicProperties = PERSISTENT) -> float:
    """Publish ``bodies`` persistently with at most ``window`` unconfirmed; seconds until the last confirm."""
    n = len(bodies)
    state = {"sent": 0, "confirmed": 0, "start": 0.0, "end": 0.0}

    def on_open(connection: SelectConnection) -> None:
        connection.channel(on_open_callback=lambda ch: ch.confirm_delivery(lambda f: on_confirm(ch, f), callback=lambda _f: pump(ch)))

    def pump(channel: pika.channel.Channel) -> None:
        if not state["start"]:
            state["start"] = time.perf_counter()
        while state["sent"] < n and state["sent"] - state["confirmed"] < window:
            channel.basic_publish(exchange, routing_key, bodies[state["sent"]], properties)
            state["sent"] += 1

    def on_confirm(channel: pika.channel.Channel, frame: pika.frame.Method) -> None:
        if isinstance(frame.method, pika.spec.Basic.Nack):
            raise RuntimeError(f"RabbitMQ refused message {frame.method.delivery_tag}")
        state["confirmed"] = frame.method.delivery_tag if frame.method.multiple else max(state["confirmed"], frame.method.delivery_tag)
        if state["confirmed"] >= n:
            state["end"] = time.perf_counter()
            channel.connection.close()
        else:
            pump(channel)

    connection = SelectConnection(pika.URLParameters(url), on_open_callback=on_open, on_close_callback=lambda c, r: c.ioloop.stop())
    connection.ioloop.start()
    return state["end"] - state["start"]


def consume_ack(url: str, n: int, queue: str = "bench.raw") -> float:
    """Consume ``n`` pre-filled messages with manual acks, prefetch 200."""
    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    channel.basic_qos(prefetch_count=200)
    got = 0
    start = time.perf_counter()
    for method, _props, _body in channel.consume(queue, inactivity_timeout=5):
        if method is None:
            break
        channel.basic_ack(method.delivery_tag)
        got += 1
        if got >= n:
            break
    elapsed = time.perf_counter() - start
    channel.cancel()
    connection.close()
    return got / elapsed


def dramatiq_noop_drain(url: str, n: int, threads: int = 8) -> float:
    """A Dramatiq actor that does nothing, draining ``n`` pre-filled messages (1 process × ``threads``)."""
    import dramatiq
    from dramatiq import Worker
    from dramatiq.brokers.rabbitmq import RabbitmqBroker

    broker = RabbitmqBroker(url=url, confirm_delivery=False)
    dramatiq.set_broker(broker)
    done = threading.Event()
    count = [0]
    lock = threading.Lock()

    @dramatiq.actor(queue_name="bench.noop", max_retries=0)
    def noop(_payload: dict) -> None:
        with lock:
            count[0] += 1
            if count[0] >= n:
                done.set()

    broker.declare_queue("bench.noop")
    broker.flush("bench.noop")
    for _ in range(n):
        noop.send({"padding": "x" * 300})
    worker = Worker(broker, worker_threads=threads, worker_timeout=100)
    start = time.perf_counter()
    worker.start()
    done.wait(timeout=300)
    elapsed = time.perf_counter() - start
    worker.stop()
    broker.close()
    return count[0] / elapsed
