import uuid

import pytest
import redis

from workers.breaker import Breakers, MemoryStore, RedisStore


@pytest.fixture(params=["memory", "redis"])
def breakers(request, monkeypatch):
    if request.param == "memory":
        yield Breakers(MemoryStore(), threshold=3, cooldown=0.3)
        return
    try:
        redis.Redis.from_url("redis://127.0.0.1:6379/0").ping()
    except redis.ConnectionError:
        pytest.fail("Redis is not reachable at 127.0.0.1:6379")
    monkeypatch.setenv("ALERTRELAY_REDIS_PREFIX", f"test-{uuid.uuid4().hex[:8]}:")
    yield Breakers(RedisStore("redis://127.0.0.1:6379/0"), threshold=3, cooldown=0.3)


def test_opens_after_a_run_of_transient_failures_then_one_probe_closes_it(breakers):
    import time

    uid = "dest"
    for _ in range(2):
        breakers.record(uid, ok=False)
    assert breakers.admit(uid) == 0 and breakers.state(uid).state == "closed"
    breakers.record(uid, ok=False)
    assert breakers.state(uid).state == "open"
    assert 0 < breakers.admit(uid) <= 0.3
    time.sleep(0.35)
    assert breakers.admit(uid) == 0, "one probe is let through after the cool-down"
    assert breakers.admit(uid) > 0, "only one probe at a time"
    breakers.record(uid, ok=True)
    assert breakers.state(uid).state == "closed" and breakers.admit(uid) == 0


def test_a_failed_probe_reopens_and_success_resets_the_count(breakers):
    import time

    for _ in range(3):
        breakers.record("d", ok=False)
    time.sleep(0.35)
    assert breakers.admit("d") == 0
    breakers.record("d", ok=False)
    assert breakers.admit("d") > 0
    breakers.record("e", ok=False)
    breakers.record("e", ok=True)
    breakers.record("e", ok=False)
    assert breakers.state("e").failures == 1


def test_disabled_breakers_always_admit():
    b = Breakers(MemoryStore(), threshold=1, cooldown=60, enabled=False)
    b.record("x", ok=False)
    assert b.admit("x") == 0
