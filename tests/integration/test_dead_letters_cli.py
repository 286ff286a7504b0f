"""``dead-letters``: the readable table, purge's confirmation and ``--yes``, progress on many, exit codes."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest
from click.testing import CliRunner

from alertrelay.amqp import ConfirmedPublisher
from alertrelay.cli import main
from contracts import topology
from contracts.dead_letter import DeadLetter, Failure
from contracts.event import normalise, parse_event
from contracts.job import Job
from tests.harness import queue_info

pytestmark = pytest.mark.integration


def letter(index: int, point: str = "ops-team") -> DeadLetter:
    event = {"id": f"evt-{index}", "receiver": point,
             "alerts": [{"labels": {"alertname": f"A{index}"}, "startsAt": "2024-05-01T10:00:00Z"}]}
    notification = normalise(parse_event(json.dumps(event).encode()))
    job = Job.for_integration(f"evt-{index}", point, "hook-a", "webhook", notification)
    now = datetime.now(timezone.utc)
    failure = Failure(kind="permanent", message="webhook response status 400 Bad Request:\nno", status_code=400)
    return DeadLetter(job=job, error=failure, attempts=1, first_attempt_at=now, last_attempt_at=now)


def store(letters: list[DeadLetter]) -> None:
    with ConfirmedPublisher() as publisher:
        for item in letters:
            publisher.publish(topology.DEAD_LETTER_QUEUE, item.model_dump_json().encode(), message_id=item.id)


def run(*args: str, input_text: str | None = None):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(main, ["dead-letters", *args], input=input_text)


def waiting(broker: str) -> int:
    return queue_info(broker, topology.DEAD_LETTER_QUEUE)[0]


def test_list_is_a_table_and_json_for_scripts(broker):
    store([letter(1), letter(2, "a-much-longer-contact-point-name")])
    table = run("list")
    assert table.exit_code == 0
    lines = table.stdout.splitlines()
    assert lines[0].split()[:4] == ["ID", "TYPE", "CONTACT", "POINT"]
    assert lines[0].index("UID") == lines[2].index("hook-a")  # columns line up, however long a name
    assert "webhook response status 400 Bad Request: no" in lines[1]  # one line per letter
    assert lines[-1] == "2 dead letter(s)"
    rows = [json.loads(line) for line in run("list", "--json").stdout.splitlines()]
    assert [r["contact_point"] for r in rows] == ["ops-team", "a-much-longer-contact-point-name"]
    assert run("show", "nope").exit_code == 1


def test_purge_asks_first_unless_yes(broker):
    store([letter(i) for i in range(3)])
    declined = run("purge", "--all", input_text="n\n")
    assert declined.exit_code == 1 and "Purge 3 dead letter(s) for good? [y/N]" in declined.stderr
    assert waiting(broker) == 3
    no_input = run("purge", "--all")  # a script without --yes: nothing to confirm with, nothing purged
    assert no_input.exit_code == 1 and waiting(broker) == 3
    confirmed = run("purge", "--contact-point", "ops-team", input_text="y\n")
    assert confirmed.exit_code == 0 and "3 dead letter(s) purged" in confirmed.stdout
    assert waiting(broker) == 0
    store([letter(9)])
    yes = run("purge", "--all", "--yes")
    assert yes.exit_code == 0 and "1 dead letter(s) purged" in yes.stdout and "[y/N]" not in yes.output
    assert run("purge").exit_code == 2  # usage: a filter or --all is required


def test_purge_removes_only_what_was_confirmed(broker):
    store([letter(1)])
    runner_input = "y\n"
    import workers.dead_letters as dl

    original = dl.DeadLetterQueue.purge
    calls = {"n": 0}

    def purge_and_meanwhile_one_more(self, filters, dry_run=False, progress=None):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 2:  # a new dead letter arrives between the question and the answer
            store([letter(2)])
        return original(self, filters, dry_run, progress)

    dl.DeadLetterQueue.purge = purge_and_meanwhile_one_more  # type: ignore[method-assign]
    try:
        result = run("purge", "--all", input_text=runner_input)
    finally:
        dl.DeadLetterQueue.purge = original  # type: ignore[method-assign]
    assert result.exit_code == 0 and "1 dead letter(s) purged" in result.stdout
    assert [r["job_id"] for r in map(json.loads, run("list", "--json").stdout.splitlines())] == [letter(2).job.id]


def test_progress_is_shown_for_many_on_stderr_only(broker):
    store([letter(i) for i in range(25)])
    replayed = run("replay", "--all", "--dry-run")
    assert "checking dead letters" in replayed.stderr and "25 dead letter(s) would be replayed" in replayed.stdout
    purged = run("purge", "--all", "--yes")
    assert "purging dead letters" in purged.stderr and "purging" not in purged.stdout
    store([letter(1)])
    few = run("purge", "--all", "--yes")
    assert "purging dead letters" not in few.stderr
