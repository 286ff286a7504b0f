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
        pytest.fail("this test needs a local broker with rabbitmqctl to create a vhost of its own")
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


@pytest.fixture(scope="session", autouse=True)
def _no_fixed_metric_ports() -> Iterator[None]:
    """Processes started by tests do not take the fixed default metrics ports (9101, 9102)
    unless a test asks for a port: parallel runs and other tests would collide on them."""
    previous = os.environ.get("ALERTRELAY_METRICS_PORT")
    os.environ.setdefault("ALERTRELAY_METRICS_PORT", "off")
    yield
    if previous is None:
        os.environ.pop("ALERTRELAY_METRICS_PORT", None)


@pytest.fixture
def alertmanager_factory(tmp_path):  # type: ignore[no-untyped-def]
    """Start real Alertmanagers (``tests.alertmanager_server``): ``make(config_yaml, ...)``; stopped after the test."""
    from contextlib import ExitStack

    from tests.alertmanager_server import binary, run_alertmanager

    if binary() is None:
        pytest.fail("prometheus-alertmanager is not installed: run .ci/setup.d/alertmanager.sh")
    with ExitStack() as stack:
        count = [0]

        def make(config_yaml: str, **kw):  # type: ignore[no-untyped-def]
            count[0] += 1
            return stack.enter_context(run_alertmanager(tmp_path / f"alertmanager-{count[0]}", config_yaml, **kw))

        yield make


@pytest.fixture
def redis_url() -> Iterator[str]:
    """The local Redis (``ALERTRELAY_REDIS_URL`` or 127.0.0.1:6379) with a key prefix of this test's own,
    set in ``ALERTRELAY_REDIS_PREFIX`` for the processes it starts; its keys are deleted afterwards."""
    import redis

    url = os.environ.get("ALERTRELAY_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis is not reachable at {url}: {exc} (start redis-server)")
    prefix = f"test-{uuid.uuid4().hex[:10]}:"
    previous = {name: os.environ.get(name) for name in ("ALERTRELAY_REDIS_URL", "ALERTRELAY_REDIS_PREFIX")}
    os.environ.update({"ALERTRELAY_REDIS_URL": url, "ALERTRELAY_REDIS_PREFIX": prefix})
    yield url
    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(match=f"alertrelay:*{prefix}*", count=1000))
    if keys:
        client.delete(*keys)
    for name, value in previous.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
