"""``alertrelay demo``: the whole pipeline on this machine, showing one notification arrive.

Starts a local HTTP receiver, writes a one-contact-point provisioning file pointing at it,
runs a real router and a real worker process against RabbitMQ, publishes a sample alert
and prints the request the receiver got.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import click

DEMO_CONFIG = """\
apiVersion: 1
contactPoints:
  - orgId: 1
    name: demo-team
    receivers:
      - uid: demo-webhook
        type: webhook
        settings:
          url: http://127.0.0.1:{port}/alert
          httpMethod: POST
"""


def _receiver(received: "queue.Queue[tuple[dict[str, str], bytes]]", host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            received.put((dict(self.headers), body))
            self.send_response(200)
            self.end_headers()

        do_PUT = do_POST  # noqa: N815

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _sample_event() -> dict[str, object]:
    return {
        "receiver": "demo-team",
        "externalURL": "http://grafana.local:3000/",
        "alerts": [
            {
                "labels": {"alertname": "DiskFull", "grafana_folder": "Infra", "instance": "db-1", "severity": "critical"},
                "annotations": {"summary": "Disk /var on db-1 is 97% full", "__values__": '{"A":97}'},
                "startsAt": datetime.now(timezone.utc).isoformat(),
                "generatorURL": "http://grafana.local:3000/alerting/grafana/disk/view",
            }
        ],
    }


@click.command()
@click.option("--timeout", default=60.0, show_default=True, help="Seconds to wait for the notification.")
def demo(timeout: float) -> None:
    """Run router + worker, publish a sample alert and show it arriving at a local receiver."""
    from router.cli import publish_events

    received: "queue.Queue[tuple[dict[str, str], bytes]]" = queue.Queue()
    server = _receiver(received)
    workdir = Path(tempfile.mkdtemp(prefix="alertrelay-demo-"))
    config = workdir / "contact-points.yaml"
    config.write_text(DEMO_CONFIG.format(port=server.server_address[1]))
    env = {**os.environ, "ALERTRELAY_CONFIG": str(config)}
    exe = [sys.executable, "-m", "alertrelay"]
    click.echo(f"demo receiver on http://127.0.0.1:{server.server_address[1]}/alert; config {config}")
    procs = [
        subprocess.Popen(exe + ["router"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
        subprocess.Popen(exe + ["worker", "-p", "1", "-t", "2"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
    ]
    try:
        published = time.monotonic()
        publish_events([_sample_event()])
        click.echo("published a sample alert to alertrelay.events; waiting for the notification ...")
        try:
            headers, body = received.get(timeout=timeout)
        except queue.Empty:
            raise click.ClickException(f"no notification arrived within {timeout:.0f}s: is RabbitMQ running?") from None
        payload = json.loads(body)
        click.echo(f"notification arrived after {time.monotonic() - published:.2f}s: POST /alert ({headers.get('User-Agent')})")
        click.echo(f"title:   {payload['title']!r}")
        click.echo("message:\n" + "\n".join("  " + line for line in payload["message"].splitlines()))
        click.echo("body:\n" + json.dumps(payload, indent=2))
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        server.shutdown()


@click.command("demo-receiver")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=9000, show_default=True)
def demo_receiver(host: str, port: int) -> None:
    """A local HTTP receiver that prints every notification it gets (for trying contact points out)."""
    received: "queue.Queue[tuple[dict[str, str], bytes]]" = queue.Queue()
    server = _receiver(received, host, port)
    click.echo(f"demo receiver listening on http://{host}:{server.server_address[1]}/ (any path)", err=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        while True:
            headers, body = received.get()
            try:
                payload = json.loads(body)
                title = payload.get("title") if isinstance(payload, dict) else None
                click.echo(json.dumps({"user_agent": headers.get("User-Agent"), "title": title, "body": payload}, ensure_ascii=False))
            except ValueError:
                click.echo(body.decode("utf-8", "replace"))
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
