"""URL joining exactly as Grafana does it (Go's ``path.Join`` and Grafana's ``JoinURLPath``)."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


def go_path_clean(path: str) -> str:
    """Go's ``path.Clean``: one slash between segments, ``.`` and ``..`` resolved, no trailing slash."""
    rooted = path.startswith("/")
    segments: list[str] = []
    for segment in path.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if segments and segments[-1] != "..":
                segments.pop()
            elif not rooted:
                segments.append("..")
            continue
        segments.append(segment)
    cleaned = ("/" if rooted else "") + "/".join(segments)
    return cleaned or "."


def go_path_join(*elements: str) -> str:
    """Go's ``path.Join``: the non-empty elements joined by ``/``, then cleaned; ``""`` if none."""
    joined = "/".join(e for e in elements if e)
    return go_path_clean(joined) if joined else ""


def join_url_path(base: str, path: str) -> str:
    """Grafana's ``JoinURLPath``: ``path`` joined onto the URL's path with Go's ``path.Join``, query kept."""
    try:
        parts = urlsplit(base)
    except ValueError:
        return base
    return urlunsplit((parts.scheme, parts.netloc, go_path_join(parts.path, path), parts.query, parts.fragment))


def alert_list_url(external_url: str) -> str:
    """Grafana's link to its alert list, ``JoinURLPath(externalURL, "/alerting/list")``."""
    return join_url_path(external_url, "/alerting/list")
