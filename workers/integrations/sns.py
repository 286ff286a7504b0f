"""Amazon SNS (``type: sns``): a SigV4-signed ``Publish`` call of the SNS Query API.

Settings: :class:`contracts.integrations.sns.SnsSettings`. Request: what aws-sdk-go v1 (which
Grafana uses) puts on the wire: ``POST https://sns.<region>.amazonaws.com/`` (or ``api_url``,
or ``ALERTRELAY_API_URL_SNS``) with the form ``Action=Publish&Version=2010-03-31&TopicArn=…
&Subject=…&Message=…&MessageAttributes.entry.N.Name=…`` in sorted key order, signed with
Signature Version 4 by botocore. The message is cut to 256 KiB (1600 bytes for SMS) and the
subject to 100 bytes, adding the ``truncated`` / ``subject_truncated`` attributes, as in
Grafana; a FIFO topic (``.fifo``) gets ``MessageGroupId`` and ``MessageDeduplicationId`` set
to the SHA-256 of the group key.

Credentials: the static ``sigv4.access_key``/``secret_key``, else botocore's default chain
(environment, shared files with ``sigv4.profile``, instance role); with ``sigv4.role_arn``
those credentials assume the role through STS (cached until they expire).

Success: any 2xx. Failure: the XML error's ``<Code>`` and ``<Message>`` in the error text;
408, 429, 5xx, throttling codes and connection errors are transient, other 4xx permanent.
"""

from __future__ import annotations

import functools
import hashlib
import html
import logging
import os
import re
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import botocore.session
import httpx
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import (
    AssumeRoleCredentialFetcher,
    Credentials,
    DeferredRefreshableCredentials,
    ReadOnlyCredentials,
)
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    InvalidConfigError,
    NoCredentialsError,
    PartialCredentialsError,
    ProfileNotFound,
)

from contracts.integrations.sns import SnsSettings
from workers.delivery import http
from workers.delivery.endpoints import api_url
from workers.delivery.errors import (
    TRANSIENT_STATUS,
    DeliveryError,
    body_excerpt,
    from_transport,
    permanent,
    retry_after_seconds,
    transient,
)
from workers.delivery.rendering import Rendering
from workers.delivery.request import mask

API_VERSION = "2010-03-31"
CONTENT_TYPE = "application/x-www-form-urlencoded; charset=utf-8"
MESSAGE_LIMIT = 256 * 1024
SMS_LIMIT = 1600
SUBJECT_LIMIT = 100
#: AWS error codes that say "later", whatever the status code (botocore's retry list, in short).
TRANSIENT_CODES = frozenset({
    "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException", "TooManyRequestsException",
    "RequestLimitExceeded", "RequestThrottled", "KMSThrottling", "SlowDown", "PriorRequestNotComplete",
    "InternalError", "InternalFailure", "ServiceUnavailable", "RequestTimeout", "RequestTimeoutException",
    "RequestTimeTooSkewed", "RequestExpired", "RequestInTheFuture", "ExpiredToken", "IDPCommunicationError",
})

log = logging.getLogger("alertrelay.sns")


class _NoDebug(logging.Filter):
    """botocore logs whole STS answers (temporary keys, session tokens) and canonical requests
    (the session token) at DEBUG; those records never reach alertrelay's logs."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > logging.DEBUG


_NO_DEBUG = _NoDebug()
for _name in ("botocore.auth", "botocore.endpoint", "botocore.parsers"):
    logging.getLogger(_name).addFilter(_NO_DEBUG)
_assumed: dict[tuple[str, ...], Credentials] = {}
_assumed_lock = threading.Lock()


@dataclass
class SnsRequest:
    """A Query-API call: its action and its parameters as they go on the wire (sorted)."""

    action: str
    params: dict[str, str]

    def body(self) -> bytes:
        """The form body, keys sorted as Go's ``url.Values.Encode`` sorts them."""
        return urlencode(sorted({"Action": self.action, **self.params}.items())).encode()

    def preview(self, secrets: list[str], show_secrets: bool = False) -> dict[str, Any]:
        """``{"action", "params"}``, secrets masked."""
        view = {"action": self.action, "params": dict(self.params)}
        return view if show_secrets else mask(view, secrets)


def build(rendering: Rendering, settings: SnsSettings) -> SnsRequest:
    """The ``Publish`` parameters Grafana's SNS notifier would send."""
    data = rendering.template_data()

    def render(source: str) -> str:
        return rendering.render(source, data)

    params: dict[str, str] = {}
    attributes = {render(name): render(value) for name, value in settings.attributes.items()}
    limit = MESSAGE_LIMIT
    if settings.topic_arn:
        topic = render(settings.topic_arn)
        params["TopicArn"] = topic
        if topic.endswith(".fifo"):
            key = rendering.group_key_hash
            params["MessageDeduplicationId"] = key
            params["MessageGroupId"] = key
    if settings.phone_number:
        params["PhoneNumber"] = render(settings.phone_number)
        limit = SMS_LIMIT
    if settings.target_arn:
        params["TargetArn"] = render(settings.target_arn)
    message, cut = truncate_bytes(_utf8(render(settings.message), "message"), limit)
    if cut:
        attributes["truncated"] = "true"
    subject, cut = truncate_bytes(_utf8(render(settings.subject), "subject"), SUBJECT_LIMIT)
    if cut:
        attributes["subject_truncated"] = "true"
    if subject:
        params["Subject"] = subject
    params["Message"] = message
    params.update(attribute_params(attributes))
    params["Version"] = API_VERSION
    return SnsRequest("Publish", dict(sorted(params.items())))


def send(request: SnsRequest, settings: SnsSettings) -> None:
    """Sign and POST the call; a non-2xx answer raises a classified :class:`DeliveryError`."""
    region = resolve_region(settings)
    url = endpoint(settings, region)
    body = request.body()
    headers = signed_headers(url, body, resolve_credentials(settings, region), region)
    try:
        response = http.client(True).post(url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        raise from_transport(exc) from None
    if not 200 <= response.status_code < 300:
        raise error_from(response)
    found = re.search(r"<MessageId>([^<]+)</MessageId>", response.text)
    log.debug("SNS accepted the message (MessageId %s)", found.group(1) if found else "?")


# --- parameters ---------------------------------------------------------------------------


def attribute_params(attributes: dict[str, str]) -> dict[str, str]:
    """``MessageAttributes`` the way aws-sdk-go serialises a map: entries numbered in name order.

    An empty map is sent as an empty ``MessageAttributes=`` (Grafana always sets the map).
    """
    if not attributes:
        return {"MessageAttributes": ""}
    params = {}
    for number, name in enumerate(sorted(attributes), start=1):
        prefix = f"MessageAttributes.entry.{number}"
        params[f"{prefix}.Name"] = name
        params[f"{prefix}.Value.DataType"] = "String"
        params[f"{prefix}.Value.StringValue"] = attributes[name]
    return params


def truncate_bytes(text: str, limit: int) -> tuple[str, bool]:
    """At most ``limit`` UTF-8 bytes, no marker (as Grafana), never splitting a character."""
    encoded = text.encode()
    if len(encoded) <= limit:
        return text, False
    return encoded[:limit].decode("utf-8", errors="ignore"), True


def _utf8(text: str, what: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise permanent(f"{what} validation failed: non utf8 encoded string") from None
    return text


# --- endpoint, credentials, signature -----------------------------------------------------


def _session(profile: str) -> botocore.session.Session:
    return botocore.session.Session(profile=profile or None)


def resolve_region(settings: SnsSettings) -> str:
    """``sigv4.region``, else ``AWS_REGION`` (read by Grafana's Go SDK), else botocore's chain
    (``AWS_DEFAULT_REGION``, the shared config file and ``sigv4.profile``)."""
    region = settings.sigv4.region or os.environ.get("AWS_REGION", "").strip()
    if not region:
        try:
            region = _session(settings.sigv4.profile).get_config_variable("region") or ""
        except (ProfileNotFound, InvalidConfigError) as exc:
            raise permanent(f"AWS configuration: {exc}") from None
    if not region:
        raise permanent("region not configured in sns.sigv4.region or in default credentials chain")
    return region


def endpoint(settings: SnsSettings, region: str) -> str:
    """``api_url`` as given (as Grafana), else the regional endpoint, overridable for tests."""
    if settings.api_url:
        url = settings.api_url.strip()
        url = url if "://" in url else "https://" + url
        return url.rstrip("/") + "/"
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return api_url("sns", f"https://sns.{region}.{suffix}/")


def resolve_credentials(settings: SnsSettings, region: str) -> ReadOnlyCredentials:
    """The credentials to sign with (static, default chain, or an assumed role), frozen."""
    sig = settings.sigv4
    try:
        source = Credentials(*sig.static_keys) if sig.static_keys else None
        if sig.role_arn:
            credentials = _assumed_role(settings, region, source)
        else:
            credentials = source or _session(sig.profile).get_credentials()
        if credentials is None:
            raise permanent("no AWS credentials: set sigv4.access_key and sigv4.secret_key, or use the default chain")
        return credentials.get_frozen_credentials()
    except ClientError as exc:
        raise _client_error(exc) from None
    except (NoCredentialsError, PartialCredentialsError, ProfileNotFound, InvalidConfigError) as exc:
        raise permanent(f"AWS credentials: {exc}") from None
    except BotoCoreError as exc:
        raise transient(f"AWS credentials: {type(exc).__name__}: {exc}") from None


def _assumed_role(settings: SnsSettings, region: str, source: Credentials | None) -> Credentials:
    """Refreshable credentials of ``role_arn``, one set per role and source, reused until expiry."""
    sig = settings.sigv4
    if source is None:
        source = _session(sig.profile).get_credentials()
        if source is None:
            raise permanent("no AWS credentials to assume sigv4.role_arn with")
    fingerprint = hashlib.sha256(f"{source.access_key}\0{source.secret_key}".encode()).hexdigest()
    key = (sig.role_arn, sig.external_id, region, sig.profile, fingerprint)
    with _assumed_lock:
        credentials = _assumed.get(key)
        if credentials is None:
            fetcher = AssumeRoleCredentialFetcher(
                client_creator=functools.partial(_session(sig.profile).create_client, region_name=region),
                source_credentials=source,
                role_arn=sig.role_arn,
                extra_args={"ExternalId": sig.external_id} if sig.external_id else {},
            )
            credentials = DeferredRefreshableCredentials(method="assume-role", refresh_using=fetcher.fetch_credentials)
            _assumed[key] = credentials
    return credentials


def _client_error(exc: ClientError) -> DeliveryError:
    """An STS answer (AssumeRole): classified by its status code and error code."""
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    code = str(exc.response.get("Error", {}).get("Code") or "")
    kind = "transient" if status in TRANSIENT_STATUS or code in TRANSIENT_CODES else "permanent"
    return DeliveryError(kind, f"AWS STS AssumeRole failed: {exc}", status_code=status or None)  # type: ignore[arg-type]


def signed_headers(url: str, body: bytes, credentials: ReadOnlyCredentials, region: str) -> dict[str, str]:
    """``Content-Type``, ``X-Amz-Date``, ``Authorization`` (and the session token) for this call."""
    request = AWSRequest(method="POST", url=url, data=body, headers={"Content-Type": CONTENT_TYPE})
    signer = SigV4Auth(Credentials(credentials.access_key, credentials.secret_key, credentials.token), "sns", region)
    signer.add_auth(request)
    return {**dict(request.headers.items()), "User-Agent": http.USER_AGENT}


# --- errors -------------------------------------------------------------------------------


def _xml_field(text: str, name: str) -> str:
    found = re.search(rf"<{name}>\s*([^<]*?)\s*</{name}>", text)
    return html.unescape(found.group(1)) if found else ""


def error_from(response: httpx.Response) -> DeliveryError:
    """The error for a non-2xx answer, from the XML ``<Code>`` and ``<Message>``."""
    excerpt = body_excerpt(response)
    code, message = _xml_field(excerpt, "Code"), _xml_field(excerpt, "Message")
    detail = f"{code}: {message}" if code else excerpt
    kind = "transient" if response.status_code in TRANSIENT_STATUS or code in TRANSIENT_CODES else "permanent"
    return DeliveryError(
        kind,  # type: ignore[arg-type]
        f"failed to publish to Amazon SNS: {response.status_code} {response.reason_phrase}: {detail}".rstrip(": "),
        status_code=response.status_code,
        body_excerpt=excerpt,
        retry_after=retry_after_seconds(response),
    )
