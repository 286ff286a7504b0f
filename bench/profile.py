"""Where a worker's CPU goes: ``python -m bench.profile [--events 3000] [--py-spy FILE]``.

Fills the webhook queue through the real router, then lets one worker process drain it and
reports the CPU each process spent per job (from /proc). With ``--py-spy FILE`` the worker
runs under ``py-spy record --gil`` (only the thread holding the GIL is sampled, so samples
are CPU time) and FILE gets collapsed stacks, summarised here by inclusive share.
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.common import Nginx, broker_pids, children, cpu_seconds, private_vhost
from bench.run import Processes, declare, provisioning, stage_router, wait_consumers


def summarise(stacks: Path, top: int) -> list[tuple[float, str]]:
    """Inclusive share of the samples per function, from py-spy's collapsed (raw) output."""
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in stacks.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        total += int(count)
        for frame in {re.sub(r":\d+\)$", ")", f) for f in stack.split(";") if not f.startswith("process ")}:
            inclusive[frame] += int(count)
    return [(100 * n / max(total, 1), frame) for frame, n in inclusive.most_common(top)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--fanout", type=int, default=4)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--py-spy", dest="py_spy", help="write py-spy's collapsed stacks here and summarise them")
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args()
    jobs = args.events * args.fanout
    with private_vhost() as url, Nginx() as nginx:
        declare(url)
        config = Path(tempfile.mkdtemp(prefix="bench-")) / "bench.yaml"
        config.write_text(provisioning(nginx, args.fanout))
        procs = Processes(url, config)
        print(f"router fan-out: {stage_router(url, procs, args.events, args.fanout):.0f} jobs/s", flush=True)
        procs.stop("router")
        command = [sys.executable, "-m", "alertrelay", "worker", "--types", "webhook", "-p", "1", "-t", str(args.threads)]
        if args.py_spy:
            command = ["py-spy", "record", "--gil", "--subprocesses", "--format", "raw", "-r", "250", "-o", args.py_spy, "--", *command]
        nginx.log.write_text("")
        worker = subprocess.Popen(command, env=procs.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_consumers(url, "alertrelay.webhook")
            main_pid = children(worker.pid)[0] if args.py_spy else worker.pid  # under py-spy: its child
            groups = {"worker": [main_pid, *children(main_pid)], "rabbitmq": broker_pids(), "nginx": nginx.pids()}
            before = {name: cpu_seconds(pids) for name, pids in groups.items()}
            got = nginx.wait_count("/ar/", jobs, timeout=600)
            after = {name: cpu_seconds(pids) for name, pids in groups.items()}
            os.kill(main_pid, signal.SIGTERM)  # py-spy writes its file when its target exits
        finally:
            try:
                worker.wait(timeout=60)
            except subprocess.TimeoutExpired:
                worker.kill()
        times = sorted(t for t, _ in got)
        print(f"worker, 1 process × {args.threads} threads: {(len(times) - 1) / (times[-1] - times[0]):.0f} deliveries/s")
        print("CPU per job (ms): " + ", ".join(f"{name} {1000 * (after[name] - before[name]) / jobs:.3f}" for name in groups))
    if args.py_spy:
        print(f"\ninclusive share of the worker's CPU samples ({args.py_spy}):")
        for share, frame in summarise(Path(args.py_spy), args.top):
            print(f"{share:5.1f}%  {frame}")


if __name__ == "__main__":
    main()
