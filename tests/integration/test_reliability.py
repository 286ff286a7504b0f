"""Reliability on real RabbitMQ: quorum queues, queue mismatches, poison jobs, duplicate suppression."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid

import pytest
import redis
from werkzeug import Request, Response

from tests.harness import Pipeline, cli, purge_all, wait_for
from tests.integration.test_pipeline import minimal_event, one_webhook

pytestmark = pytest.mark.integration
REDIS_URL = os.environ.get("ALERTRELAY_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def queue_types(url: str) -> dict[str, str]:
    vhost = url.rsplit("/", 1)[-1]
    out = subprocess.run(
        ["rabbitmqctl", "-q", "list_queues", "-p", vhost, "name", "type", "--no-table-headers"],
        capture_output=True, text=True, check=True,
    ).stdout
    return dict(line.split("\t")[:2] for line in out.splitlines() if "\t" in line)


def test_quorum_mode_declares_every_queue_as_quorum_and_delivers(tmp_path, fresh_vhost, make_receiver):
    receiver = make_receiver()
    answers = iter([200, 400])
    receiver.expect_request("/hook").respond_with_handler(lambda r: Response("x", status=next(answers, 400)))
    env = {"ALERTRELAY_QUEUE_TYPE": "quorum"}
    with Pipeline(tmp_path, one_webhook(receiver.url_for("/hook")), fresh_vhost, env=env) as pipeline:
        pipeline.publish(minimal_event("q-1"))
        pipeline.publish(minimal_event("q-2"))
        wait_for(lambda: len(receiver.log) == 2, what="two deliveries")
        [letter] = wait_for(lambda: pipeline.dead_letters(), what="the dead letter")
        assert letter["status_code"] == 400
        assert len(pipeline.dead_letters()) == 1, "listing a quorum dead-letter queue keeps its messages"
    types = queue_types(fresh_vhost)
    for name in ("alertrelay.events", "alertrelay.rejected", "alertrelay.dead-letters", "alertrelay.webhook",
                 "alertrelay.webhook.DQ", "alertrelay.webhook.XQ", "alertrelay.slack"):
        assert types[name] == "quorum", name


def test_a_queue_type_mismatch_stops_with_advice(broker, tmp_path, make_receiver):
    purge_all(broker)  # the session vhost holds classic queues
    config = tmp_path / "c.yaml"
    config.write_text(one_webhook("http://127.0.0.1:9/x"))
    env = {**os.environ, "RABBITMQ_URL": broker, "ALERTRELAY_CONFIG": str(config), "ALERTRELAY_QUEUE_TYPE": "quorum"}
    worker = cli(env, "worker", "-p", "1", check=False)
    assert worker.returncode == 2
    assert "already exists with other arguments" in worker.stderr and "ALERTRELAY_QUEUE_TYPE" in worker.stderr
    router = subprocess.run([os.sys.executable, "-m", "alertrelay", "router"], env=env, capture_output=True, text=True, timeout=60)
    assert router.returncode == 2
    assert "delete the queues" in router.stderr


def test_a_job_that_kills_its_worker_every_time_becomes_a_dead_letter(pipeline_factory, make_receiver):
    receiver = make_receiver()
    pipeline = pipeline_factory(one_webhook(receiver.url_for("/hook")), env={"ALERTRELAY_MAX_REDELIVERIES": "2"})

    def kill_the_worker(request: Request) -> Response:
        for pid in subprocess.run(["pgrep", "-P", str(pipeline.procs["worker"].pid)], capture_output=True, text=True).stdout.split():
            os.kill(int(pid), signal.SIGKILL)
        time.sleep(5)
        return Response("too late", status=200)

    receiver.expect_request("/hook").respond_with_handler(kill_the_worker)
    pipeline.start_router()
    pipeline.publish(minimal_event("poison"))
    for _ in range(3):  # the first delivery, then 2 redeliveries: each kills the worker
        deliveries = len(receiver.log)
        pipeline.start_worker(wait=False)  # it may be killed before it is seen consuming
        wait_for(lambda: len(receiver.log) > deliveries, 30, what="the poison delivery")
        wait_for(lambda: pipeline.procs["worker"].poll() is not None, 30, what="the worker to die")
        pipeline.stop("worker")
    receiver.clear()
    receiver.expect_request("/hook").respond_with_data("ok")
    pipeline.start_worker()
    [letter] = wait_for(lambda: pipeline.dead_letters(), 30, what="the poison dead letter")
    assert letter["kind"] == "permanent" and "poison message" in letter["error"]
    time.sleep(1)
    assert len(receiver.log) == 0, "the poison job is not run a fourth time"


@pytest.fixture
def redis_prefix():
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.fail(f"Redis is not reachable at {REDIS_URL} (start it: redis-server --daemonize yes)")
    prefix = f"test-{uuid.uuid4().hex[:8]}:"
    yield prefix
    for key in client.scan_iter(f"alertrelay:delivered:{prefix}*"):
        client.delete(key)


@pytest.mark.parametrize("with_redis", [True, False])
def test_duplicate_suppression_by_job_id(pipeline_factory, make_receiver, broker, redis_prefix, with_redis):
    receiver = make_receiver()
    receiver.expect_request("/hook").respond_with_data("ok")
    env = {"ALERTRELAY_REDIS_URL": REDIS_URL, "ALERTRELAY_REDIS_PREFIX": redis_prefix} if with_redis else {}
    with pipeline_factory(one_webhook(receiver.url_for("/hook")), env=env) as pipeline:
        pipeline.publish(minimal_event("dup-1"))
        wait_for(lambda: len(receiver.log) == 1, what="the first delivery")
        pipeline.publish(minimal_event("dup-1"))  # the same event again: the same job id
        pipeline.publish(minimal_event("dup-2"))
        wait_for(lambda: len(receiver.log) >= (2 if with_redis else 3), what="later deliveries")
        time.sleep(1.0)
        ids = [json.loads(r.get_data())["alerts"][0]["fingerprint"] for r, _ in receiver.log]
    assert len(receiver.log) == (2 if with_redis else 3)
    assert len(ids) == len(receiver.log)
