"""Benchmark plumbing: a private vhost, a low-cost nginx receiver, process memory, statistics."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator
from urllib.parse import quote, urlsplit, urlunsplit

import pika

BASE_URL = os.environ.get("RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def private_vhost() -> Iterator[str]:
    """A throwaway vhost so the benchmark never touches real queues."""
    vhost = f"alertrelay-bench-{uuid.uuid4().hex[:6]}"
    for attempt in range(30):  # the broker may still be starting (after a restart scenario)
        subprocess.run(["rabbitmqctl", "-q", "await_startup", "--timeout", "60"], capture_output=True)
        if subprocess.run(["rabbitmqctl", "-q", "add_vhost", vhost], capture_output=True).returncode == 0:
            break
        time.sleep(2)
    else:
        raise RuntimeError(f"rabbitmqctl add_vhost {vhost} kept failing")
    user = urlsplit(BASE_URL).username or "guest"
    subprocess.run(["rabbitmqctl", "-q", "set_permissions", "-p", vhost, user, ".*", ".*", ".*"], check=True, capture_output=True)
    parts = urlsplit(BASE_URL)
    try:
        yield urlunsplit((parts.scheme, parts.netloc, "/" + quote(vhost, safe=""), "", ""))
    finally:
        subprocess.run(["rabbitmqctl", "-q", "delete_vhost", vhost], capture_output=True)


class Nginx:
    """nginx answering 200 to everything and logging ``<msec> <uri>`` per request."""

    def __init__(self) -> None:
        if not shutil.which("nginx"):
            sys.exit("the benchmark needs nginx: apt-get install -y nginx")
        self.dir = Path(tempfile.mkdtemp(prefix="bench-nginx-"))
        self.port = free_port()
        self.log = self.dir / "access.log"
        (self.dir / "nginx.conf").write_text(f"""
worker_processes 1;
daemon off;
pid {self.dir}/nginx.pid;
error_log {self.dir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
  log_format bench '$msec $request_uri';
  access_log {self.log} bench buffer=64k flush=100ms;
  client_body_buffer_size 64k;
  keepalive_requests 100000;
  server {{
    listen 127.0.0.1:{self.port};
    location / {{ return 200 "ok"; }}
  }}
}}
""")
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> "Nginx":
        self.proc = subprocess.Popen(["nginx", "-c", str(self.dir / "nginx.conf"), "-p", str(self.dir)])
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("nginx did not start")

    def __exit__(self, *exc: object) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        """Take the receiver down (connections refused) until :meth:`restart`."""
        self.__exit__()
        self.proc = None

    def restart(self) -> None:
        self.__enter__()

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def pids(self) -> list[int]:
        return [self.proc.pid] + children(self.proc.pid) if self.proc else []

    def entries(self, prefix: str) -> list[tuple[float, str]]:
        """(time, uri) of every logged request whose URI starts with ``prefix``."""
        if not self.log.exists():
            return []
        out = []
        for line in self.log.read_text().splitlines():
            stamp, _, uri = line.partition(" ")
            if uri.startswith(prefix):
                out.append((float(stamp), uri))
        return out

    def wait_count(self, prefix: str, count: int, timeout: float) -> list[tuple[float, str]]:
        deadline = time.time() + timeout
        while True:
            found = self.entries(prefix)
            if len(found) >= count or time.time() > deadline:
                return found
            time.sleep(0.1)


def peak_rss_mb(pid: int) -> float:
    """Peak resident memory (VmHWM) of a live process, in MB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time used so far by live processes (from /proc)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def broker_pids() -> list[int]:
    """The local RabbitMQ's Erlang VM (for its share of the CPU)."""
    out = subprocess.run(["pgrep", "-f", "beam.smp"], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def children(pid: int) -> list[int]:
    try:
        out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    except OSError:
        return []
    return [int(p) for p in out.split()]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def queue_depth(url: str, queue: str) -> tuple[int, int]:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        frame = connection.channel().queue_declare(queue, passive=True)
        return frame.method.message_count, frame.method.consumer_count
    finally:
        connection.close()
