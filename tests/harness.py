"""Running the real pipeline in tests: RabbitMQ helpers and router/worker subprocesses."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterable

import pika
import pika.exceptions

from contracts import topology
from contracts.registry import REGISTRY

#: Retry settings that keep integration tests quick; the README documents the defaults.
FAST_RETRY_ENV = {
    "ALERTRELAY_RETRY_MIN_BACKOFF": "0.2",
    "ALERTRELAY_RETRY_MAX_BACKOFF": "1",
    "ALERTRELAY_RETRY_MAX_AGE": "30",
    "ALERTRELAY_HTTP_TIMEOUT": "5",
}


def all_queues() -> list[str]:
    names = [topology.EVENTS_QUEUE, topology.REJECTED_QUEUE, topology.DEAD_LETTER_QUEUE]
    for entry in REGISTRY.values():
        q = entry.queue_name
        names += [q, topology.delay_queue(q), topology.dramatiq_dead_queue(q)]
    return names


def channel(url: str) -> tuple[pika.BlockingConnection, Any]:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    return connection, connection.channel()


def purge_all(url: str) -> None:
    from alertrelay.amqp import declare_topology

    connection, ch = channel(url)
    try:
        declare_topology(ch, [e.queue_name for e in REGISTRY.values()])
        for name in all_queues():
            ch.queue_purge(name)
    finally:
        connection.close()


def queue_info(url: str, name: str) -> tuple[int, int]:
    """(ready messages, consumers) of a queue."""
    connection, ch = channel(url)
    try:
        frame = ch.queue_declare(name, passive=True)
        return frame.method.message_count, frame.method.consumer_count
    except pika.exceptions.ChannelClosedByBroker as exc:
        if exc.reply_code == 404:
            return 0, 0  # not declared yet
        raise
    finally:
        if connection.is_open:
            connection.close()


def peek(url: str, name: str) -> list[tuple[Any, bytes]]:
    """Every ready message of a queue (properties, body), left in the queue."""
    connection, ch = channel(url)
    found = []
    try:
        while True:
            method, props, body = ch.basic_get(name, auto_ack=False)
            if method is None:
                break
            found.append((props, body))
    finally:
        connection.close()  # unacked messages go back to the queue
    return found


def publish_raw(url: str, body: bytes) -> None:
    connection, ch = channel(url)
    try:
        ch.confirm_delivery()
        ch.basic_publish(topology.EVENTS_EXCHANGE, "", body, pika.BasicProperties(delivery_mode=2), mandatory=True)
    finally:
        connection.close()


def wait_for(predicate: Callable[[], Any], timeout: float = 20.0, interval: float = 0.05, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def cli(env: dict[str, str], *args: str, input_text: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``alertrelay ARGS`` as a user would, in a subprocess."""
    result = subprocess.run(
        [sys.executable, "-m", "alertrelay", *args],
        env=env, input=input_text, capture_output=True, text=True, timeout=120,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"alertrelay {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result


class Pipeline:
    """A real router and a real worker process against RabbitMQ, with their logs kept."""

    def __init__(self, workdir: Path, config_text: str, url: str, env: dict[str, str] | None = None,
                 types: Iterable[str] = ("webhook",), processes: int = 1, threads: int = 4):
        self.workdir = workdir
        self.url = url
        self.config = workdir / "provisioning.yaml"
        self.config.write_text(config_text)
        self.types = list(types)
        self.env = {**os.environ, **FAST_RETRY_ENV, **(env or {}), "RABBITMQ_URL": url, "ALERTRELAY_CONFIG": str(self.config)}
        self.worker_args = ["-p", str(processes), "-t", str(threads), "--types", ",".join(self.types)]
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.log_files: dict[str, Path] = {}

    def _spawn(self, name: str, args: list[str]) -> None:
        log_path = self.workdir / f"{name}.log"
        self.log_files[name] = log_path
        handle = open(log_path, "ab")
        self.procs[name] = subprocess.Popen(
            [sys.executable, "-m", "alertrelay", *args], env=self.env, stdout=handle, stderr=subprocess.STDOUT
        )

    def _wait_started(self, name: str, queue: str) -> None:
        def ready() -> bool:
            if self.procs[name].poll() is not None:
                raise AssertionError(f"{name} exited with {self.procs[name].returncode}:\n{self.logs()[-3000:]}")
            return queue_info(self.url, queue)[1] >= 1

        wait_for(ready, 30, what=f"{name} consuming {queue}")

    def start_router(self) -> None:
        self._spawn("router", ["router"])
        self._wait_started("router", topology.EVENTS_QUEUE)

    def start_worker(self, wait: bool = True) -> None:
        """Start the worker; ``wait``: until it consumes (a worker meant to die may never be seen)."""
        self._spawn("worker", ["worker", *self.worker_args])
        for t in self.types if wait else ():
            self._wait_started("worker", REGISTRY[t].queue_name)

    def __enter__(self) -> "Pipeline":
        self.start_router()
        self.start_worker()
        return self

    def stop(self, name: str, sig: int = signal.SIGTERM, timeout: float = 30) -> int | None:
        proc = self.procs.pop(name, None)
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(sig)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        return proc.returncode

    def __exit__(self, *exc: object) -> None:
        for name in list(self.procs):
            self.stop(name)

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in self.log_files.values() if p.exists())

    def cli(self, *args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
        return cli(self.env, *args, **kw)

    def publish(self, event: dict[str, Any]) -> None:
        self.cli("publish", "-", input_text=json.dumps(event))

    def dead_letters(self, *filters: str) -> list[dict[str, Any]]:
        out = self.cli("dead-letters", "list", "--json", *filters).stdout
        return [json.loads(line) for line in out.splitlines() if line.strip()]
