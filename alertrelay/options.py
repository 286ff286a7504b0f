"""Command-line pieces every subcommand shares."""

from __future__ import annotations

import logging
import os
import sys
from typing import Any, Callable

import click

from contracts.provisioning import Config, ConfigError, load_config


def config_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--config PATH``, in place of ``ALERTRELAY_CONFIG``."""
    return click.option(
        "--config",
        "config_path",
        envvar="ALERTRELAY_CONFIG",
        type=click.Path(exists=False),
        help="Provisioning file or folder (default: $ALERTRELAY_CONFIG).",
    )(func)


def load_or_exit(config_path: str | None) -> Config:
    """Load the configuration, or print every error and exit 1."""
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        for line in exc.errors:
            click.echo(f"error: {line}", err=True)
        sys.exit(1)
    from workers.delivery.templates import check_templates

    errors = check_templates(config)
    if errors:
        for line in errors:
            click.echo(f"error: {line}", err=True)
        sys.exit(1)
    if config_path:
        os.environ["ALERTRELAY_CONFIG"] = str(os.path.abspath(config_path))
    return config


def setup_logging(level: str | None = None, force: bool = False) -> None:
    """Log to stderr at ``ALERTRELAY_LOG_LEVEL``, as text or, with ``ALERTRELAY_LOG_FORMAT=json``,
    as one JSON object per line carrying the event id and job id (see :mod:`alertrelay.logs`)."""
    from alertrelay.logs import formatter

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter())
    logging.basicConfig(
        level=(level or os.environ.get("ALERTRELAY_LOG_LEVEL", "INFO")).upper(),
        handlers=[handler],
        force=force,
    )
    for noisy in ("pika", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def format_table(head: list[str], rows: list[list[str]]) -> list[str]:
    """Rows as aligned columns (the last one left ragged), the header first."""
    widths = [max(len(r[c]) for r in [head, *rows]) for c in range(len(head) - 1)]
    return ["  ".join(cell.ljust(widths[c]) if c < len(widths) else cell for c, cell in enumerate(r)).rstrip() for r in [head, *rows]]
