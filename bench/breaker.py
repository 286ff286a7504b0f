"""Does one hanging destination slow the others down? ``python -m bench.breaker``.

A contact point with ten webhook integrations; one points at a server that accepts the
connection and never answers. Events are published at a fixed rate; the figures are the
delivery rate and publish-to-delivery latency of the nine healthy destinations, in three
runs: no hanging destination (baseline), hanging with breakers off, hanging with breakers on.
"""

from __future__ import annotations

import argparse
import json
import socket
import threading
import time
from pathlib import Path
from typing import Any

import pika

from bench.common import Nginx, percentile, private_vhost
from bench.faults import Cluster, event
from contracts import topology

DESTINATIONS = 10


class BlackHole:
    """Accepts TCP connections and never sends a byte."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1024)
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def close(self) -> None:
        self.sock.close()
        for conn in self.held:
            conn.close()


def config(nginx: Nginx, hang: str | None) -> str:
    lines = []
    for i in range(DESTINATIONS):
        base = hang if (hang and i == 0) else nginx.url("")
        lines.append(f"      - uid: dest-{i}\n        type: webhook\n        settings:\n          url: {base}/f/{{{{ CommonLabels.seq }}}}/{i}")
    return "apiVersion: 1\ncontactPoints:\n  - name: faults\n    receivers:\n" + "\n".join(lines) + "\n"


def run_once(url: str, nginx: Nginx, hang: str | None, breaker: bool, rate: float, seconds: float) -> dict[str, Any]:
    from tests.harness import purge_all

    purge_all(url)
    nginx.log.write_text("")
    path = Path(f"/tmp/bench-breaker-{int(time.time() * 1000)}.yaml")
    path.write_text(config(nginx, hang))
    env = {"ALERTRELAY_BREAKER": "on" if breaker else "off", "ALERTRELAY_HTTP_TIMEOUT": "10",
           "ALERTRELAY_BREAKER_COOLDOWN": "30", "ALERTRELAY_LOG_LEVEL": "WARNING"}
    cluster = Cluster(url, path, env)
    try:
        cluster.start("router")
        cluster.start("worker")
        connection = pika.BlockingConnection(pika.URLParameters(url))
        channel = connection.channel()
        channel.confirm_delivery()
        published: dict[int, float] = {}
        count = int(rate * seconds)
        start = time.perf_counter()
        for seq in range(count):
            delay = start + seq / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            published[seq] = time.time()
            channel.basic_publish(topology.EVENTS_EXCHANGE, "", event(seq), pika.BasicProperties(delivery_mode=2))
        connection.close()
        healthy = count * (DESTINATIONS - 1)
        deadline = time.time() + 60
        while time.time() < deadline:
            got = [(t, u) for t, u in nginx.entries("/f/") if not u.endswith("/0")]
            if len(got) >= healthy:
                break
            time.sleep(0.5)
        got = [(t, u) for t, u in nginx.entries("/f/") if not u.endswith("/0")]
        latencies = [(t - published[int(u.split("/")[2])]) * 1000 for t, u in got]
        window = max(t for t, _ in got) - min(published.values()) if got else float("nan")
        return {
            "healthy_jobs": healthy,
            "delivered": len(got),
            "rate_per_s": len(got) / window if got else 0.0,
            "p50_ms": percentile(latencies, 50),
            "p99_ms": percentile(latencies, 99),
        }
    finally:
        cluster.stop_all()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=20, help="events/s (each to 10 destinations)")
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--json", default=str(Path(__file__).parent / "results" / "breaker.json"))
    args = parser.parse_args()
    results = {}
    with private_vhost() as url, Nginx() as nginx:
        hole = BlackHole()
        for name, hang, breaker in (
            ("baseline: no hanging destination", None, True),
            ("1 of 10 hangs, breakers off", hole.url, False),
            ("1 of 10 hangs, breakers on", hole.url, True),
        ):
            results[name] = run_once(url, nginx, hang, breaker, args.rate, args.seconds)
            r = results[name]
            print(f"{name:36} healthy delivered {r['delivered']}/{r['healthy_jobs']}, {r['rate_per_s']:.0f}/s, "
                  f"p50 {r['p50_ms']:.0f} ms, p99 {r['p99_ms']:.0f} ms", flush=True)
        hole.close()
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
