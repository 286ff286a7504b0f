"""Fault scenarios (bench/faults.py) at a small scale: nothing accepted is ever lost.

Run them with ``pytest -m faults``; they restart the local RabbitMQ and kill processes, so
the default run leaves them out.
"""

from __future__ import annotations

import shutil

import pytest

from bench import faults

pytestmark = pytest.mark.faults


@pytest.fixture(autouse=True)
def _nginx() -> None:
    if not shutil.which("nginx"):
        pytest.fail("the fault scenarios need nginx: bash .ci/setup.d/nginx.sh")


@pytest.mark.parametrize(
    "scenario",
    ["kill-worker", "kill-router", "restart-broker", "receiver-down", "receiver-hangs", "poison", "sigterm"],
)
def test_nothing_is_lost(scenario, rabbitmq_url):
    rows = faults.run([scenario], scale=0.3, dedup="both", outage=15)
    assert rows, "the scenario produced no result"
    for row in rows:
        assert row.lost == 0, row
        assert row.delivered + row.dead_letters >= row.jobs, row
    if scenario == "poison":
        assert rows[0].dead_letters == 1 and rows[0].delivered == 0
    if scenario in ("kill-worker", "kill-router"):
        assert {row.note for row in rows} == {"with Redis duplicate suppression", "without duplicate suppression"}
