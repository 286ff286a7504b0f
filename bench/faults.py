"""Fault scenarios against real RabbitMQ, real router and worker processes, a real receiver.

``python -m bench.faults [--scale 1.0] [--only kill-worker,...] [--dedup both|on|off]``

Every scenario publishes events to a contact point with K webhook integrations whose URL
carries the event's sequence number, so the receiver's log tells exactly which job arrived
how often. It prints: scenario, jobs, delivered (distinct), lost, duplicates, dead letters.
"Lost" = jobs that were neither delivered nor dead-lettered; it must be 0 in every row.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable, Iterator


from bench.common import Nginx, children, private_vhost, queue_depth
from contracts import topology

K = 4
FAST_RETRIES = {
    "ALERTRELAY_METRICS_PORT": "off",  # no metrics fork: the worker's children are its worker processes
    "ALERTRELAY_RETRY_MIN_BACKOFF": "1",
    "ALERTRELAY_RETRY_MAX_BACKOFF": "10",
    "ALERTRELAY_HTTP_TIMEOUT": "2",
    "ALERTRELAY_LOG_LEVEL": "WARNING",
}
REDIS_URL = os.environ.get("ALERTRELAY_REDIS_URL", "redis://127.0.0.1:6379/0")


@dataclass
class Row:
    scenario: str
    jobs: int
    delivered: int
    lost: int
    duplicates: int
    dead_letters: int
    note: str = ""


def config_text(url_base: str, k: int, hang_url: str | None = None) -> str:
    receivers = []
    for i in range(k):
        base = hang_url if (hang_url and i == 0) else url_base
        receivers.append(
            f"      - uid: hook-{i}\n        type: webhook\n        settings:\n          url: {base}/f/{{{{ CommonLabels.seq }}}}/{i}"
        )
    return "apiVersion: 1\ncontactPoints:\n  - name: faults\n    receivers:\n" + "\n".join(receivers) + "\n"


def event(seq: int) -> bytes:
    return json.dumps(
        {"id": f"fault-{seq}", "receiver": "faults",
         "alerts": [{"labels": {"alertname": "Fault", "seq": str(seq)}, "startsAt": "2024-05-01T10:00:00Z"}]}
    ).encode()


class Cluster:
    """Router and worker processes for one scenario, restartable like a supervisor would."""

    def __init__(self, url: str, config: Path, env: dict[str, str], worker_processes: int = 2):
        self.env = {**os.environ, **FAST_RETRIES, **env, "RABBITMQ_URL": url, "ALERTRELAY_CONFIG": str(config)}
        self.worker_processes = worker_processes
        self.url = url
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.logdir = Path(tempfile.mkdtemp(prefix="faults-"))

    def start(self, name: str) -> None:
        args = ["router"] if name == "router" else ["worker", "--types", "webhook", "-p", str(self.worker_processes), "-t", "8"]
        log = open(self.logdir / f"{name}.log", "ab")
        self.procs[name] = subprocess.Popen([sys.executable, "-m", "alertrelay", *args], env=self.env, stdout=log, stderr=log)
        queue = topology.EVENTS_QUEUE if name == "router" else "alertrelay.webhook"
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.procs[name].poll() is not None:
                return  # it already ran and died (the poison scenario kills it on its first job)
            try:
                if queue_depth(self.url, queue)[1] >= 1:
                    return
            except Exception:  # noqa: BLE001 - not declared yet, or the broker restarting
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{name} did not start; see {self.logdir}")

    def signal(self, name: str, sig: int, child: bool = False, all_children: bool = False) -> None:
        proc = self.procs[name]
        kids = children(proc.pid)
        targets = (kids if all_children else kids[:1]) if child else [proc.pid]
        for pid in targets:
            os.kill(pid, sig)

    def wait_exit(self, name: str, timeout: float = 60) -> int | None:
        try:
            return self.procs[name].wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


def publish(url: str, seqs: range) -> None:
    """Publish with confirms through alertrelay's publisher (it reconnects by itself)."""
    from alertrelay.amqp import ConfirmedPublisher

    with ConfirmedPublisher(url, retry_seconds=180) as publisher:
        for seq in seqs:
            publisher.publish("", event(seq), exchange=topology.EVENTS_EXCHANGE)


def delivered(nginx: Nginx) -> Counter[str]:
    return Counter(uri for _, uri in nginx.entries("/f/"))


def dead_letter_count(url: str) -> int:
    try:
        return queue_depth(url, topology.DEAD_LETTER_QUEUE)[0]
    except Exception:  # noqa: BLE001
        return 0


def settle(nginx: Nginx, url: str, jobs: int, timeout: float) -> None:
    """Wait until every job is delivered or dead-lettered, or the log stops growing for long."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if len(delivered(nginx)) + dead_letter_count(url) >= jobs:
            time.sleep(2)  # let late duplicates arrive
            return
        time.sleep(0.5)


def tally(name: str, nginx: Nginx, url: str, jobs: int, note: str = "") -> Row:
    counts = delivered(nginx)
    distinct = len(counts)
    dead = dead_letter_count(url)
    return Row(name, jobs, distinct, max(0, jobs - distinct - dead), sum(counts.values()) - distinct, dead, note)


def wait_progress(nginx: Nginx, target: int, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while len(delivered(nginx)) < target and time.time() < deadline:
        time.sleep(0.05)


@contextmanager
def scenario_env(url: str, nginx: Nginx, k: int = K, hang_url: str | None = None, env: dict[str, str] | None = None,
                 worker_processes: int = 2) -> Iterator[Cluster]:
    config = Path(tempfile.mkdtemp(prefix="faults-cfg-")) / "faults.yaml"
    config.write_text(config_text(nginx.url(""), k, hang_url))
    nginx.log.write_text("")
    from tests.harness import purge_all

    purge_all(url)
    cluster = Cluster(url, config, env or {}, worker_processes)
    try:
        yield cluster
    finally:
        cluster.stop_all()


def kill_worker(url: str, nginx: Nginx, scale: float, env: dict[str, str]) -> Row:
    events = int(500 * scale)
    jobs = events * K
    with scenario_env(url, nginx, env=env) as c:
        c.start("router")
        c.start("worker")
        publish(url, range(events))
        wait_progress(nginx, jobs // 3)
        c.signal("worker", signal.SIGKILL, child=True)
        c.wait_exit("worker")
        c.start("worker")
        settle(nginx, url, jobs, 300)
        return tally("1. kill -9 a worker process mid-run", nginx, url, jobs, note=dedup_note(env))


def kill_router(url: str, nginx: Nginx, scale: float, env: dict[str, str]) -> Row:
    events = int(500 * scale)
    jobs = events * K
    with scenario_env(url, nginx, env=env) as c:
        publish(url, range(events))
        c.start("worker")
        c.start("router")
        deadline = time.time() + 60
        while queue_depth(url, "alertrelay.webhook")[0] + len(delivered(nginx)) < jobs // 3 and time.time() < deadline:
            time.sleep(0.01)
        c.signal("router", signal.SIGKILL)
        c.wait_exit("router")
        c.start("router")
        settle(nginx, url, jobs, 300)
        return tally("2. kill -9 the router mid fan-out", nginx, url, jobs, note=dedup_note(env))


def restart_broker(url: str, nginx: Nginx, scale: float, full: bool) -> Row:
    events = int(300 * scale)
    jobs = events * K
    with scenario_env(url, nginx) as c:
        c.start("router")
        c.start("worker")
        publisher = threading.Thread(target=publish, args=(url, range(events)))
        publisher.start()
        wait_progress(nginx, jobs // 4)
        if full:
            subprocess.run(["rabbitmqctl", "stop"], capture_output=True)
            time.sleep(2)
            subprocess.run(["rabbitmq-server", "-detached"], capture_output=True)
        else:
            subprocess.run(["rabbitmqctl", "stop_app"], capture_output=True)
            time.sleep(5)
            subprocess.run(["rabbitmqctl", "start_app"], capture_output=True)
        subprocess.run(["rabbitmqctl", "await_startup", "--timeout", "120"], capture_output=True)
        publisher.join(timeout=240)
        settle(nginx, url, jobs, 300)
        alive = all(p.poll() is None for p in c.procs.values())
        name = "3b. RabbitMQ full stop/start" if full else "3a. RabbitMQ stop_app/start_app"
        return tally(name, nginx, url, jobs, note="router and worker reconnected" if alive else "a process exited!")


def receiver_down(url: str, nginx: Nginx, scale: float, outage: float) -> Row:
    events = int(100 * scale)
    jobs = events * K
    with scenario_env(url, nginx) as c:
        c.start("router")
        c.start("worker")
        nginx.stop()
        publish(url, range(events))
        time.sleep(outage)
        nginx.restart()
        settle(nginx, url, jobs, 120)
        return tally(f"4. receiver down {outage:.0f} s, then back", nginx, url, jobs)


class HangingThenOk:
    """Accepts connections and never answers until ``until``, then answers 200 and logs to nginx's log format."""

    def __init__(self, until: float, nginx: Nginx):
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                if time.time() < outer.until:
                    time.sleep(outer.until - time.time() + 30)  # never answer in time
                    return
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with open(nginx.log, "a") as log:
                    log.write(f"{time.time():.3f} {self.path}\n")
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.until = until
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"


def receiver_hangs(url: str, nginx: Nginx, scale: float) -> Row:
    events = int(100 * scale)
    jobs = events * K
    hanging = HangingThenOk(time.time() + 20, nginx)
    with scenario_env(url, nginx, hang_url=hanging.url) as c:
        c.start("router")
        c.start("worker")
        publish(url, range(events))
        time.sleep(8)
        others = sum(1 for uri in delivered(nginx) if not uri.endswith("/0"))
        settle(nginx, url, jobs, 180)
        row = tally("5. receiver accepts, never answers (20 s)", nginx, url, jobs)
        row.note = f"other 3 destinations had {others}/{events * 3} delivered while it hung"
        hanging.server.shutdown()
        return row


def poison(url: str, nginx: Nginx) -> Row:
    state: dict[str, Cluster] = {}

    class Killer(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            cluster = state["cluster"]
            cluster.signal("worker", signal.SIGKILL, child=True, all_children=True)
            time.sleep(5)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Killer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with scenario_env(url, nginx, k=1, hang_url=f"http://127.0.0.1:{server.server_address[1]}", worker_processes=1) as c:
        state["cluster"] = c
        c.start("router")
        publish(url, range(1))
        deliveries = 0
        for _ in range(6):
            c.start("worker")
            if c.wait_exit("worker", timeout=40) is None:
                break  # the worker survived: the job was dead-lettered
            deliveries += 1
        time.sleep(2)
        row = tally("6. a job that kills its worker every time", nginx, url, 1)
        row.note = f"worker died {deliveries} times, then the job was dead-lettered"
    server.shutdown()
    return row


def sigterm_under_load(url: str, nginx: Nginx, scale: float) -> Row:
    events = int(300 * scale)
    jobs = events * K
    with scenario_env(url, nginx) as c:
        c.start("router")
        c.start("worker")
        publish(url, range(events))
        wait_progress(nginx, jobs // 4)
        c.signal("worker", signal.SIGTERM)
        c.signal("router", signal.SIGTERM)
        codes = (c.wait_exit("worker"), c.wait_exit("router"))
        c.start("router")
        c.start("worker")
        settle(nginx, url, jobs, 300)
        return tally("7. SIGTERM worker and router under load", nginx, url, jobs, note=f"exit codes {codes}")


def dedup_note(env: dict[str, str]) -> str:
    return "with Redis duplicate suppression" if env else "without duplicate suppression"


def dedup_envs(choice: str) -> list[dict[str, str]]:
    on = {"ALERTRELAY_REDIS_URL": REDIS_URL, "ALERTRELAY_REDIS_PREFIX": f"faults-{uuid.uuid4().hex[:6]}:"}
    return {"on": [on], "off": [{}], "both": [{}, on]}[choice]


SCENARIOS: dict[str, Callable[..., list[Row]]] = {
    "kill-worker": lambda u, n, a: [kill_worker(u, n, a.scale, e) for e in dedup_envs(a.dedup)],
    "kill-router": lambda u, n, a: [kill_router(u, n, a.scale, e) for e in dedup_envs(a.dedup)],
    "restart-broker": lambda u, n, a: [restart_broker(u, n, a.scale, False), restart_broker(u, n, a.scale, True)],
    "receiver-down": lambda u, n, a: [receiver_down(u, n, a.scale, a.outage)],
    "receiver-hangs": lambda u, n, a: [receiver_hangs(u, n, a.scale)],
    "poison": lambda u, n, a: [poison(u, n)],
    "sigterm": lambda u, n, a: [sigterm_under_load(u, n, a.scale)],
}


def run(names: list[str], scale: float = 1.0, dedup: str = "both", outage: float = 60.0) -> list[Row]:
    args = argparse.Namespace(scale=scale, dedup=dedup, outage=outage)
    rows: list[Row] = []
    with private_vhost() as url, Nginx() as nginx:
        for name in names:
            for row in SCENARIOS[name](url, nginx, args):
                rows.append(row)
                print_row(row)
    return rows


def print_row(row: Row) -> None:
    print(f"{row.scenario:44} {row.jobs:6} {row.delivered:9} {row.lost:5} {row.duplicates:10} {row.dead_letters:12}  {row.note}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", default=",".join(SCENARIOS), help="comma-separated: " + ", ".join(SCENARIOS))
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies the number of events")
    parser.add_argument("--dedup", choices=["both", "on", "off"], default="both")
    parser.add_argument("--outage", type=float, default=60.0, help="receiver outage in scenario 4, seconds")
    parser.add_argument("--json", default=str(Path(__file__).parent / "results" / "faults.json"))
    args = parser.parse_args()
    print(f"{'scenario':44} {'jobs':>6} {'delivered':>9} {'lost':>5} {'duplicates':>10} {'dead letters':>12}  note")
    rows = run(args.only.split(","), args.scale, args.dedup, args.outage)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps([asdict(r) for r in rows], indent=2))
    lost = sum(r.lost for r in rows)
    print(f"\nlost in total: {lost}")
    sys.exit(1 if lost else 0)


if __name__ == "__main__":
    main()
