"""The module Dramatiq worker processes import: logging, the broker and its middleware,
every actor, and the watcher that reloads the configuration in place."""

from __future__ import annotations

import logging
import os
from typing import Any

from workers.actors import declare_actors
from workers.broker import install_broker

log = logging.getLogger("alertrelay.worker")


def setup_process_logging() -> None:
    """Dramatiq configured this process's logging already; switch to JSON lines if asked."""
    from alertrelay import logs
    from alertrelay.options import setup_logging

    if logs.json_enabled():
        setup_logging(force=True)  # stderr is Dramatiq's log pipe here
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def add_middleware(broker: Any) -> None:
    """Metrics, delivery status and log context; Dramatiq's Prometheus exporter when metrics are on."""
    from workers.middleware import DeliveryObserver

    broker.add_middleware(DeliveryObserver())
    if os.environ.get("dramatiq_prom_db") and os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from dramatiq.middleware.prometheus import Prometheus

        broker.add_middleware(Prometheus())


def watch_config() -> Any:
    """Reload the provisioning in this process when it changes or on SIGHUP."""
    from alertrelay.reload import watch
    from contracts.provisioning import Config, ConfigError
    from workers import runtime
    from workers.delivery.retry import RetryPolicy
    from workers.delivery.templates import Templates

    def apply(config: Config) -> None:
        runtime.install(runtime.Runtime(config=config, templates=Templates(config.templates), policy=RetryPolicy.from_env()))

    try:
        current = runtime.current().config
    except ConfigError as exc:
        log.error("configuration not loaded: %s", "; ".join(exc.errors))
        current = None
    return watch("worker", apply, current=current)


def warm_up() -> None:
    """Load the configuration and every sender now, not on the first job (its latency counts)."""
    from contracts.registry import REGISTRY
    from workers import runtime
    from workers.integrations import sender

    for type_name in REGISTRY:
        sender(type_name)
    try:
        runtime.current()
    except Exception as exc:  # noqa: BLE001 - reported again, with detail, when a job needs it
        log.warning("configuration not loaded at start: %s", exc)


setup_process_logging()
broker = install_broker()
add_middleware(broker)
actors = declare_actors()
warm_up()
watcher = watch_config()
