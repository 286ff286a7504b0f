from datetime import datetime, timedelta, timezone

import pytest

from contracts.gocompat import ZERO_TIME, fingerprint, go_float, go_json, go_time, labelset_string, parse_time, quote_meta, rfc3339nano


@pytest.mark.parametrize(
    "labels, expected",
    [
        ({"alertname": "alert1", "lbl1": "val1"}, "fac0861a85de433a"),
        ({"alertname": "alert1", "lbl1": "val2"}, "fab6861a85d5eeb5"),
        ({"alertname": "TestAlert", "instance": "Grafana"}, "57c6d9296de2ad39"),
        ({}, "cbf29ce484222325"),
    ],
)
def test_fingerprint_matches_alertmanager(labels, expected):
    assert fingerprint(labels) == expected


@pytest.mark.parametrize(
    "value, text",
    [(1234, "1234"), (97.5, "97.5"), (123456, "123456"), (1234567, "1.234567e+06"), (1e6, "1e+06"),
     (0.0001, "0.0001"), (0.00001, "1e-05"), (1.0, "1"), (-2.5, "-2.5"), (0.0, "0")],
)
def test_go_float_prints_like_go_percent_v(value, text):
    assert go_float(float(value)) == text


def test_go_json_escapes_html_and_prints_integral_floats_without_fraction():
    assert go_json({"u": "a&b<c>", "v": [1.0, 97.5, 1000000.0, None, True]}) == (
        '{"u":"a\\u0026b\\u003cc\\u003e","v":[1,97.5,1000000,null,true]}'
    )


def test_times_print_like_go():
    moment = datetime(2024, 5, 1, 10, 0, 0, 971288, tzinfo=timezone.utc)
    assert rfc3339nano(moment) == "2024-05-01T10:00:00.971288Z"
    assert rfc3339nano(ZERO_TIME) == "0001-01-01T00:00:00Z"
    assert go_time(datetime(2024, 5, 1, 10, tzinfo=timezone.utc)) == "2024-05-01 10:00:00 +0000 UTC"
    plus2 = datetime(2021, 10, 12, 9, 51, 3, 157076, tzinfo=timezone(timedelta(hours=2)))
    assert rfc3339nano(plus2) == "2021-10-12T09:51:03.157076+02:00"


def test_parse_time_accepts_nanoseconds_and_treats_zero_time_as_unset():
    assert parse_time("2024-05-01T10:00:00.971288178Z") == datetime(2024, 5, 1, 10, 0, 0, 971288, tzinfo=timezone.utc)
    assert parse_time("0001-01-01T00:00:00Z") is None


def test_quote_meta_and_labelset_string():
    assert quote_meta("ops.team (eu)") == "ops\\.team \\(eu\\)"
    assert labelset_string({"b": 'x"y', "a": "1"}) == '{a="1", b="x\\"y"}'
