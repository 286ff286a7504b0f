"""One command for every figure: ``python -m bench.run [--events 2000 --fanout 4 --rate 200]``.

Everything runs in the same session on the same RabbitMQ (in a throwaway vhost), against
the same nginx receiver, so the ratios compare like with like. Prints a table and writes
JSON (``--json PATH``, default bench/results/latest.json).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pika

from bench import limits, peers
from bench.common import Nginx, broker_pids, children, cpu_seconds, peak_rss_mb, percentile, private_vhost, queue_depth
from contracts import topology

CONTACT_POINT = "bench"


def provisioning(nginx: Nginx, fanout: int, per_event_url: bool = False) -> str:
    """A contact point of ``fanout`` webhooks. Throughput stages post to a fixed URL per
    integration, as the peers do; the latency stage puts each event's sequence number in the
    URL (a template) to match every delivery to its publish time."""
    path = "{{ CommonLabels.seq }}/{k}" if per_event_url else "hook-{k}"
    receivers = "\n".join(
        f"""      - uid: hook-{k}
        type: webhook
        settings:
          url: {nginx.url("/ar/")}{path.replace("{k}", str(k))}"""
        for k in range(fanout)
    )
    return f"apiVersion: 1\ncontactPoints:\n  - name: {CONTACT_POINT}\n    receivers:\n{receivers}\n"


def event(seq: int) -> bytes:
    return json.dumps(
        {
            "id": f"bench-{seq}",
            "receiver": CONTACT_POINT,
            "externalURL": "http://grafana.local/",
            "alerts": [
                {
                    "labels": {"alertname": "BenchAlert", "seq": str(seq), "instance": f"host-{seq % 50}"},
                    "annotations": {"summary": f"benchmark alert {seq}", "__values__": '{"A":1}'},
                    "startsAt": "2024-05-01T10:00:00Z",
                }
            ],
        }
    ).encode()


class Processes:
    """The real ``alertrelay router`` / ``worker`` processes, their peak memory noted at stop."""

    def __init__(self, url: str, config: Path):
        self.env = {**os.environ, "RABBITMQ_URL": url, "ALERTRELAY_CONFIG": str(config), "ALERTRELAY_LOG_LEVEL": "WARNING",
                    "ALERTRELAY_METRICS_PORT": "off"}
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.rss: dict[str, float] = {}
        self.logdir = Path(tempfile.mkdtemp(prefix="bench-logs-"))

    def start(self, name: str, *args: str) -> None:
        log = open(self.logdir / f"{name}.log", "wb")
        self.procs[name] = subprocess.Popen([sys.executable, "-m", "alertrelay", *args], env=self.env, stdout=log, stderr=log)

    def pids(self, name: str) -> list[int]:
        proc = self.procs[name]
        return [proc.pid] + children(proc.pid)

    def stop(self, name: str) -> None:
        pids = self.pids(name)
        proc = self.procs.pop(name)
        self.rss[name] = max(peak_rss_mb(p) for p in pids)
        if name.startswith("worker"):
            self.rss[name + " (per process)"] = max((peak_rss_mb(p) for p in pids[1:]), default=0.0)
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()

    def stop_all(self) -> None:
        for name in list(self.procs):
            self.stop(name)


def wait_consumers(url: str, queue: str, timeout: float = 30) -> None:
    deadline = time.time() + timeout
    while queue_depth(url, queue)[1] < 1:
        if time.time() > deadline:
            raise RuntimeError(f"nobody consumes {queue}")
        time.sleep(0.1)


def publish_events(url: str, seqs: range) -> None:
    """Publish events persistently with confirms, pipelined (a cheap load generator: its CPU is
    taken from the same two cores as alertrelay's)."""
    limits.pipelined(url, topology.EVENTS_EXCHANGE, "", [event(seq) for seq in seqs],
                     properties=pika.BasicProperties(delivery_mode=2, content_type="application/json"))


def prefill_events(url: str, seqs: range) -> None:
    limits_connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = limits_connection.channel()
    channel.confirm_delivery()
    props = pika.BasicProperties(delivery_mode=2)
    for seq in seqs:
        channel.basic_publish(topology.EVENTS_EXCHANGE, "", event(seq), props)
    limits_connection.close()


def declare(url: str) -> None:
    from alertrelay.amqp import declare_topology
    from contracts.registry import REGISTRY

    connection = pika.BlockingConnection(pika.URLParameters(url))
    declare_topology(connection.channel(), [e.queue_name for e in REGISTRY.values()])
    connection.close()


def stage_router(url: str, procs: Processes, events: int, fanout: int) -> float:
    """Jobs confirmed per second: events pre-filled, then the router alone."""
    prefill_events(url, range(events))
    start = time.perf_counter()
    procs.start("router", "router")
    want = events * fanout
    first = None
    while True:
        jobs = queue_depth(url, "alertrelay.webhook")[0]
        if jobs and first is None:
            first = time.perf_counter()
        if jobs >= want:
            break
        if time.perf_counter() - start > 300:
            raise RuntimeError(f"router stalled at {jobs}/{want} jobs")
        time.sleep(0.02)
    end = time.perf_counter()
    return want / (end - (first or start))


def stage_worker(url: str, nginx: Nginx, procs: Processes, want: int, processes: int, threads: int, prefix: str) -> float:
    """Deliveries per second from a pre-filled job queue."""
    name = f"worker-{processes}p"
    nginx.log.write_text("")
    procs.start(name, "worker", "--types", "webhook", "-p", str(processes), "-t", str(threads))
    got = nginx.wait_count(prefix, want, timeout=600)
    procs.stop(name)
    times = sorted(t for t, _ in got)
    if len(times) < 2:
        return 0.0
    return (len(times) - 1) / (times[-1] - times[0])


def move_jobs_back(url: str, nginx: Nginx, events: int, fanout: int) -> None:
    """Refill the job queue for the second worker measurement by routing the same events again."""
    prefill_events(url, range(events))
    want = events * fanout
    while queue_depth(url, "alertrelay.webhook")[0] < want:
        time.sleep(0.05)


def stage_end_to_end(url: str, nginx: Nginx, procs: Processes, events: int, fanout: int, threads: int, processes: int) -> dict[str, float]:
    """Notifications delivered per second, and the CPU each process spent per notification."""
    procs.start("worker-e2e", "worker", "--types", "webhook", "-p", str(processes), "-t", str(threads))
    wait_consumers(url, "alertrelay.webhook")
    nginx.log.write_text("")
    seqs = range(100_000, 100_000 + events)
    groups = {"worker": procs.pids("worker-e2e"), "router": procs.pids("router"), "rabbitmq": broker_pids()}
    before = {name: cpu_seconds(pids) for name, pids in groups.items()}
    start = time.time()
    publish_events(url, seqs)
    got = nginx.wait_count("/ar/", events * fanout, timeout=600)
    end = max(t for t, _ in got) if got else time.time()
    cpu = {name: 1000 * (cpu_seconds(pids) - before[name]) / max(len(got), 1) for name, pids in groups.items()}
    return {"delivered": len(got), "rate": len(got) / (end - start), "cpu_ms_per_notification": cpu}


def publish_paced(url: str, seqs: range, rate: float) -> dict[int, float]:
    """Publish at ``rate`` events/s, each confirmed; returns seq → publish time."""
    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    channel.confirm_delivery()
    props = pika.BasicProperties(delivery_mode=2, content_type="application/json")
    published: dict[int, float] = {}
    start = time.perf_counter()
    for i, seq in enumerate(seqs):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        published[seq] = time.time()
        channel.basic_publish(topology.EVENTS_EXCHANGE, "", event(seq), props, mandatory=True)
    connection.close()
    return published


def stage_latency(url: str, nginx: Nginx, procs: Processes, rate: float, seconds: float, fanout: int) -> dict[str, float]:
    """Publish-to-delivery latency at a fixed offered load (router and worker already running)."""
    warm = int(rate * 3)  # a running deployment is warm: discard a 3 s warm-up at the same rate
    publish_paced(url, range(300_000, 300_000 + warm), rate)
    nginx.wait_count("/ar/", warm * fanout, timeout=60)
    base = 200_000
    count = int(rate * seconds)
    nginx.log.write_text("")
    published = publish_paced(url, range(base, base + count), rate)
    deadline = time.time() + 120
    while True:  # count only the measured events (late warm-up lines may still be flushed)
        got = [(t, uri) for t, uri in nginx.entries("/ar/") if int(uri.split("/")[2]) in published]
        if len(got) >= count * fanout or time.time() > deadline:
            break
        time.sleep(0.2)
    latencies = [(t - published[int(uri.split("/")[2])]) * 1000 for t, uri in got]
    procs.stop("worker-e2e")
    return {
        "offered_events_per_s": rate,
        "notifications": len(latencies),
        "p50_ms": percentile(latencies, 50),
        "p95_ms": percentile(latencies, 95),
        "p99_ms": percentile(latencies, 99),
        "max_ms": max(latencies) if latencies else float("nan"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1000, help="events per stage")
    parser.add_argument("--fanout", type=int, default=4, help="webhook integrations per contact point")
    parser.add_argument("--threads", type=int, default=8, help="threads per worker process")
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1,
                        help="worker processes for the end-to-end and latency stages (default: one per core)")
    parser.add_argument("--rate", type=float, default=200, help="offered events/s for the latency stage")
    parser.add_argument("--latency-seconds", type=float, default=10)
    parser.add_argument("--latency-fanout", type=int, default=1, help="integrations per event in the latency stage")
    parser.add_argument("--per-event-urls", action="store_true",
                        help="throughput stages too use a templated URL per event (costs a template render per job)")
    parser.add_argument("--skip-peers", action="store_true")
    parser.add_argument("--json", default=str(Path(__file__).parent / "results" / "latest.json"))
    args = parser.parse_args()
    notifications = args.events * args.fanout
    results: dict[str, Any] = {
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "params": vars(args),
    }
    with private_vhost() as url, Nginx() as nginx:
        os.environ["RABBITMQ_URL"] = url
        print(f"RabbitMQ vhost {url.rsplit('/', 1)[-1]}, nginx on {nginx.url()}", flush=True)
        lim = results["limits"] = {}
        lim["pika_publish_confirm_per_message"] = limits.publish_per_message(url, min(notifications, 3000))
        lim["pika_publish_confirm_pipelined"] = limits.publish_pipelined(url, notifications * 2)
        lim["pika_consume_ack"] = limits.consume_ack(url, notifications * 2)
        lim["dramatiq_noop_drain"] = limits.dramatiq_noop_drain(url, notifications, threads=args.threads)
        print(f"limits: {json.dumps({k: round(v) for k, v in lim.items()})}", flush=True)

        declare(url)
        workdir = Path(tempfile.mkdtemp(prefix="bench-"))
        config = workdir / "bench.yaml"
        config.write_text(provisioning(nginx, args.fanout, per_event_url=args.per_event_urls))
        procs = Processes(url, config)
        try:
            stages = results["alertrelay"] = {}
            stages["router_fanout_jobs_per_s"] = stage_router(url, procs, args.events, args.fanout)
            print(f"router fan-out: {stages['router_fanout_jobs_per_s']:.0f} jobs/s", flush=True)
            stages["worker_1p_per_s"] = stage_worker(url, nginx, procs, notifications, 1, args.threads, "/ar/")
            print(f"worker 1 process: {stages['worker_1p_per_s']:.0f} deliveries/s", flush=True)
            move_jobs_back(url, nginx, args.events, args.fanout)
            stages["worker_2p_per_s"] = stage_worker(url, nginx, procs, notifications, 2, args.threads, "/ar/")
            print(f"worker 2 processes: {stages['worker_2p_per_s']:.0f} deliveries/s", flush=True)
            e2e = stage_end_to_end(url, nginx, procs, args.events, args.fanout, args.threads, args.processes)
            stages["end_to_end_per_s"] = e2e["rate"]
            stages["end_to_end_delivered"] = e2e["delivered"]
            stages["end_to_end_cpu_ms_per_notification"] = e2e["cpu_ms_per_notification"]
            print(f"end to end: {e2e['rate']:.0f} notifications/s ({e2e['delivered']} delivered)", flush=True)
            config.write_text(provisioning(nginx, args.latency_fanout, per_event_url=True))
            procs.stop("router")
            procs.start("router", "router")
            procs.start("worker-e2e", "worker", "--types", "webhook", "-p", str(args.processes), "-t", str(args.threads))
            wait_consumers(url, topology.EVENTS_QUEUE)
            wait_consumers(url, "alertrelay.webhook")
            time.sleep(1.0)
            results["latency"] = stage_latency(url, nginx, procs, args.rate, args.latency_seconds, args.latency_fanout)
            print(f"latency: {json.dumps({k: round(v, 1) for k, v in results['latency'].items()})}", flush=True)
        finally:
            procs.stop_all()
        results["peak_rss_mb"] = procs.rss
        if not args.skip_peers:
            results["peers"] = peers.run_all(nginx, notifications)
    report(results)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(results, indent=2))
    print(f"\nJSON: {args.json}")


def report(r: dict[str, Any]) -> None:
    lim, ar = r["limits"], r["alertrelay"]
    drain = lim["dramatiq_noop_drain"]
    rows = [
        ("limit: pika publish+confirm, per message", lim["pika_publish_confirm_per_message"], "msg/s", ""),
        ("limit: pika publish+confirm, pipelined", lim["pika_publish_confirm_pipelined"], "msg/s", ""),
        ("limit: pika consume+ack", lim["pika_consume_ack"], "msg/s", ""),
        ("limit: Dramatiq no-op actor drain", drain, "msg/s", "1.00 × drain"),
        ("alertrelay router fan-out", ar["router_fanout_jobs_per_s"], "jobs/s", "target ≥ 3000"),
        ("alertrelay worker, 1 process", ar["worker_1p_per_s"], "deliveries/s", f"{ar['worker_1p_per_s'] / drain:.2f} × drain"),
        ("alertrelay worker, 2 processes", ar["worker_2p_per_s"], "deliveries/s", f"{ar['worker_2p_per_s'] / ar['worker_1p_per_s']:.2f} × 1 process"),
        (f"alertrelay end to end ({r['params']['processes']} worker processes)", ar["end_to_end_per_s"], "notifications/s", f"{ar['end_to_end_per_s'] / drain:.2f} × drain (target ≥ 0.3)"),
    ]
    for name, peer in (r.get("peers") or {}).items():
        if peer.get("rate"):
            rows.append((f"peer: {name}", peer["rate"], "notifications/s", f"alertrelay = {ar['end_to_end_per_s'] / peer['rate']:.2f} ×"))
        else:
            rows.append((f"peer: {name}", float("nan"), "", peer.get("error", "not run")))
    print(f"\nmachine: {r['machine']}; {r['params']['events']} events × {r['params']['fanout']} webhooks")
    print(f"{'measure':46} {'value':>10}  {'unit':16} ratio")
    for name, value, unit, ratio in rows:
        print(f"{name:46} {value:10.0f}  {unit:16} {ratio}")
    lat = r["latency"]
    print(
        f"latency at {lat['offered_events_per_s']:.0f} events/s × {r['params']['latency_fanout']}: "
        f"p50 {lat['p50_ms']:.1f} ms, p95 {lat['p95_ms']:.1f} ms, p99 {lat['p99_ms']:.1f} ms (target p99 ≤ 50 ms)"
    )
    cpu = ar.get("end_to_end_cpu_ms_per_notification") or {}
    print("end-to-end CPU per notification (ms): " + ", ".join(f"{k} {v:.2f}" for k, v in cpu.items()))
    print("peak RSS (MB): " + ", ".join(f"{k} {v:.0f}" for k, v in r["peak_rss_mb"].items()) + " (target ≤ 150 per worker process)")


if __name__ == "__main__":
    main()
