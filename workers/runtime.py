"""What a worker process loads once: the provisioning, its templates and the retry policy."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from contracts.provisioning import Config, load_config
from workers.delivery.retry import RetryPolicy
from workers.delivery.templates import Templates


@dataclass
class Runtime:
    config: Config
    templates: Templates
    policy: RetryPolicy
    #: (contact point, uid) → the strings to redact from that integration's errors, computed once.
    secret_cache: dict[tuple[str, str], list[str]] = field(default_factory=dict, repr=False)

    @classmethod
    def load(cls, path: str | None = None) -> "Runtime":
        config = load_config(path)
        return cls(config=config, templates=Templates(config.templates), policy=RetryPolicy.from_env())


_lock = threading.Lock()
_current: Runtime | None = None


def current() -> Runtime:
    """This process's runtime, loaded from ``ALERTRELAY_CONFIG`` on first use."""
    global _current
    with _lock:
        if _current is None:
            _current = Runtime.load()
        return _current


def install(runtime: Runtime) -> None:
    """Use ``runtime`` in this process (tests, and processes that load config themselves)."""
    global _current
    with _lock:
        _current = runtime
