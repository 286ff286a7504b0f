"""No secret of any integration reaches a queue, a dead letter, a log line, a metric, the delivery
status or a preview: every secret setting of all 22 types holds a marker, the whole pipeline
runs once against receivers that accept everything and once against receivers that refuse
everything and echo what they were sent, and every marker is looked for, raw, URL-encoded
and base64-encoded, in everything alertrelay stored or printed.
"""

from __future__ import annotations

import base64
import json
import re
import signal
import socket
import ssl
import subprocess
import sys
import urllib.request
import uuid
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
import trustme
from aiosmtpd.controller import Controller
from pytest_httpserver import HTTPServer

from contracts import topology
from contracts.registry import REGISTRY
from tests import secret_markers as sm
from tests.harness import all_queues, peek, queue_info, wait_for

pytestmark = pytest.mark.integration

ALL_TYPES = list(REGISTRY)
JOBS = len(sm.ENTRIES)
#: Dead letters printed in full with ``dead-letters show`` (each is a subprocess; the raw queue has them all).
SHOWN = ("email", "slack", "webhook-urlcreds")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def tls() -> dict[str, Any]:
    """A private CA, a server certificate for 127.0.0.1 and a client certificate (PEMs for tlsConfig)."""
    ca = trustme.CA()
    server = ca.issue_cert("127.0.0.1", "localhost")
    client = ca.issue_cert("alertrelay-client.example.com")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.configure_cert(context)
    return {
        "server_context": context,
        "ca_pem": ca.cert_pem.bytes().decode(),
        "cert_pem": client.cert_chain_pems[0].bytes().decode(),
        "key_pem": client.private_key_pem.bytes().decode(),
    }


@pytest.fixture
def destinations(tls):  # type: ignore[no-untyped-def]
    """``start(mode)``: the HTTP and HTTPS receivers, the SMTP server and the MQTT URL for a round."""
    servers: list[HTTPServer] = []
    controllers: list[Controller] = []

    def start(mode: str) -> dict[str, Any]:
        receiver, smtp = sm.EchoReceiver(mode), sm.SmtpEcho(mode)
        for ssl_context in (None, tls["server_context"]):
            server = HTTPServer(host="127.0.0.1", port=0, ssl_context=ssl_context, threaded=True)
            server.expect_request(re.compile(".*")).respond_with_handler(receiver)
            server.start()
            servers.append(server)
        smtp_port = free_port()
        controller = Controller(smtp, hostname="127.0.0.1", port=smtp_port, auth_require_tls=False,
                                auth_exclude_mechanism=["LOGIN"])  # AUTH PLAIN: the password in one base64 line
        controller.start()
        controllers.append(controller)
        http, https = servers[-2], servers[-1]
        context = {
            "base": f"http://127.0.0.1:{http.port}",
            "host": f"127.0.0.1:{http.port}",
            "tls_base": f"https://127.0.0.1:{https.port}",
            "mqtt": "tcp://127.0.0.1:1883" if mode == "ok" else f"tcp://127.0.0.1:{free_port()}",
            "run": uuid.uuid4().hex[:8],
            **{k: tls[k] for k in ("ca_pem", "cert_pem", "key_pem")},
        }
        return {"receiver": receiver, "smtp": smtp, "smtp_port": smtp_port, "context": context}

    yield start
    for server in servers:
        server.clear()
        server.stop()
    for controller in controllers:
        controller.stop()


def test_every_secret_setting_of_every_type_gets_a_marker():
    generated = sm.generate({k: "x" for k in ("base", "host", "tls_base", "mqtt", "run", "ca_pem", "cert_pem", "key_pem")})
    for name, entry in REGISTRY.items():
        assert generated.covered[name] == set(sm.secret_paths(entry.settings)), f"{name}: a secret setting has no marker"
    assert len(set(generated.markers)) == len(generated.markers)
    assert {e.type for e in sm.ENTRIES} == set(REGISTRY)


def test_marker_search_finds_every_encoding():
    secret = sm.marker("x", "password") + sm.ENCODED_SUFFIX
    for text in (secret, quote(secret, safe=""), quote_plus(secret), base64.b64encode(f"alice:{secret}".encode()).decode(),
                 base64.b64encode(f"\0smtp-user\0{secret}".encode()).decode(), secret[:12]):
        assert sm.leaks({"t": text}, [sm.marker("x", "password")]), text
    assert not sm.leaks({"t": "[REDACTED] and user:[REDACTED]@host"}, [sm.marker("x", "password")])


def _run(mode: str, destinations, pipeline_factory, broker: str, redis_url: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """One round: route, peek the jobs, deliver (or fail), then gather everything alertrelay keeps or prints."""
    from workers.status import StatusStore

    dest = destinations(mode)
    generated = sm.generate(dest["context"])
    ports = {"router": free_port(), "worker": free_port()}
    env = {
        **sm.environment(dest["context"]["base"], dest["smtp_port"]),
        "ALERTRELAY_LOG_LEVEL": "DEBUG",
        "ALERTRELAY_METRICS_HOST": "127.0.0.1",
        "ALERTRELAY_RETRY_IN_PROCESS_ATTEMPTS": "2",
        "ALERTRELAY_RETRY_MAX_AGE": "2.5",  # the closed MQTT port is transient: dead-lettered after 2.5 s
    }
    pipeline = pipeline_factory(generated.text(), env=env, types=ALL_TYPES, threads=8)
    pipeline.env["ALERTRELAY_METRICS_PORT"] = str(ports["router"])  # each process its own metrics port
    pipeline.start_router()
    pipeline.publish(sm.event(f"evt-secrets-{mode}"))
    job_queues = [REGISTRY[t].queue_name for t in ALL_TYPES]
    wait_for(lambda: sum(queue_info(broker, q)[0] for q in job_queues) == JOBS, what=f"{JOBS} queued jobs")
    sources = {f"queued job in {q}": read_queue(broker, q) for q in job_queues}  # before the worker takes them
    pipeline.env["ALERTRELAY_METRICS_PORT"] = str(ports["worker"])
    pipeline.start_worker()
    store = StatusStore(redis_url)
    if mode == "ok":
        wait_for(lambda: sum(int(r.get("delivered") or 0) >= 1 for r in store.read()) == JOBS, 30, interval=0.2,
                 what=f"{JOBS} deliveries")
    else:
        wait_for(lambda: queue_info(broker, topology.DEAD_LETTER_QUEUE)[0] == JOBS, 30, interval=0.2,
                 what=f"{JOBS} dead letters")
    sources.update({f"queue {q}": read_queue(broker, q) for q in all_queues()})
    for name, port in ports.items():
        sources[f"{name} metrics"] = wait_for(lambda: scrape(port), 15, interval=0.2, what=f"{name} metrics on :{port}")
    tested = subprocess.run([sys.executable, "-m", "alertrelay", "test-contact-point", sm.CONTACT_POINT, "--json"],
                            env=pipeline.env, capture_output=True, text=True, timeout=120)
    sources["test-contact-point"] = tested.stdout + tested.stderr
    outputs, letters = _commands_and_shutdown(pipeline)
    shown = outputs.pop("preview --show-secrets --event -")
    sources.update(outputs)
    sources.update({f"{name} log": path.read_text(errors="replace") for name, path in pipeline.log_files.items()})
    results = [json.loads(line) for line in tested.stdout.splitlines() if line.startswith("{")]
    return {"sources": sources, "generated": generated, "letters": letters, "status": store.read(),
            "tested": (tested.returncode, results),
            "shown": shown, "preview_lines": outputs["preview --event -"].splitlines(), **dest}


def _commands_and_shutdown(pipeline: Any) -> tuple[dict[str, str], list[dict[str, Any]]]:
    """The output of every command that shows stored data, while the router and the worker shut
    down (which takes seconds; no command needs them). Dead-letter commands run one at a time:
    they take the messages out while they read them."""
    stdin = json.dumps(sm.event("evt-preview"))
    parallel = {args: cli_start(pipeline.env, args) for args in (
        ("preview", "--event", "-"), ("preview", "--show-secrets", "--event", "-"), ("status", "--json"), ("status",),
        ("check-config",))}
    stopping = [pipeline.procs.pop(name) for name in list(pipeline.procs)]
    for proc in stopping:
        proc.send_signal(signal.SIGTERM)
    outputs = {"dead-letters list --json": cli_finish(cli_start(pipeline.env, ("dead-letters", "list", "--json")))}
    letters = [json.loads(line) for line in outputs["dead-letters list --json"].splitlines() if line.startswith("{")]
    for args in [("dead-letters", "list")] + [("dead-letters", "show", d["id"]) for d in letters if d["uid"] in SHOWN]:
        outputs[" ".join(args)] = cli_finish(cli_start(pipeline.env, args))
    outputs.update({" ".join(args): cli_finish(proc, stdin if args[0] == "preview" else "") for args, proc in parallel.items()})
    for proc in stopping:
        proc.wait(timeout=30)
    return outputs, letters


def read_queue(url: str, queue: str) -> str:
    """Every ready message of ``queue`` (properties with headers, and body) as text; left in place."""
    return "\n".join(f"{props!r}\n{body.decode(errors='replace')}" for props, body in peek(url, queue))


def scrape(port: int) -> str:
    """The metrics page, or "" while the endpoint is not up yet (the worker's starts in a fork of its own)."""
    try:
        return urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    except OSError:
        return ""


def cli_start(env: dict[str, str], args: tuple[str, ...]) -> subprocess.Popen[str]:
    """``alertrelay ARGS`` started in the background (commands run side by side save Python start-ups)."""
    return subprocess.Popen([sys.executable, "-m", "alertrelay", *args], env=env, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def cli_finish(proc: subprocess.Popen[str], stdin: str = "") -> str:
    """The command's stdout + stderr; it must have succeeded."""
    out, err = proc.communicate(stdin, timeout=60)
    assert proc.returncode == 0, f"{' '.join(proc.args[3:])} exited {proc.returncode}:\n{out}\n{err}"
    return out + err


def _assert_no_leak(run: dict[str, Any]) -> None:
    found = sm.leaks(run["sources"], run["generated"].markers)
    assert not found, "secrets leaked:\n" + "\n".join(found)


def test_successful_deliveries_leak_no_secret(destinations, pipeline_factory, broker, redis_url):
    run = _run("ok", destinations, pipeline_factory, broker, redis_url)
    _assert_no_leak(run)
    assert run["letters"] == []
    assert {r["uid"] for r in run["status"] if int(r.get("delivered") or 0)} == {e.uid for e in sm.ENTRIES}
    # The secrets really were used: the receivers saw them, and --show-secrets shows them.
    markers = set(run["generated"].markers)
    assert sm.seen(run["receiver"].received, markers) == markers - sm.NOT_SENT_OVER_HTTP
    assert sm.seen(run["smtp"].auth_lines, markers) == {sm.SMTP_PASSWORD.removesuffix(sm.ENCODED_SUFFIX)}
    assert len(run["smtp"].messages) == 2  # the job, and test-contact-point's test notification
    assert len(run["preview_lines"]) == JOBS
    assert sm.seen([run["shown"]], markers) >= {
        sm.marker("telegram", "bottoken"), sm.marker("pagerduty", "integrationKey"), sm.marker("threema", "api_secret"),
        sm.marker("webhook-urlcreds", "url.password"), sm.marker("alertmanager-urlcreds", "url.password"),
    }
    assert "alertrelay_deliveries" in run["sources"]["worker metrics"]
    code, results = run["tested"]  # Grafana's test notification through every integration: all accepted
    assert code == 0 and len(results) == JOBS and {r["status"] for r in results} == {"ok"}
    assert {r["uid"] for r in results} == {e.uid for e in sm.ENTRIES}


def test_failed_deliveries_that_echo_everything_leak_no_secret(destinations, pipeline_factory, broker, redis_url):
    run = _run("fail", destinations, pipeline_factory, broker, redis_url)
    _assert_no_leak(run)
    assert len(run["letters"]) == JOBS
    markers = set(run["generated"].markers)
    # The receivers did echo the secrets back, so redaction really was exercised.
    assert sm.seen(run["receiver"].answered, markers) == markers - sm.NOT_SENT_OVER_HTTP
    assert len(run["smtp"].auth_lines) >= 2 and not run["smtp"].messages
    assert {letter["uid"] for letter in run["letters"]} == {e.uid for e in sm.ENTRIES}
    code, results = run["tested"]  # the test notification reports each failure with the destination's answer
    assert code == 1 and len(results) == JOBS and {r["status"] for r in results} == {"failed"}
    assert all(r["error"] for r in results)
    dead = run["sources"][f"queue {topology.DEAD_LETTER_QUEUE}"]
    assert sm.redacted_count(dead) >= JOBS - 1  # all but MQTT's refused connection carried a secret back
