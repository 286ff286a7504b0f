import httpx
import pytest

from workers.delivery.errors import DeliveryError, from_response, from_transport, kind_of_status, permanent, redact, transient
from workers.delivery.retry import MAX_DELAY_SECONDS, RetryPolicy


@pytest.mark.parametrize("code, kind", [(400, "permanent"), (401, "permanent"), (404, "permanent"), (408, "transient"),
                                        (429, "transient"), (500, "transient"), (503, "transient"), (422, "permanent")])
def test_status_classification(code, kind):
    assert kind_of_status(code) == kind


def test_response_error_reads_retry_after_and_body():
    response = httpx.Response(429, headers={"Retry-After": "7"}, content=b"x" * 2000)
    error = from_response(response)
    assert error.transient and error.retry_after == 7 and error.status_code == 429
    assert len(error.body_excerpt) == 1024 and error.message.startswith("webhook response status 429 Too Many Requests: xxx")


def test_transport_errors_are_transient_and_name_no_url():
    request = httpx.Request("POST", "https://hooks.slack.com/services/T0/B0/SECRET")
    error = from_transport(httpx.ConnectError("Connection refused", request=request))
    assert error.transient and "SECRET" not in error.message
    assert from_transport(httpx.ReadTimeout("timed out", request=request)).message.startswith("the receiver timed out")


def test_redaction():
    error = permanent("bad token abc123 at https://x/abc123", body_excerpt="echo abc123").redacted(["abc123"])
    assert "abc123" not in error.message + error.body_excerpt
    assert redact("a pw b", ["pw"]) == "a pw b", "secrets shorter than 3 characters are not redacted (too many false hits)"


def test_in_process_retries_then_success_and_permanent_stops_at_once():
    policy = RetryPolicy(in_process_attempts=3, in_process_max_wait=1)
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise transient("503")
        return "ok"

    assert policy.run(flaky) == "ok" and len(calls) == 3
    calls.clear()

    def broken():
        calls.append(1)
        raise permanent("400")

    with pytest.raises(DeliveryError):
        policy.run(broken)
    assert len(calls) == 1


def test_long_retry_after_goes_to_the_broker_and_delays_are_bounded():
    policy = RetryPolicy(in_process_attempts=3, in_process_max_wait=10, min_backoff=5, max_backoff=300)
    long_wait = transient("429", retry_after=120)
    calls = []

    def limited():
        calls.append(1)
        raise long_wait

    with pytest.raises(DeliveryError):
        policy.run(limited)
    assert len(calls) == 1, "a long Retry-After is not slept in-process"
    assert policy.next_delay(0, long_wait) == 120
    assert policy.next_delay(0, transient("x", retry_after=7200)) == MAX_DELAY_SECONDS
    assert all(5 <= policy.next_delay(n, transient("x")) <= 300 for n in range(30))


def test_each_attempt_is_made_and_counted_once_and_the_last_error_is_raised():
    """The first attempt runs outside tenacity; the retries after it must count the same."""
    policy = RetryPolicy(in_process_attempts=3, in_process_max_wait=1)
    calls: list[int] = []
    counted: list[int] = []

    def always_busy():
        calls.append(1)
        raise transient(f"503 number {len(calls)}", retry_after=0.01)

    with pytest.raises(DeliveryError) as caught:
        policy.run(always_busy, on_attempt=lambda: counted.append(1))
    assert len(calls) == 3 and len(counted) == 3
    assert caught.value.message == "503 number 3"
