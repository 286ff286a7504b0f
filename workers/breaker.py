"""Per-destination circuit breakers: a dead endpoint must not tie up the threads of the others.

Each integration uid has a breaker. After ``ALERTRELAY_BREAKER_FAILURES`` (default 5)
transient failures in a row it opens: jobs for that destination go straight back to the
delay queue without a network call. After ``ALERTRELAY_BREAKER_COOLDOWN`` seconds (default
30) exactly one job is let through as a probe; its success closes the breaker, its failure
opens it for another cool-down. State lives in Redis when ``ALERTRELAY_REDIS_URL`` is set
(shared by every worker on every host), otherwise in the worker process.
Besides, at most ``ALERTRELAY_MAX_IN_FLIGHT_PER_DESTINATION`` (default 4) jobs of one destination
are in flight per worker process; when one of them is slow (over a second), more wait in the delay queue for a second or two, so a
destination that hangs holds few threads even before its breaker opens.
``ALERTRELAY_BREAKER=off`` disables breakers and that limit.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger("alertrelay.breaker")
KEY_PREFIX = "alertrelay:breaker:"
#: A request running longer than this counts against the destination's bulkhead.
SLOW_REQUEST_SECONDS = 1.0


@dataclass
class BreakerState:
    """What ``alertrelay status`` shows for one destination."""

    state: str  # closed | open | half-open
    failures: int
    opened_at: float | None

    def retry_in(self, cooldown: float, now: float) -> float:
        if self.opened_at is None:
            return 0.0
        return max(0.0, self.opened_at + cooldown - now)


class Store(Protocol):
    def get(self, key: str) -> BreakerState: ...
    def failure(self, key: str, threshold: int, now: float) -> BreakerState: ...
    def success(self, key: str) -> None: ...
    def claim_probe(self, key: str, ttl: float) -> bool: ...
    def reopen(self, key: str, now: float) -> None: ...


class MemoryStore:
    """Per-process breakers (no Redis configured)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.states: dict[str, BreakerState] = {}
        self.probes: dict[str, float] = {}

    def get(self, key: str) -> BreakerState:
        with self.lock:
            state = self.states.get(key)
            return BreakerState(state.state, state.failures, state.opened_at) if state else BreakerState("closed", 0, None)

    def failure(self, key: str, threshold: int, now: float) -> BreakerState:
        with self.lock:
            state = self.states.setdefault(key, BreakerState("closed", 0, None))
            state.failures += 1
            if state.failures >= threshold and state.state == "closed":
                state.state, state.opened_at = "open", now
            return BreakerState(state.state, state.failures, state.opened_at)

    def success(self, key: str) -> None:
        with self.lock:
            self.states.pop(key, None)
            self.probes.pop(key, None)

    def claim_probe(self, key: str, ttl: float) -> bool:
        now = time.monotonic()
        with self.lock:
            if self.probes.get(key, 0) > now:
                return False
            self.probes[key] = now + ttl
            return True

    def reopen(self, key: str, now: float) -> None:
        with self.lock:
            state = self.states.setdefault(key, BreakerState("open", 0, now))
            state.state, state.opened_at = "open", now
            self.probes.pop(key, None)


class RedisStore:
    """Breakers shared by every worker process on every host."""

    def __init__(self, url: str):
        import redis

        self.client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2, decode_responses=True)
        self.prefix = KEY_PREFIX + os.environ.get("ALERTRELAY_REDIS_PREFIX", "")

    def _key(self, key: str) -> str:
        return self.prefix + key

    def get(self, key: str) -> BreakerState:
        raw = self.client.hgetall(self._key(key))
        if not raw:
            return BreakerState("closed", 0, None)
        opened = float(raw["opened_at"]) if raw.get("opened_at") else None
        return BreakerState(raw.get("state", "closed"), int(raw.get("failures", 0)), opened)

    def failure(self, key: str, threshold: int, now: float) -> BreakerState:
        name = self._key(key)
        failures = self.client.hincrby(name, "failures", 1)
        self.client.expire(name, 24 * 3600)
        if failures >= threshold:
            # Only the first to cross the threshold sets opened_at.
            if self.client.hsetnx(name, "opened_at", now):
                self.client.hset(name, "state", "open")
        return self.get(key)

    def success(self, key: str) -> None:
        self.client.delete(self._key(key), self._key(key) + ":probe")

    def claim_probe(self, key: str, ttl: float) -> bool:
        return bool(self.client.set(self._key(key) + ":probe", "1", nx=True, px=int(ttl * 1000)))

    def reopen(self, key: str, now: float) -> None:
        name = self._key(key)
        self.client.hset(name, mapping={"state": "open", "opened_at": now})
        self.client.delete(name + ":probe")


class Breakers:
    """The breakers of this worker process."""

    def __init__(self, store: Store, threshold: int, cooldown: float, enabled: bool = True, max_in_flight: int = 4):
        self.store = store
        self.threshold = threshold
        self.cooldown = cooldown
        self.enabled = enabled
        self.max_in_flight = max_in_flight
        self._in_flight: dict[str, dict[object, float]] = {}
        self._slots = threading.Condition()

    def enter(self, uid: str) -> object | None:
        """Take one of this process's ``max_in_flight`` slots for ``uid``; ``None`` to bounce the job.

        The bulkhead protects threads before the breaker has seen enough failures: a destination
        whose requests hang holds at most ``max_in_flight`` threads of a process. When its slots
        are busy with fast requests (a healthy storm), a thread waits up to a second for one;
        when one of them is slow, the job is bounced to the delay queue at once.
        """
        token = object()
        if not self.enabled or self.max_in_flight <= 0:
            return token
        deadline = time.monotonic() + SLOW_REQUEST_SECONDS
        with self._slots:
            while True:
                now = time.monotonic()
                started = self._in_flight.setdefault(uid, {})
                if len(started) < self.max_in_flight:
                    started[token] = now
                    return token
                if any(now - t > SLOW_REQUEST_SECONDS for t in started.values()) or now >= deadline:
                    return None
                self._slots.wait(deadline - now)

    def leave(self, uid: str, token: object) -> None:
        with self._slots:
            started = self._in_flight.get(uid)
            if started is not None:
                started.pop(token, None)
                if not started:
                    del self._in_flight[uid]
            self._slots.notify_all()

    def admit(self, uid: str) -> float:
        """0 when a job for ``uid`` may be sent now; otherwise the seconds until it may try again."""
        if not self.enabled:
            return 0.0
        try:
            state = self.store.get(uid)
            if state.state == "closed":
                return 0.0
            wait = state.retry_in(self.cooldown, time.time())
            if wait > 0:
                return wait
            # Cool-down over: one probe at a time, the others wait another short while.
            return 0.0 if self.store.claim_probe(uid, ttl=max(self.cooldown, 10.0)) else min(self.cooldown, 5.0)
        except Exception as exc:  # noqa: BLE001 - a broken store must not stop delivery
            log.warning("circuit breaker unavailable (%s); sending anyway", type(exc).__name__)
            return 0.0

    def record(self, uid: str, ok: bool, transient: bool = True) -> bool:
        """Note an attempt's outcome: successes close, transient failures count towards opening.

        Returns True when this failure opened the breaker.
        """
        if not self.enabled:
            return False
        try:
            if ok:
                if self.store.get(uid).state != "closed":
                    log.info("circuit for %s closed: the probe succeeded", uid)
                self.store.success(uid)
            elif transient:
                before = self.store.get(uid)
                if before.state != "closed" and before.retry_in(self.cooldown, time.time()) == 0:
                    self.store.reopen(uid, time.time())
                    log.warning("circuit for %s stays open: the probe failed", uid)
                    return False
                after = self.store.failure(uid, self.threshold, time.time())
                if after.state == "open" and before.state == "closed":
                    log.warning("circuit for %s opened after %d transient failures in a row", uid, after.failures)
                    return True
        except Exception as exc:  # noqa: BLE001
            log.warning("circuit breaker unavailable (%s)", type(exc).__name__)
        return False

    def state(self, uid: str) -> BreakerState:
        return self.store.get(uid)

    def describe(self, uid: str) -> str:
        """``closed``, ``open`` or ``half-open`` (cool-down over, waiting for a probe), for status views."""
        if not self.enabled:
            return "off"
        try:
            state = self.store.get(uid)
        except Exception:  # noqa: BLE001
            return "unknown"
        if state.state == "closed":
            return "closed"
        return "open" if state.retry_in(self.cooldown, time.time()) > 0 else "half-open"


_lock = threading.Lock()
_instance: Breakers | None = None


def current() -> Breakers:
    global _instance
    with _lock:
        if _instance is None:
            url = os.environ.get("ALERTRELAY_REDIS_URL")
            store: Store = RedisStore(url) if url else MemoryStore()
            _instance = Breakers(
                store,
                threshold=int(os.environ.get("ALERTRELAY_BREAKER_FAILURES", "5")),
                cooldown=float(os.environ.get("ALERTRELAY_BREAKER_COOLDOWN", "30")),
                enabled=os.environ.get("ALERTRELAY_BREAKER", "on").lower() not in ("off", "0", "false"),
                max_in_flight=int(os.environ.get("ALERTRELAY_MAX_IN_FLIGHT_PER_DESTINATION", "4")),
            )
        return _instance
