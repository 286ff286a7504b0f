"""Grafana's truncation helpers: by runes or by UTF-8 bytes, ending with ``…``."""

from __future__ import annotations

import logging

ELLIPSIS = "…"
log = logging.getLogger("alertrelay.truncate")


def truncate_runes(text: str, limit: int) -> tuple[str, bool]:
    """``TruncateInRunes``: at most ``limit`` code points, the last being ``…`` (hard cut if limit ≤ 3)."""
    if len(text) <= limit:
        return text, False
    if limit <= 3:
        return text[:limit], True
    return text[: limit - 1] + ELLIPSIS, True


def truncate_bytes(text: str, limit: int) -> tuple[str, bool]:
    """``TruncateInBytes``: at most ``limit`` UTF-8 bytes, never splitting a character, ending ``…``."""
    encoded = text.encode()
    if len(encoded) <= limit:
        return text, False
    marker = ELLIPSIS.encode()
    if limit <= len(marker):
        return (ELLIPSIS if limit == len(marker) else "." * limit), True
    cut = encoded[: limit - len(marker)].decode("utf-8", errors="ignore")
    return cut + ELLIPSIS, True
