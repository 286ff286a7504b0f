"""Go formatting rules that Grafana's output depends on.

Grafana renders with Go's ``text/template`` and ``encoding/json``; receivers see those exact
bytes. These helpers reproduce the few rules where Python differs (float printing, time
printing, JSON escaping, regexp quoting, label-set fingerprints) so our payloads match.
"""

from __future__ import annotations

import json
import math
import re
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

ZERO_TIME = datetime(1, 1, 1, tzinfo=timezone.utc)

_FNV_OFFSET = 14695981039346656037
_FNV_PRIME = 1099511628211
_SEPARATOR = 0xFF


def fingerprint(labels: dict[str, str]) -> str:
    """Alertmanager's label-set fingerprint: FNV-1a 64 over sorted ``name 0xFF value 0xFF``."""
    h = _FNV_OFFSET
    for name in sorted(labels):
        for part in (name, labels[name]):
            for byte in part.encode():
                h = ((h ^ byte) * _FNV_PRIME) & 0xFFFFFFFFFFFFFFFF
            h = ((h ^ _SEPARATOR) * _FNV_PRIME) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


_QUOTE_META = re.compile(r"([\\.+*?()|\[\]{}^$])")


def quote_meta(text: str) -> str:
    """Go's ``regexp.QuoteMeta`` (Python's ``re.escape`` escapes more characters)."""
    return _QUOTE_META.sub(r"\\\1", text)


def go_quote(text: str) -> str:
    """Go's ``strconv.Quote`` for the printable text label values normally hold."""
    out = ['"']
    for ch in text:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def labelset_string(labels: dict[str, str]) -> str:
    """A Prometheus ``LabelSet.String()``: ``{a="b", c="d"}`` with sorted names."""
    return "{" + ", ".join(f"{k}={go_quote(labels[k])}" for k in sorted(labels)) + "}"


def _shortest_digits(value: float) -> tuple[str, int]:
    """Shortest round-trip digits and the decimal point position (Go's ``digs.d``/``digs.dp``)."""
    sign, digits, exponent = Decimal(repr(abs(value))).as_tuple()
    text = "".join(map(str, digits)).rstrip("0") or "0"
    point = len(digits) + int(exponent)
    return text, point


def _exponent_form(digits: str, point: int, negative: bool, min_exp_digits: int = 2) -> str:
    exp = point - 1
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    sign = "-" if exp < 0 else "+"
    return f"{'-' if negative else ''}{mantissa}e{sign}{abs(exp):0{min_exp_digits}d}"


def _plain_form(digits: str, point: int, negative: bool) -> str:
    if point <= 0:
        text = "0." + "0" * (-point) + digits
    elif point >= len(digits):
        text = digits + "0" * (point - len(digits))
    else:
        text = digits[:point] + "." + digits[point:]
    return ("-" if negative else "") + text


def go_float(value: float) -> str:
    """Go ``%v`` of a float64 (``strconv.FormatFloat(v, 'g', -1, 64)``): ``1e+06``, ``97.5``, ``1``."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if math.copysign(1, value) < 0 else "0"
    digits, point = _shortest_digits(value)
    exp = point - 1
    if exp < -4 or exp >= 6:
        return _exponent_form(digits, point, value < 0)
    return _plain_form(digits, point, value < 0)


def go_json_float(value: float) -> str:
    """Go ``encoding/json`` float: plain digits, exponent only below 1e-6 or from 1e21."""
    if math.isnan(value) or math.isinf(value):
        raise ValueError(f"JSON cannot encode {value!r}")
    if value == 0:
        return "0"
    digits, point = _shortest_digits(value)
    if abs(value) < 1e-6 or abs(value) >= 1e21:
        text = _exponent_form(digits, point, value < 0, min_exp_digits=1)
        return text
    return _plain_form(digits, point, value < 0)


_JSON_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}
_JSON_STRING_SPECIALS = re.compile('["\\\\\\x00-\\x1f<>&\u2028\u2029]')


def _json_string(text: str) -> str:
    def escape(match: re.Match[str]) -> str:
        ch = match.group(0)
        return _JSON_ESCAPES.get(ch) or f"\\u{ord(ch):04x}"

    return '"' + _JSON_STRING_SPECIALS.sub(escape, text) + '"'


def _plain(value: Any) -> Any:
    """A copy ``json.dumps`` prints as Go would, or raises ``_NeedsGo`` for rare floats."""
    kind = type(value)
    if kind is str or kind is int or value is None or kind is bool:
        return value
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e16:
            return int(value)
        if "e" in repr(value) or not math.isfinite(value):
            raise _NeedsGo
        return value
    if isinstance(value, datetime):
        return rfc3339nano(value)
    return value


class _NeedsGo(Exception):
    pass


_HTML_SAFE = (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029"))


def _html_safe(text: str) -> str:
    for char, escape in _HTML_SAFE:
        if char in text:
            text = text.replace(char, escape)
    return text


def go_json(value: Any, indent: str | None = None) -> str:
    """Encode like Go's ``encoding/json``: dicts in the order given (sort map-typed dicts
    before calling), HTML-safe escaping, Go float formatting, no spaces (or ``indent``).

    The C encoder does the work when the data allows (the common case); values whose
    printing differs between Python and Go (exponent floats) take the pure-Python path.
    """
    if indent is None:
        try:
            plain = _plain(value)
        except _NeedsGo:
            return _go_json(value)
        return _html_safe(json.dumps(plain, ensure_ascii=False, separators=(",", ":")))
    return _go_json(value, indent)


def _go_json(value: Any, indent: str | None = None, _level: int = 0) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return go_json_float(value)
    if isinstance(value, str):
        return _json_string(value)
    if isinstance(value, datetime):
        return _json_string(rfc3339nano(value))
    newline = "" if indent is None else "\n" + indent * (_level + 1)
    closing = "" if indent is None else "\n" + indent * _level
    colon = ":" if indent is None else ": "
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = [f"{_json_string(str(k))}{colon}{_go_json(v, indent, _level + 1)}" for k, v in value.items()]
        return "{" + newline + ("," + newline).join(items) + closing + "}"
    if isinstance(value, (list, tuple)):
        if not value:
            return "[]"
        items = [_go_json(v, indent, _level + 1) for v in value]
        return "[" + newline + ("," + newline).join(items) + closing + "]"
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def rfc3339nano(moment: datetime) -> str:
    """Go ``time.RFC3339Nano``: trailing fractional zeros trimmed, ``Z`` for UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    text = f"{moment:%Y}".zfill(4) + moment.strftime("-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += "." + f"{moment.microsecond:06d}".rstrip("0")
    offset = moment.utcoffset() or timedelta(0)
    if offset == timedelta(0):
        return text + "Z"
    total = int(offset.total_seconds())
    sign = "+" if total >= 0 else "-"
    total = abs(total)
    return f"{text}{sign}{total // 3600:02d}:{total % 3600 // 60:02d}"


def go_time(moment: datetime) -> str:
    """Go's ``time.Time.String()``: ``2024-05-01 10:00:00 +0000 UTC``."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    text = f"{moment:%Y}".zfill(4) + moment.strftime("-%m-%d %H:%M:%S")
    if moment.microsecond:
        text += "." + f"{moment.microsecond:06d}".rstrip("0")
    offset = moment.utcoffset() or timedelta(0)
    total = int(offset.total_seconds())
    sign = "+" if total >= 0 else "-"
    total = abs(total)
    zone = moment.tzname() or ""
    if offset == timedelta(0):
        zone = "UTC"
    elif zone.startswith("UTC"):
        zone = f"{sign}{total // 3600:02d}{total % 3600 // 60:02d}"
    return f"{text} {sign}{total // 3600:02d}{total % 3600 // 60:02d} {zone}"


def parse_time(value: str | datetime | None) -> datetime | None:
    """Parse an RFC 3339 timestamp (nanoseconds are cut to microseconds); zero time → None."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value
    else:
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        match = re.match(r"^(.*T\d{2}:\d{2}:\d{2})(\.\d+)?(.*)$", text)
        if match and match.group(2) and len(match.group(2)) > 7:
            text = match.group(1) + match.group(2)[:7] + match.group(3)
        moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    if moment.year <= 1:
        return None
    return moment
