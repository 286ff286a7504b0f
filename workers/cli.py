"""``alertrelay worker``, ``preview``, ``check-config`` and ``dead-letters``."""

from __future__ import annotations

import json
import os
import re
import sys
import time
from datetime import datetime, timedelta, timezone
from typing import Any

import click

from alertrelay.options import config_option, format_table, load_or_exit
from contracts.event import EventError, parse_event
from contracts.gocompat import parse_time
from contracts.registry import REGISTRY


@click.command()
@config_option
@click.option("--types", default="", help="Comma-separated integration types to serve (default: all).")
@click.option("--processes", "-p", default=os.cpu_count() or 1, show_default="one per core", help="Worker processes.")
@click.option("--threads", "-t", default=8, show_default=True, help="Threads per process.")
def worker(config_path: str | None, types: str, processes: int, threads: int) -> None:
    """Run the delivery actors (one Dramatiq queue per integration type)."""
    from workers.launch import run

    load_or_exit(config_path)
    wanted = [t.strip() for t in types.split(",") if t.strip()] or list(REGISTRY)
    unknown = [t for t in wanted if t not in REGISTRY]
    if unknown:
        raise click.BadParameter(f"unknown type(s): {', '.join(unknown)} (known: {', '.join(REGISTRY)})", param_hint="--types")
    check_queues([REGISTRY[t].queue_name for t in wanted])
    args = ["workers.app", "--processes", str(processes), "--threads", str(threads), "--queues"]
    args += [REGISTRY[t].queue_name for t in wanted]
    sys.exit(run(args))


def check_queues(job_queues: list[str]) -> None:
    """Declare every queue once before forking workers: a type mismatch (406) stops here, clearly."""
    from alertrelay.amqp import QueueMismatch, connect, declare_topology

    connection = connect()
    try:
        declare_topology(connection.channel(), job_queues)
    except QueueMismatch as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    finally:
        if connection.is_open:
            connection.close()


@click.command("check-config")
@click.argument("path", required=False)
@config_option
def check_config(path: str | None, config_path: str | None) -> None:
    """Validate provisioning files; print every error and exit 1 if any."""
    config = load_or_exit(path or config_path)
    integrations = sum(len(p.integrations) for p in config.contact_points.values())
    click.echo(
        f"ok: {len(config.files)} file(s), {len(config.contact_points)} contact point(s), "
        f"{integrations} integration(s), {len(config.templates)} template(s)"
    )


@click.command()
@config_option
@click.option("--event", "event_file", required=True, type=click.File("rb"), help="Event JSON file (- for stdin).")
@click.option("--contact-point", default=None, help="Contact point to use instead of the event's receiver.")
@click.option("--now", default=None, help="Fix the clock (RFC 3339) for time-dependent fields.")
@click.option("--show-secrets", is_flag=True, help="Do not mask secrets.")
def preview(config_path: str | None, event_file: Any, contact_point: str | None, now: str | None, show_secrets: bool) -> None:
    """Print, as JSON lines, exactly what each integration would send; sends nothing."""
    from router.routing import route
    from workers.delivery.core import prepare
    from workers.delivery.errors import DeliveryError
    from workers.runtime import Runtime

    config = load_or_exit(config_path)
    moment = parse_time(now) if now else datetime.now(timezone.utc)
    body = event_file.read()
    try:
        if contact_point:
            raw = json.loads(body)
            raw["receiver"] = contact_point
            body = json.dumps(raw).encode()
        routed = route(parse_event(body), config, moment)
    except (EventError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    from workers.delivery.retry import RetryPolicy
    from workers.delivery.templates import Templates

    runtime = Runtime(config, Templates(config.templates), RetryPolicy.from_env())
    failed = False
    for job in routed.jobs:
        line: dict[str, Any] = {"contact_point": job.contact_point, "uid": job.uid, "type": job.type}
        try:
            prepared = prepare(job, runtime, now=moment)
            request = prepared.request
            line["request"] = request.preview(prepared.secrets, show_secrets) if request is not None else None
        except DeliveryError as exc:
            line["error"] = exc.message
            failed = True
        click.echo(json.dumps(line, ensure_ascii=False))
    sys.exit(1 if failed else 0)


def _duration(text: str | None) -> timedelta | None:
    if not text:
        return None
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([smhd])", text.strip())
    if not match:
        raise click.BadParameter(f"{text!r}: use a number and s, m, h or d (e.g. 30m)")
    unit = {"s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]
    return timedelta(seconds=float(match.group(1)) * unit)


def _filter_options(func: Any) -> Any:
    for option in reversed(
        [
            click.option("--id", "id_", default=None, help="Dead-letter id or job id."),
            click.option("--type", "type_", default=None, help="Integration type."),
            click.option("--contact-point", default=None),
            click.option("--uid", default=None, help="Integration uid."),
            click.option("--error", default=None, help="Text the error message contains."),
            click.option("--older-than", default=None, help="Age, e.g. 30m, 2h, 1d."),
            click.option("--newer-than", default=None, help="Age, e.g. 30m, 2h, 1d."),
        ]
    ):
        func = option(func)
    return func


def _filters(id_: str | None, type_: str | None, contact_point: str | None, uid: str | None, error: str | None,
             older_than: str | None, newer_than: str | None) -> Any:
    from workers.dead_letters import Filters

    return Filters(id_, type_, contact_point, uid, error, _duration(older_than), _duration(newer_than))


@click.group("dead-letters")
def dead_letters() -> None:
    """Inspect and recover jobs that could not be delivered."""


@dead_letters.command("list")
@_filter_options
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def list_(as_json: bool, **filters: Any) -> None:
    """List dead letters (nothing is removed)."""
    from workers.dead_letters import DeadLetterQueue, describe

    items = DeadLetterQueue().list(_filters(**filters))
    if as_json:
        for item in items:
            click.echo(json.dumps(describe(item), ensure_ascii=False))
        return
    if not items:
        click.echo("no dead letters")
        return
    head = ["ID", "TYPE", "CONTACT POINT", "UID", "KIND", "CODE", "TRIES", "DEAD-LETTERED AT", "ERROR"]
    rows = []
    for item in items:
        d = describe(item)
        if d.get("unreadable"):
            rows.append(["(unreadable)", "", "", "", "", "", "", "", str(d["unreadable"])[:100]])
            continue
        rows.append([
            str(d["id"]), str(d["type"]), str(d["contact_point"]), str(d["uid"]), str(d["kind"]), str(d["status_code"] or ""),
            str(d["attempts"]), str(d["dead_lettered_at"])[:19].replace("T", " "), " ".join(str(d["error"]).split())[:100],
        ])
    for line in format_table(head, rows):
        click.echo(line)
    click.echo(f"{len(items)} dead letter(s)")


@dead_letters.command("show")
@click.argument("id_")
def show(id_: str) -> None:
    """Print one dead letter in full (job, error, attempts)."""
    from workers.dead_letters import DeadLetterQueue, Filters, as_json

    items = DeadLetterQueue().list(Filters(id=id_))
    if not items:
        raise click.ClickException(f"no dead letter with id {id_}")
    for item in items:
        click.echo(as_json(item))


#: Scans of at least this many dead letters show a progress bar (on stderr, when it is a terminal).
PROGRESS_MIN = 20


class _Progress:
    """``progress(done, total)`` for a dead-letter scan: a click progress bar when there are many."""

    def __init__(self, label: str, minimum: int = PROGRESS_MIN):
        self.label = label
        self.minimum = minimum
        self.bar: Any = None

    def __call__(self, done: int, total: int) -> None:
        if done == 0:
            if total >= self.minimum:
                self.bar = click.progressbar(length=total, label=self.label, file=sys.stderr, show_pos=True)
                self.bar.__enter__()
        elif self.bar is not None:
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


class _OnlyIds:
    """The filters the operator confirmed, narrowed to the dead letters they were shown."""

    def __init__(self, filters: Any, ids: set[str]):
        self.filters = filters
        self.ids = ids

    def match(self, letter: Any) -> bool:
        return letter.id in self.ids and self.filters.match(letter)


def _act(verb: str, dry_run: bool, flt: Any) -> None:
    from workers.dead_letters import DeadLetterQueue

    done = {"replay": "replayed", "purge": "purged"}[verb]
    queue = DeadLetterQueue()
    progress = _Progress(f"{'checking' if dry_run else verb.removesuffix('e') + 'ing'} dead letters")
    try:
        items = queue.replay(flt, dry_run, progress) if verb == "replay" else queue.purge(flt, dry_run, progress)
    finally:
        progress.close()
    for item in items:
        click.echo(f"{'would ' + verb if dry_run else done}: {item.id} ({item.job.type} {item.job.contact_point}/{item.job.uid})")
    click.echo(f"{len(items)} dead letter(s) {'would be ' + done if dry_run else done}")


@dead_letters.command("replay")
@_filter_options
@click.option("--all", "all_", is_flag=True, help="Replay every dead letter (required without a filter).")
@click.option("--dry-run", is_flag=True, help="Show what would be replayed.")
def replay(all_: bool, dry_run: bool, **filters: Any) -> None:
    """Re-enqueue dead letters as fresh jobs (retry count reset); settings are read anew."""
    if not all_ and not any(filters.values()):
        raise click.UsageError("give a filter (--id, --type, ...) or --all")
    _act("replay", dry_run, _filters(**filters))


@dead_letters.command("purge")
@_filter_options
@click.option("--all", "all_", is_flag=True, help="Purge every dead letter (required without a filter).")
@click.option("--dry-run", is_flag=True, help="Show what would be purged.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation (scripts).")
def purge(all_: bool, dry_run: bool, yes: bool, **filters: Any) -> None:
    """Delete dead letters for good (asks first, unless --yes)."""
    from workers.dead_letters import DeadLetterQueue

    if not all_ and not any(filters.values()):
        raise click.UsageError("give a filter (--id, --type, ...) or --all")
    flt = _filters(**filters)
    if not dry_run and not yes:
        matching = DeadLetterQueue().purge(flt, dry_run=True)
        if not matching:
            click.echo("0 dead letter(s) purged")
            return
        click.confirm(f"Purge {len(matching)} dead letter(s) for good?", abort=True, err=True)
        flt = _OnlyIds(flt, {letter.id for letter in matching})
    _act("purge", dry_run, flt)


def _pairs(values: tuple[str, ...], option: str) -> dict[str, str]:
    out = {}
    for value in values:
        name, sep, text = value.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"{value!r}: use NAME=VALUE", param_hint=option)
        out[name] = text
    return out


@click.command("test-contact-point")
@click.argument("name")
@config_option
@click.option("--label", "labels", multiple=True, help="Extra or overriding label of the test alert, NAME=VALUE.")
@click.option("--annotation", "annotations", multiple=True, help="Extra or overriding annotation, NAME=VALUE.")
@click.option("--external-url", default="", help="ExternalURL for the test notification's links.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per integration.")
def test_contact_point(config_path: str | None, name: str, labels: tuple[str, ...], annotations: tuple[str, ...],
                       external_url: str, as_json: bool) -> None:
    """Send Grafana's test notification through every integration of NAME, once each, and report.

    Like Grafana's "Test" button: sent directly from here (no queue, no retries), so it shows
    what the destination answers right now. Exit 1 if any integration failed.
    """
    from contracts.event import test_notification
    from contracts.job import Job
    from workers.delivery.core import prepare, send_prepared
    from workers.delivery.errors import DeliveryError
    from workers.delivery.retry import RetryPolicy
    from workers.delivery.templates import Templates
    from workers.runtime import Runtime

    config = load_or_exit(config_path)
    point = config.contact_points.get(name)
    if point is None:
        raise click.ClickException(f"no contact point named {name!r} (known: {', '.join(sorted(config.contact_points))})")
    if not point.integrations:
        raise click.ClickException(f"contact point {name!r} has no integrations")
    runtime = Runtime(config, Templates(config.templates), RetryPolicy.from_env())
    now = datetime.now(timezone.utc)
    extra_labels, extra_annotations = _pairs(labels, "--label"), _pairs(annotations, "--annotation")
    failed = 0
    for integration in point.integrations:
        notification = test_notification(integration.type, now, extra_labels, extra_annotations, external_url)
        job = Job.for_integration(f"test-{int(now.timestamp())}", name, integration.uid, integration.type, notification)
        started = time.monotonic()
        error = None
        try:
            send_prepared(prepare(job, runtime, now))
        except DeliveryError as exc:
            error = exc
        duration_ms = (time.monotonic() - started) * 1000
        failed += error is not None
        result = {"contact_point": name, "uid": integration.uid, "type": integration.type,
                  "status": "failed" if error else "ok", "duration_ms": round(duration_ms, 1)}
        if error is not None:
            result.update(kind=error.kind, status_code=error.status_code, error=error.message)
        if as_json:
            click.echo(json.dumps(result, ensure_ascii=False))
        else:
            text = f"{integration.uid} ({integration.type}): {result['status']} in {duration_ms:.0f} ms"
            click.echo(text + (f": {error.message}" if error else ""))
    sys.exit(1 if failed else 0)


@click.command()
@config_option
@click.option("--json", "as_json", is_flag=True, help="Grafana's receivers-status JSON (plus uid and counts).")
def status(config_path: str | None, as_json: bool) -> None:
    """Last delivery attempt, duration and error per contact point and integration (needs ALERTRELAY_REDIS_URL)."""
    from workers import status as delivery

    config = load_or_exit(config_path) if (config_path or os.environ.get("ALERTRELAY_CONFIG")) else None
    try:
        view = delivery.report(delivery.open_store().read(), config)
    except delivery.StatusUnavailable as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    if as_json:
        click.echo(json.dumps(view, indent=2, ensure_ascii=False))
        return
    if not any(point["integrations"] for point in view):
        click.echo("no delivery recorded yet")
        return
    for line in delivery.table(view):
        click.echo(line)


__all__ = ["check_config", "dead_letters", "os", "preview", "status", "test_contact_point", "worker"]
