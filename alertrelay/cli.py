"""The ``alertrelay`` console script: subcommands gathered from the packages they drive."""

from __future__ import annotations

import click

from alertrelay import __version__
from alertrelay.demo import demo, demo_receiver
from router.cli import ingest, publish, router
from workers.cli import check_config, dead_letters, preview, status, test_contact_point, worker


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="alertrelay")
def main() -> None:
    """Deliver Grafana-style contact point notifications through RabbitMQ."""


for command in (router, worker, publish, preview, check_config, test_contact_point, dead_letters, ingest, status, demo, demo_receiver):
    main.add_command(command)
