"""A real Prometheus Alertmanager for tests: Debian's ``prometheus-alertmanager`` on a free loopback port.

Installed by ``.ci/setup.d/alertmanager.sh``. Each instance gets its own working folder,
storage and configuration, no clustering, and is stopped when the block ends.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.harness import wait_for

AM_BINARY = "/usr/bin/prometheus-alertmanager"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def binary() -> str | None:
    found = shutil.which("prometheus-alertmanager") or AM_BINARY
    return found if os.path.exists(found) else None


@dataclass
class RunningAlertmanager:
    url: str
    process: subprocess.Popen[bytes]
    log: Path
    auth: tuple[str, str] | None = None

    def post_alerts(self, alerts: list[dict[str, Any]]) -> None:
        """``POST /api/v2/alerts``, as Prometheus (or Grafana) sends alerts to Alertmanager."""
        response = httpx.post(f"{self.url}/api/v2/alerts", json=alerts, auth=self.auth, timeout=5)
        response.raise_for_status()

    def alerts(self, **params: str) -> list[dict[str, Any]]:
        response = httpx.get(f"{self.url}/api/v2/alerts", params=params, auth=self.auth, timeout=5)
        response.raise_for_status()
        return response.json()

    def logs(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@contextmanager
def run_alertmanager(workdir: Path, config_yaml: str, web_config_yaml: str | None = None,
                     auth: tuple[str, str] | None = None) -> Iterator[RunningAlertmanager]:
    """Start Alertmanager with ``config_yaml`` (and a web config for basic auth, if given) and wait until ready."""
    path = binary()
    if path is None:
        raise RuntimeError("prometheus-alertmanager is not installed: run .ci/setup.d/alertmanager.sh")
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "alertmanager.yml").write_text(config_yaml)
    args = [path, f"--config.file={workdir / 'alertmanager.yml'}", f"--storage.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{free_port()}", "--cluster.listen-address=", "--log.level=debug"]
    if web_config_yaml is not None:
        (workdir / "web.yml").write_text(web_config_yaml)
        args.append(f"--web.config.file={workdir / 'web.yml'}")
    port = int(args[3].rsplit(":", 1)[1])
    log = workdir / "alertmanager.log"
    with open(log, "wb") as handle:
        process = subprocess.Popen(args, stdout=handle, stderr=subprocess.STDOUT)
    running = RunningAlertmanager(f"http://127.0.0.1:{port}", process, log, auth)

    def ready() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"alertmanager exited {process.returncode}:\n{running.logs()}")
        try:
            return httpx.get(f"{running.url}/-/ready", auth=auth, timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_for(ready, timeout=30, interval=0.1, what="alertmanager /-/ready")
        yield running
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
