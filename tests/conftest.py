"""Shared fixtures: the real RabbitMQ (a throwaway vhost on a local broker), local HTTP receivers."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from urllib.parse import quote, urlsplit, urlunsplit

import pika
import pytest
from pytest_httpserver import HTTPServer

from tests.harness import Pipeline, purge_all

DEFAULT_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"


def _docker_available() -> bool:
    try:
        import docker

        docker.from_env().ping()
        return True
    except Exception:
        return False


def _local_vhost(base_url: str) -> tuple[str, str | None]:
    """A fresh vhost on a local broker, so tests never touch anybody's queues."""
    parts = urlsplit(base_url)
    if parts.hostname not in ("127.0.0.1", "localhost") or not shutil.which("rabbitmqctl"):
        return base_url, None
    vhost = f"alertrelay-test-{uuid.uuid4().hex[:8]}"
    user = parts.username or "guest"
    try:
        subprocess.run(["rabbitmqctl", "-q", "add_vhost", vhost], check=True, capture_output=True, timeout=60)
        subprocess.run(
            ["rabbitmqctl", "-q", "set_permissions", "-p", vhost, user, ".*", ".*", ".*"],
            check=True, capture_output=True, timeout=60,
        )
    except (subprocess.SubprocessError, OSError):
        return base_url, None
    return urlunsplit((parts.scheme, parts.netloc, "/" + quote(vhost, safe=""), parts.query, "")), vhost


@pytest.fixture(scope="session")
def rabbitmq_url() -> Iterator[str]:
    """RABBITMQ_URL (default: the local broker), or a testcontainers broker when unset and Docker runs."""
    container = None
    base = os.environ.get("RABBITMQ_URL")
    if base is None and _docker_available():
        from testcontainers.community.rabbitmq import RabbitMqContainer  # pragma: no cover

        container = RabbitMqContainer("rabbitmq:3-management").start()
        p = container.get_connection_params()
        base = f"amqp://guest:guest@{p.host}:{p.port}/%2F"
    base = base or DEFAULT_URL
    try:
        pika.BlockingConnection(pika.URLParameters(base)).close()
    except Exception as exc:  # noqa: BLE001
        pytest.exit(f"RabbitMQ is not reachable at {base}: {exc}. Start it (rabbitmq-server -detached).", returncode=3)
    url, vhost = _local_vhost(base)
    previous = os.environ.get("RABBITMQ_URL")
    os.environ["RABBITMQ_URL"] = url
    yield url
    if previous is None:
        os.environ.pop("RABBITMQ_URL", None)
    else:
        os.environ["RABBITMQ_URL"] = previous
    if vhost:
        subprocess.run(["rabbitmqctl", "-q", "delete_vhost", vhost], capture_output=True, timeout=60)
    if container is not None:  # pragma: no cover
        container.stop()


@pytest.fixture
def fresh_vhost(rabbitmq_url: str) -> Iterator[str]:
    """A broker URL on a vhost of its own (for tests that need queues declared differently)."""
    url, vhost = _local_vhost(rabbitmq_url)
    if vhost is None:
        pytest.skip("needs a local broker with rabbitmqctl to create a vhost")
    previous = os.environ["RABBITMQ_URL"]
    os.environ["RABBITMQ_URL"] = url
    yield url
    os.environ["RABBITMQ_URL"] = previous
    subprocess.run(["rabbitmqctl", "-q", "delete_vhost", vhost], capture_output=True, timeout=60)


@pytest.fixture
def broker(rabbitmq_url: str) -> str:
    """The broker URL with every alertrelay queue empty."""
    purge_all(rabbitmq_url)
    return rabbitmq_url


@pytest.fixture
def receivers() -> Iterator[list[HTTPServer]]:
    """Local HTTP servers, made on demand with ``make_receiver``; stopped after the test."""
    servers: list[HTTPServer] = []
    yield servers
    for server in servers:
        if server.is_running():
            server.clear()
            server.stop()


@pytest.fixture
def make_receiver(receivers: list[HTTPServer]):  # type: ignore[no-untyped-def]
    def make() -> HTTPServer:
        server = HTTPServer(host="127.0.0.1", port=0)
        server.start()
        receivers.append(server)
        return server

    return make


@pytest.fixture
def pipeline_factory(tmp_path, broker):  # type: ignore[no-untyped-def]
    started: list[Pipeline] = []

    def make(config_text: str, **kw) -> Pipeline:  # type: ignore[no-untyped-def]
        pipeline = Pipeline(tmp_path, config_text, broker, **kw)
        started.append(pipeline)
        return pipeline

    yield make
    for pipeline in started:
        pipeline.__exit__(None, None, None)
