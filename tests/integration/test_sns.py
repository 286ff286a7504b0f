"""SNS against a local endpoint that checks SigV4 like AWS does and records the Publish parameters.

There is no AWS here: a pytest-httpserver handler plays SNS (and STS for AssumeRole). It
recomputes each request's signature with botocore from what it received and the known test
credentials, refuses a bad one, and keeps the form parameters.
"""

from __future__ import annotations

import json
import logging
import os
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from werkzeug import Request, Response

from contracts.event import normalise, parse_event
from contracts.integrations.sns import SnsSettings
from tests.harness import cli
from workers.delivery.errors import DeliveryError
from workers.delivery.rendering import Rendering
from workers.delivery.templates import Templates
from workers.integrations import sns

pytestmark = pytest.mark.integration

REGION = "eu-west-1"
TOPIC = "arn:aws:sns:eu-west-1:123456789012:alerts"
ACCESS, SECRET = "AKIAALERTRELAYTEST01", "test/Secret+Key/DoNotLeak0123456789abcdef"
ROLE_ACCESS, ROLE_SECRET, ROLE_TOKEN = "ASIAALERTRELAYROLE01", "role/Secret+Key/DoNotLeak9876543210", "FwoGZXIvYXdzEXAMPLETOKEN"
EVENT = {
    "receiver": "ops-team",
    "externalURL": "https://grafana.example.com/",
    "alerts": [
        {
            "labels": {"alertname": "HighCPU", "grafana_folder": "Infra", "instance": "web-1"},
            "annotations": {"summary": "CPU at 97.5% & rising"},
            "startsAt": "2024-05-01T10:00:00Z",
            "generatorURL": "https://grafana.example.com/alerting/grafana/cpu/view",
        }
    ],
}
MESSAGE = (
    "**Firing**\n\nValue: [no value]\nLabels:\n - alertname = HighCPU\n - grafana_folder = Infra\n - instance = web-1\n"
    "Annotations:\n - summary = CPU at 97.5% & rising\nSource: https://grafana.example.com/alerting/grafana/cpu/view\n"
    "Silence: https://grafana.example.com/alerting/silence/new?alertmanager=grafana&matcher=alertname%3DHighCPU"
    "&matcher=grafana_folder%3DInfra&matcher=instance%3Dweb-1\n"
)
PUBLISH = {
    "Action": "Publish",
    "Message": MESSAGE,
    "MessageAttributes.entry.1.Name": "instance",
    "MessageAttributes.entry.1.Value.DataType": "String",
    "MessageAttributes.entry.1.Value.StringValue": "web-1",
    "MessageAttributes.entry.2.Name": "team",
    "MessageAttributes.entry.2.Value.DataType": "String",
    "MessageAttributes.entry.2.Value.StringValue": "ops",
    "Subject": "[FIRING:1] HighCPU Infra (web-1)",
    "TopicArn": TOPIC,
    "Version": "2010-03-31",
}
AUTHORIZATION = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request, "
    r"SignedHeaders=(?P<signed>[a-z0-9;-]+), Signature=(?P<signature>[0-9a-f]{64})"
)


def error_xml(code: str, message: str) -> str:
    return (f'<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>Sender</Type>'
            f"<Code>{code}</Code><Message>{message}</Message></Error><RequestId>req-1</RequestId></ErrorResponse>")


class FakeAws:
    """SNS Publish and STS AssumeRole on one local endpoint, checking every signature."""

    def __init__(self) -> None:
        self.keys = {ACCESS: (SECRET, None), ROLE_ACCESS: (ROLE_SECRET, ROLE_TOKEN)}
        self.calls: list[dict[str, Any]] = []
        self.publish_reply: tuple[int, str, dict[str, str]] | None = None
        self.assume_role_reply: tuple[int, str] | None = None

    def verify(self, request: Request, body: bytes) -> dict[str, str]:
        """Recompute the SigV4 signature from the received request; raise on any mismatch."""
        match = AUTHORIZATION.fullmatch(request.headers.get("Authorization", ""))
        assert match, f"no SigV4 Authorization header: {request.headers.get('Authorization')!r}"
        secret, token = self.keys[match["key"]]
        assert request.headers.get("X-Amz-Security-Token") == token
        stamp = request.headers["X-Amz-Date"]
        sent = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
        assert abs(datetime.now(timezone.utc) - sent) < timedelta(minutes=5) and stamp[:8] == match["date"]
        headers = {name: request.headers[name] for name in match["signed"].split(";")}
        assert "host" in headers and "x-amz-date" in headers
        received = AWSRequest(method=request.method, url=request.url, data=body, headers=headers)
        received.context["timestamp"] = stamp
        signer = SigV4Auth(Credentials(match["key"], secret, token), match["service"], match["region"])
        expected = signer.signature(signer.string_to_sign(received, signer.canonical_request(received)), received)
        assert match["signature"] == expected, "signature mismatch"
        return match.groupdict()

    def __call__(self, request: Request) -> Response:
        body = request.get_data()
        params = dict(parse_qsl(body.decode(), keep_blank_values=True))
        try:
            auth = self.verify(request, body)
        except AssertionError as exc:
            self.calls.append({"params": params, "valid": False, "why": str(exc)})
            return Response(error_xml("SignatureDoesNotMatch", "The request signature we calculated does not match"), 403)
        self.calls.append({"params": params, "valid": True, "auth": auth, "content_type": request.headers["Content-Type"]})
        if params.get("Action") == "AssumeRole":
            return self.assume_role(params)
        if self.publish_reply:
            status, text, headers = self.publish_reply
            return Response(text, status, headers=headers, content_type="text/xml")
        return Response(
            '<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult>'
            "<MessageId>94f20ce6-13c5-43a0-9a9e-ca52d816e90b</MessageId></PublishResult>"
            "<ResponseMetadata><RequestId>req-2</RequestId></ResponseMetadata></PublishResponse>",
            200, content_type="text/xml",
        )

    def assume_role(self, params: dict[str, str]) -> Response:
        if self.assume_role_reply:
            status, text = self.assume_role_reply
            return Response(text, status, content_type="text/xml")
        expires = (datetime.now(timezone.utc) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        return Response(
            '<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult><Credentials>'
            f"<AccessKeyId>{ROLE_ACCESS}</AccessKeyId><SecretAccessKey>{ROLE_SECRET}</SecretAccessKey>"
            f"<SessionToken>{ROLE_TOKEN}</SessionToken><Expiration>{expires}</Expiration></Credentials>"
            f"<AssumedRoleUser><AssumedRoleId>AROAEXAMPLE:alertrelay</AssumedRoleId><Arn>{params['RoleArn']}/s</Arn>"
            "</AssumedRoleUser></AssumeRoleResult><ResponseMetadata><RequestId>req-3</RequestId></ResponseMetadata>"
            "</AssumeRoleResponse>",
            200, content_type="text/xml",
        )


@pytest.fixture
def aws(make_receiver, monkeypatch, tmp_path) -> FakeAws:  # type: ignore[no-untyped-def]
    """The fake endpoint, with SNS and STS pointed at it and no real AWS configuration in sight."""
    fake = FakeAws()
    server = make_receiver()
    server.expect_request("/", method="POST").respond_with_handler(fake)
    url = server.url_for("/").rstrip("/")
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", url)
    monkeypatch.setenv("ALERTRELAY_API_URL_SNS", url)
    monkeypatch.setattr(sns, "_assumed", {})
    return fake


def settings(**extra: Any) -> SnsSettings:
    sigv4 = {"region": REGION, "access_key": ACCESS, "secret_key": SECRET, **extra.pop("sigv4", {})}
    return SnsSettings.model_validate({
        "topic_arn": TOPIC, "sigv4": sigv4,
        "attributes": {"team": "ops", "{{ 'instance' }}": "{{ CommonLabels.instance }}"}, **extra,
    })


def build(model: SnsSettings) -> sns.SnsRequest:
    now = datetime(2024, 5, 1, 10, 30, tzinfo=timezone.utc)
    return sns.build(Rendering(normalise(parse_event(json.dumps(EVENT).encode()), now), Templates(), now, 1), model)


def test_publish_is_signed_and_carries_grafanas_parameters(aws, caplog):
    caplog.set_level(logging.DEBUG)
    model = settings()
    sns.send(build(model), model)
    assert len(aws.calls) == 1
    call = aws.calls[0]
    assert call["valid"], call.get("why")
    assert call["auth"]["key"] == ACCESS and call["auth"]["region"] == REGION and call["auth"]["service"] == "sns"
    assert call["auth"]["signed"] == "content-type;host;x-amz-date"
    assert call["content_type"] == "application/x-www-form-urlencoded; charset=utf-8"
    assert call["params"] == PUBLISH
    assert SECRET not in caplog.text


def test_a_tampered_request_fails_the_signature_check(aws, monkeypatch):
    model = settings()
    request = build(model)
    original = sns.signed_headers

    def tampered(url, body, credentials, region):  # sign one body, send another
        return original(url, body + b"&Extra=1", credentials, region)

    monkeypatch.setattr(sns, "signed_headers", tampered)
    with pytest.raises(DeliveryError) as caught:
        sns.send(request, model)
    assert aws.calls[0]["valid"] is False and aws.calls[0]["why"].startswith("signature mismatch")
    assert caught.value.kind == "permanent" and caught.value.status_code == 403
    assert "SignatureDoesNotMatch" in caught.value.message


@pytest.mark.parametrize(
    "status, code, kind, retry_after",
    [
        (400, "InvalidParameter", "permanent", None),
        (404, "NotFound", "permanent", None),
        (400, "Throttling", "transient", None),
        (429, "ThrottledException", "transient", 3.0),
        (500, "InternalError", "transient", None),
    ],
)
def test_error_replies(aws, status, code, kind, retry_after):
    aws.publish_reply = (status, error_xml(code, "Invalid parameter: TopicArn"),
                         {"Retry-After": "3"} if retry_after else {})
    model = settings()
    with pytest.raises(DeliveryError) as caught:
        sns.send(build(model), model)
    error = caught.value
    assert (error.kind, error.status_code, error.retry_after) == (kind, status, retry_after)
    assert error.message.startswith(f"failed to publish to Amazon SNS: {status} ")
    assert error.message.endswith(f"{code}: Invalid parameter: TopicArn")
    assert SECRET not in error.message and SECRET not in (error.body_excerpt or "")


def test_assume_role_then_publish_with_the_temporary_credentials(aws, caplog):
    caplog.set_level(logging.DEBUG)
    role = "arn:aws:iam::123456789012:role/alertrelay-publisher"
    model = settings(sigv4={"role_arn": role, "external_id": "ext-42"})
    request = build(model)
    sns.send(request, model)
    sns.send(request, model)  # the assumed credentials are reused, not fetched again
    assert [c["params"]["Action"] for c in aws.calls] == ["AssumeRole", "Publish", "Publish"]
    assume, publish = aws.calls[0], aws.calls[1]
    assert all(c["valid"] for c in aws.calls), [c.get("why") for c in aws.calls]
    assert assume["auth"]["key"] == ACCESS and assume["auth"]["service"] == "sts" and assume["auth"]["region"] == REGION
    assert assume["params"]["RoleArn"] == role and assume["params"]["ExternalId"] == "ext-42"
    assert publish["auth"]["key"] == ROLE_ACCESS and "x-amz-security-token" in publish["auth"]["signed"]
    assert publish["params"] == PUBLISH
    for secret in (SECRET, ROLE_SECRET, ROLE_TOKEN):
        assert secret not in caplog.text


def test_assume_role_denied_is_permanent(aws):
    aws.assume_role_reply = (403, '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error>'
                                  "<Type>Sender</Type><Code>AccessDenied</Code><Message>not authorized to perform "
                                  "sts:AssumeRole</Message></Error><RequestId>r</RequestId></ErrorResponse>")
    model = settings(sigv4={"role_arn": "arn:aws:iam::123456789012:role/nope"})
    with pytest.raises(DeliveryError) as caught:
        sns.send(build(model), model)
    assert caught.value.kind == "permanent" and "AccessDenied" in caught.value.message
    assert SECRET not in caught.value.message
    assert [c["params"]["Action"] for c in aws.calls] == ["AssumeRole"]


def test_default_credential_chain_from_the_environment(aws, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_REGION", REGION)
    model = SnsSettings.model_validate({"topic_arn": TOPIC, "attributes": {"team": "ops", "instance": "web-1"}})
    sns.send(build(model), model)
    assert aws.calls[0]["valid"] and aws.calls[0]["auth"]["key"] == ACCESS and aws.calls[0]["params"] == PUBLISH


def test_preview(tmp_path: Path):
    config = tmp_path / "provisioning.yaml"
    config.write_text(
        f"""
apiVersion: 1
contactPoints:
  - name: ops-team
    receivers:
      - uid: ops-sns
        type: sns
        settings:
          topic_arn: {TOPIC}
          sigv4:
            region: {REGION}
            access_key: {ACCESS}
            secret_key: $SNS_SECRET
          attributes:
            team: ops
            instance: '{{{{ CommonLabels.instance }}}}'
"""
    )
    event = tmp_path / "event.json"
    event.write_text(json.dumps(EVENT))
    env = {**os.environ, "SNS_SECRET": SECRET}
    for flags in ((), ("--show-secrets",)):
        out = cli(env, "preview", "--config", str(config), "--event", str(event), "--now", "2024-05-01T10:30:00Z",
                  *flags).stdout
        line = json.loads(out)
        assert (line["uid"], line["type"]) == ("ops-sns", "sns")
        assert line["request"] == {"action": "Publish", "params": {k: v for k, v in PUBLISH.items() if k != "Action"}}
        assert SECRET not in out and ACCESS not in out
