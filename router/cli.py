"""``alertrelay router``, ``alertrelay publish`` and ``alertrelay ingest``."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from alertrelay.amqp import ConfirmedPublisher, PublishError
from alertrelay.options import config_option, load_or_exit, setup_logging
from contracts import topology


@click.command()
@config_option
def router(config_path: str | None) -> None:
    """Consume events and fan out one job per integration."""
    from alertrelay import metrics
    from router.consumer import run_router

    setup_logging()
    config = load_or_exit(config_path)
    metrics.serve("router")
    run_router(config)


@click.command()
@config_option
@click.option("--host", default="127.0.0.1", show_default=True, envvar="ALERTRELAY_INGEST_HOST", help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, envvar="ALERTRELAY_INGEST_PORT", help="Port to listen on.")
def ingest(config_path: str | None, host: str, port: int) -> None:
    """HTTP API that publishes events (Alertmanager and Grafana webhooks in); 202 once confirmed."""
    from router.ingest import IngestSettings, serve

    setup_logging()
    config = load_or_exit(config_path)
    try:
        settings = IngestSettings.from_env()
    except (OSError, ValueError) as exc:
        click.echo(f"error: ingest settings: {exc}", err=True)
        sys.exit(1)
    serve(config, host, port, settings)


def read_events(text: str) -> list[Any]:
    """One JSON event, a JSON array of events, or JSON lines."""
    stripped = text.strip()
    if not stripped:
        raise ValueError("no input")
    try:
        parsed = json.loads(stripped)
    except json.JSONDecodeError:
        try:
            return [json.loads(line) for line in stripped.splitlines() if line.strip()]
        except json.JSONDecodeError as exc:
            raise ValueError(f"not JSON, a JSON array or JSON lines: {exc}") from None
    return parsed if isinstance(parsed, list) else [parsed]


def publish_events(events: list[Any], url: str | None = None) -> int:
    with ConfirmedPublisher(url) as publisher:
        for event in events:
            body = json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()
            publisher.publish("", body, exchange=topology.EVENTS_EXCHANGE, content_type="application/json")
    return len(events)


@click.command()
@click.argument("source", default="-", type=click.File("r"))
def publish(source: Any) -> None:
    """Publish events from FILE (or - for stdin); returns once RabbitMQ confirmed each."""
    try:
        events = read_events(source.read())
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        count = publish_events(events)
    except PublishError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    click.echo(f"published {count} event(s)")
