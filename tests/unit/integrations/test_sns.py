"""SNS Publish calls built without a network: whole parameter sets, truncation, signing, error mapping."""

import hashlib
import json
from datetime import datetime, timezone
from urllib.parse import parse_qsl

import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials, ReadOnlyCredentials
from pydantic import ValidationError

from contracts.event import normalise, parse_event
from contracts.integrations.sns import SnsSettings
from workers.delivery.errors import DeliveryError
from workers.delivery.rendering import Rendering
from workers.delivery.templates import Templates
from workers.integrations import sns

NOW = datetime(2024, 5, 1, 10, 30, tzinfo=timezone.utc)
TOPIC = "arn:aws:sns:eu-west-1:123456789012:alerts"
ACCESS, SECRET = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
GROUP_KEY = '{}:{alertname="Disk"}'
MESSAGE = (
    "**Firing**\n\nValue: [no value]\nLabels:\n - alertname = Disk\n - instance = a\nAnnotations:\n"
    " - summary = disk a full\n"
)


def rendering(*instances: str, resolved: bool = False, summary: str = "disk {i} full") -> Rendering:
    alerts = [
        {"labels": {"alertname": "Disk", "instance": i}, "annotations": {"summary": summary.format(i=i)},
         "startsAt": "2024-05-01T10:00:00Z", **({"endsAt": "2024-05-01T10:20:00Z"} if resolved else {})}
        for i in instances
    ]
    event = parse_event(json.dumps({"receiver": "ops", "alerts": alerts}).encode())
    return Rendering(normalise(event, NOW), Templates(), NOW, 1)


def settings(**kw) -> SnsSettings:
    return SnsSettings.model_validate({"topic_arn": TOPIC, "sigv4": {"region": "eu-west-1", "access_key": ACCESS,
                                                                     "secret_key": SECRET}, **kw})


def test_default_publish_parameters():
    request = sns.build(rendering("a"), settings(attributes={"team": "ops", "severity": "{{ CommonLabels.alertname }}"}))
    assert request.action == "Publish"
    assert request.params == {
        "Message": MESSAGE,
        "MessageAttributes.entry.1.Name": "severity",
        "MessageAttributes.entry.1.Value.DataType": "String",
        "MessageAttributes.entry.1.Value.StringValue": "Disk",
        "MessageAttributes.entry.2.Name": "team",
        "MessageAttributes.entry.2.Value.DataType": "String",
        "MessageAttributes.entry.2.Value.StringValue": "ops",
        "Subject": "[FIRING:1] Disk (a)",
        "TopicArn": TOPIC,
        "Version": "2010-03-31",
    }
    assert list(request.params) == sorted(request.params)
    assert request.preview([], False) == {"action": "Publish", "params": request.params}


def test_wire_body_is_sorted_form_encoding():
    request = sns.build(rendering("a"), settings(subject="a+b & c"))
    body = request.body().decode()
    assert body.startswith("Action=Publish&Message=%2A%2AFiring%2A%2A%0A%0AValue%3A+%5Bno+value%5D")
    assert "&MessageAttributes=&Subject=a%2Bb+%26+c&TopicArn=arn%3Aaws%3Asns%3Aeu-west-1%3A123456789012%3Aalerts" in body
    assert body.endswith("&Version=2010-03-31")
    assert dict(parse_qsl(body, keep_blank_values=True)) == {"Action": "Publish", **request.params}


def test_resolved_and_templated_targets():
    s = settings(topic_arn="", target_arn="arn:aws:sns:eu-west-1:1:endpoint/APNS/app/{{ CommonLabels.instance }}",
                 phone_number="", subject="{{ Status }}", message="{{ CommonAnnotations.summary }}")
    request = sns.build(rendering("a", resolved=True), s)
    assert request.params == {
        "Message": "disk a full",
        "MessageAttributes": "",
        "Subject": "resolved",
        "TargetArn": "arn:aws:sns:eu-west-1:1:endpoint/APNS/app/a",
        "Version": "2010-03-31",
    }


def test_fifo_topic_gets_group_and_dedup_ids():
    params = sns.build(rendering("a"), settings(topic_arn=TOPIC + ".fifo")).params
    digest = hashlib.sha256(GROUP_KEY.encode()).hexdigest()
    assert params["MessageGroupId"] == params["MessageDeduplicationId"] == digest
    assert "MessageGroupId" not in sns.build(rendering("a"), settings()).params


def test_sms_message_truncated_to_1600_bytes_without_splitting_a_character():
    s = settings(topic_arn="", phone_number="+15555550100", message="é" * 1000, subject="{{ '' }}")
    params = sns.build(rendering("a"), s).params
    assert params["PhoneNumber"] == "+15555550100"
    assert params["Message"] == "é" * 800 and len(params["Message"].encode()) == 1600
    assert "Subject" not in params  # an empty subject is left out
    assert params["MessageAttributes.entry.1.Name"] == "truncated"
    assert params["MessageAttributes.entry.1.Value.StringValue"] == "true"
    odd = sns.build(rendering("a"), settings(topic_arn="", phone_number="+1", message="x" + "é" * 1000)).params
    assert odd["Message"] == "x" + "é" * 799  # 1599 bytes: the half character is dropped


def test_long_message_and_subject_are_cut_in_bytes_with_attributes():
    s = settings(message="m" * (256 * 1024 + 5), subject="€" * 40, attributes={"zone": "eu"})
    params = sns.build(rendering("a"), s).params
    assert params["Message"] == "m" * (256 * 1024)
    assert params["Subject"] == "€" * 33  # 99 bytes: a 34th euro sign would need 102
    names = [params[f"MessageAttributes.entry.{n}.Name"] for n in (1, 2, 3)]
    assert names == ["subject_truncated", "truncated", "zone"]
    assert sns.truncate_bytes("short", 100) == ("short", False)


def test_non_utf8_text_is_a_permanent_error():
    with pytest.raises(DeliveryError) as caught:
        sns.build(rendering("a"), settings(message="bad \ud800 surrogate"))
    assert caught.value.kind == "permanent" and "non utf8" in caught.value.message


@pytest.mark.parametrize(
    "bad, message",
    [
        ({}, "must specify topic_arn, target_arn, or phone_number"),
        ({"topic_arn": "alerts"}, "invalid topic ARN"),
        ({"target_arn": "arn:aws:sns"}, "invalid target ARN"),
        ({"topic_arn": TOPIC, "sigv4": {"access_key": "AK"}}, "both access key and secret key"),
        ({"topic_arn": TOPIC, "sigv4": {"secret_key": "SK"}}, "both access key and secret key"),
    ],
)
def test_invalid_settings(bad, message):
    with pytest.raises(ValidationError, match=message):
        SnsSettings.model_validate(bad)


def test_settings_defaults_secrets_and_templated_fields():
    s = settings(subject="", message=None, attributes={"{{ CommonLabels.team }}": "x"})
    assert s.subject == '{{ template("default.title") }}' and s.message == '{{ template("default.message") }}'
    assert set(s.secret_values()) == {ACCESS, SECRET}
    assert SECRET not in repr(s)
    assert "attributes.{{ CommonLabels.team }} (name)" in s.templated()


@pytest.mark.parametrize(
    "extra, env, url",
    [
        ({}, {}, "https://sns.eu-west-1.amazonaws.com/"),
        ({}, {"ALERTRELAY_API_URL_SNS": "http://127.0.0.1:9000"}, "http://127.0.0.1:9000/"),
        ({"api_url": "https://vpce-1.sns.eu-west-1.vpce.amazonaws.com"}, {"ALERTRELAY_API_URL_SNS": "http://x"},
         "https://vpce-1.sns.eu-west-1.vpce.amazonaws.com/"),
        ({"api_url": "sns.example.com/"}, {}, "https://sns.example.com/"),
    ],
)
def test_endpoint(monkeypatch, extra, env, url):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert sns.endpoint(settings(**extra), "eu-west-1") == url


def test_china_endpoint():
    assert sns.endpoint(settings(), "cn-north-1") == "https://sns.cn-north-1.amazonaws.com.cn/"


def test_missing_region_is_permanent(monkeypatch, tmp_path):
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    with pytest.raises(DeliveryError) as caught:
        sns.resolve_region(settings(sigv4={}))
    assert caught.value.kind == "permanent" and "region not configured" in caught.value.message
    monkeypatch.setenv("AWS_REGION", "us-east-2")
    assert sns.resolve_region(settings(sigv4={})) == "us-east-2"


def test_static_credentials_and_a_valid_signature():
    credentials = sns.resolve_credentials(settings(), "eu-west-1")
    assert (credentials.access_key, credentials.secret_key, credentials.token) == (ACCESS, SECRET, None)
    url, body = "https://sns.eu-west-1.amazonaws.com/", b"Action=Publish&Version=2010-03-31"
    headers = sns.signed_headers(url, body, credentials, "eu-west-1")
    assert headers["Content-Type"] == "application/x-www-form-urlencoded; charset=utf-8"
    auth = headers["Authorization"]
    assert auth.startswith(f"AWS4-HMAC-SHA256 Credential={ACCESS}/")
    assert "/eu-west-1/sns/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=" in auth
    # Recompute the signature from what would be received.
    check = AWSRequest(method="POST", url=url, data=body, headers={"Content-Type": headers["Content-Type"],
                                                                      "X-Amz-Date": headers["X-Amz-Date"]})
    check.context["timestamp"] = headers["X-Amz-Date"]
    signer = SigV4Auth(Credentials(ACCESS, SECRET), "sns", "eu-west-1")
    expected = signer.signature(signer.string_to_sign(check, signer.canonical_request(check)), check)
    assert auth.endswith("Signature=" + expected)
    assert SECRET not in json.dumps(headers)


def test_session_token_is_sent():
    headers = sns.signed_headers("https://x/", b"", ReadOnlyCredentials("ASIA1", "s", "TOKEN"), "eu-west-1")
    assert headers["X-Amz-Security-Token"] == "TOKEN"
    assert "x-amz-security-token" in headers["Authorization"]


def response(status: int, body: str, headers: dict | None = None) -> httpx.Response:
    return httpx.Response(status, text=body, headers=headers or {}, request=httpx.Request("POST", "https://x/"))


def error_xml(code: str, message: str) -> str:
    return (f'<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>Sender</Type>'
            f"<Code>{code}</Code><Message>{message}</Message></Error><RequestId>r-1</RequestId></ErrorResponse>")


@pytest.mark.parametrize(
    "status, code, kind",
    [
        (400, "InvalidParameter", "permanent"),
        (403, "AuthorizationError", "permanent"),
        (404, "NotFound", "permanent"),
        (400, "Throttling", "transient"),
        (400, "KMSThrottling", "transient"),
        (429, "ThrottledException", "transient"),
        (500, "InternalError", "transient"),
        (503, "ServiceUnavailable", "transient"),
    ],
)
def test_error_classification(status, code, kind):
    error = sns.error_from(response(status, error_xml(code, "Invalid parameter: TopicArn &amp; more")))
    assert (error.kind, error.status_code) == (kind, status)
    assert f"failed to publish to Amazon SNS: {status} " in error.message
    assert error.message.endswith(f"{code}: Invalid parameter: TopicArn & more")


def test_retry_after_and_non_xml_body():
    error = sns.error_from(response(503, "upstream down", {"Retry-After": "7"}))
    assert error.transient and error.retry_after == 7.0
    assert error.message == "failed to publish to Amazon SNS: 503 Service Unavailable: upstream down"


def test_connection_refused_is_transient_and_secret_free(monkeypatch):
    monkeypatch.setenv("ALERTRELAY_API_URL_SNS", "http://127.0.0.1:1")
    s = settings()
    with pytest.raises(DeliveryError) as caught:
        sns.send(sns.build(rendering("a"), s), s)
    assert caught.value.kind == "transient" and "connection error" in caught.value.message
    assert SECRET not in caught.value.message and ACCESS not in caught.value.message
