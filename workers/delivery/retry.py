"""The retry policy: short in-process retries (tenacity), then Dramatiq delayed retries.

In-process: a few quick attempts for transient errors, waiting what ``Retry-After`` asks
when that is short. A longer ``Retry-After``, or a failure that outlasts the quick attempts,
is handed back to Dramatiq as a delayed retry with exponential backoff. Every delay stays
under RabbitMQ's 30-minute consumer timeout, and the whole retry window is bounded: past
it the job becomes a dead letter.
"""

from __future__ import annotations

import logging
import os
import random
from dataclasses import dataclass
from typing import Callable, TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from workers.delivery.errors import DeliveryError

log = logging.getLogger("alertrelay.retry")
T = TypeVar("T")

#: Delayed messages are held unacked by the worker; RabbitMQ's default consumer timeout is 30 min.
MAX_DELAY_SECONDS = 20 * 60


def _env_float(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


@dataclass(frozen=True)
class RetryPolicy:
    in_process_attempts: int = 3
    in_process_max_wait: float = 10.0
    min_backoff: float = 5.0
    max_backoff: float = 300.0
    max_age: float = 3600.0

    @classmethod
    def from_env(cls) -> "RetryPolicy":
        """Read ``ALERTRELAY_RETRY_*``; see the README's configuration table."""
        return cls(
            in_process_attempts=max(1, int(_env_float("ALERTRELAY_RETRY_IN_PROCESS_ATTEMPTS", 3))),
            in_process_max_wait=_env_float("ALERTRELAY_RETRY_AFTER_MAX_WAIT", 10.0),
            min_backoff=_env_float("ALERTRELAY_RETRY_MIN_BACKOFF", 5.0),
            max_backoff=min(_env_float("ALERTRELAY_RETRY_MAX_BACKOFF", 300.0), MAX_DELAY_SECONDS),
            max_age=_env_float("ALERTRELAY_RETRY_MAX_AGE", 3600.0),
        )

    def quick_wait(self, state: RetryCallState) -> float:
        """Between in-process attempts: the destination's ``Retry-After``, else 0.2 s, 0.4 s, ..."""
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, DeliveryError) and error.retry_after is not None:
            return error.retry_after
        return min(0.2 * 2 ** (state.attempt_number - 1), 2.0) * random.uniform(1.0, 1.25)

    def retryable(self, exc: BaseException) -> bool:
        """Worth another in-process attempt: transient, quick to retry, no long ``Retry-After``."""
        if not isinstance(exc, DeliveryError) or not exc.transient or not exc.quick_retry:
            return False
        return exc.retry_after is None or exc.retry_after <= self.in_process_max_wait

    def run(self, attempt: Callable[[], T], on_attempt: Callable[[], None] | None = None) -> T:
        """Call ``attempt`` until it succeeds, a permanent error, a long Retry-After, or the limit.

        The first attempt runs bare: most deliveries succeed at once, and tenacity's set-up
        cost a twentieth of a worker's CPU (profiled). After a retryable failure, tenacity
        takes over from that failure, so waits and attempt numbers are as if it ran them all.
        """

        def counted() -> T:
            if on_attempt:
                on_attempt()
            return attempt()

        try:
            return counted()
        except DeliveryError as exc:
            if self.in_process_attempts <= 1 or not self.retryable(exc):
                raise
            first_failure: list[DeliveryError] = [exc]

        def replay_then_attempt() -> T:
            if first_failure:
                raise first_failure.pop()  # attempt 1, already made: tenacity records it, no new request
            return counted()

        retrying = Retrying(
            retry=retry_if_exception(self.retryable),
            wait=self.quick_wait,
            stop=stop_after_attempt(self.in_process_attempts),
            reraise=True,
            before_sleep=lambda s: log.info(
                "attempt %d failed (%s); retrying in %.1fs", s.attempt_number, s.outcome.exception(), s.upcoming_sleep
            ),
        )
        return retrying(replay_then_attempt)

    def next_delay(self, retries: int, error: DeliveryError) -> float:
        """Seconds until the next Dramatiq retry: ``Retry-After`` or exponential backoff with jitter."""
        if error.retry_after is not None and error.retry_after > self.in_process_max_wait:
            return min(error.retry_after, MAX_DELAY_SECONDS)
        base = self.min_backoff * 2 ** min(retries, 16)
        return min(base * random.uniform(1.0, 1.5), self.max_backoff)
