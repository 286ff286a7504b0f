"""The peers, delivering the same number of notifications to the same receiver.

- Prometheus Alertmanager (Debian's ``prometheus-alertmanager``): every alert its own group
  (``group_by: ['...']``), ``group_wait: 0s``, a webhook receiver pointing at nginx.
- Apprise, sending sequentially to a ``json://`` URL on nginx.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from bench.common import Nginx, free_port, peak_rss_mb

AM_BINARY = "/usr/bin/prometheus-alertmanager"


def alertmanager(nginx: Nginx, n: int) -> dict[str, Any]:
    binary = shutil.which("prometheus-alertmanager") or (AM_BINARY if Path(AM_BINARY).exists() else None)
    if binary is None:
        return {"error": "prometheus-alertmanager not installed (apt-get install prometheus-alertmanager)"}
    workdir = Path(tempfile.mkdtemp(prefix="bench-am-"))
    port = free_port()
    (workdir / "am.yml").write_text(f"""
route:
  receiver: nginx
  group_by: ['...']
  group_wait: 0s
  group_interval: 1m
  repeat_interval: 4h
receivers:
  - name: nginx
    webhook_configs:
      - url: {nginx.url('/am/hook')}
        send_resolved: false
""")
    proc = subprocess.Popen(
        [binary, f"--config.file={workdir / 'am.yml'}", f"--storage.path={workdir / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=", "--log.level=warn"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/-/ready", timeout=1)
                break
            except OSError:
                if time.time() > deadline:
                    return {"error": "Alertmanager did not become ready"}
                time.sleep(0.2)
        nginx.log.write_text("")
        start = time.time()
        batch = 500
        for first in range(0, n, batch):
            alerts = [
                {"labels": {"alertname": "BenchAlert", "seq": str(i)}, "annotations": {"summary": f"alert {i}"}}
                for i in range(first, min(n, first + batch))
            ]
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/api/v2/alerts", data=json.dumps(alerts).encode(),
                headers={"Content-Type": "application/json"}, method="POST",
            )
            urllib.request.urlopen(request, timeout=30)
        got = nginx.wait_count("/am/", n, timeout=300)
        end = max((t for t, _ in got), default=time.time())
        return {"delivered": len(got), "rate": len(got) / (end - start), "peak_rss_mb": peak_rss_mb(proc.pid)}
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def apprise_sequential(nginx: Nginx, n: int) -> dict[str, Any]:
    try:
        import apprise
    except ImportError:
        return {"error": "apprise not installed (pip install apprise)"}
    nginx.log.write_text("")
    sender = apprise.Apprise()
    sender.add(nginx.url("/apprise/hook").replace("http://", "json://"))
    start = time.time()
    for i in range(n):
        sender.notify(title=f"[FIRING:1] BenchAlert {i}", body=f"alert {i}")
    end = time.time()
    got = nginx.wait_count("/apprise/", n, timeout=60)
    return {"delivered": len(got), "rate": len(got) / (end - start)}


def run_all(nginx: Nginx, n: int) -> dict[str, dict[str, Any]]:
    return {
        "Alertmanager (in-memory, no durability)": alertmanager(nginx, n),
        "Apprise, sequential": apprise_sequential(nginx, n),
    }
