"""Live configuration: reload the provisioning files when they change, or on SIGHUP.

A :class:`ConfigWatcher` polls the modification times and sizes of the provisioning files
(every ``ALERTRELAY_CONFIG_POLL`` seconds, default 2; a file added to or removed from a
config folder counts as a change) and reloads when they differ, or at once on SIGHUP.
A new configuration is validated exactly as ``check-config`` validates it; when it fails,
every error is logged, nothing is swapped and the configuration in force stays. When it
passes, the process's ``apply`` callback swaps it in with one assignment, so work in
progress finishes with the configuration it started with and nothing is dropped.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from pathlib import Path
from typing import Callable

from contracts.provisioning import Config, ConfigError, config_files, config_path, load_config

log = logging.getLogger("alertrelay.reload")

Fingerprint = tuple[tuple[str, int, int], ...] | str


def poll_interval() -> float:
    return float(os.environ.get("ALERTRELAY_CONFIG_POLL", "2"))


def validated(path: str | os.PathLike[str] | None = None) -> Config:
    """Load and check a configuration (settings and templates); :class:`ConfigError` lists every problem."""
    from workers.delivery.templates import check_templates

    config = load_config(path)
    errors = check_templates(config)
    if errors:
        raise ConfigError(errors)
    return config


def fingerprint(path: Path) -> Fingerprint:
    """What changes when the provisioning changes: each file's name, mtime and size."""
    try:
        files = config_files(path)
        return tuple((str(f), f.stat().st_mtime_ns, f.stat().st_size) for f in files)
    except (ConfigError, OSError) as exc:
        return f"unreadable: {exc}"


def _summary(config: Config) -> str:
    integrations = sum(len(p.integrations) for p in config.contact_points.values())
    return f"{len(config.contact_points)} contact point(s), {integrations} integration(s), {len(config.templates)} template(s)"


def _changes(old: Config | None, new: Config) -> str:
    if old is None:
        return ""
    added = sorted(set(new.contact_points) - set(old.contact_points))
    removed = sorted(set(old.contact_points) - set(new.contact_points))
    parts = [f"added {', '.join(added[:10])}" if added else "", f"removed {', '.join(removed[:10])}" if removed else ""]
    text = "; ".join(p for p in parts if p)
    return f" ({text})" if text else ""


class ConfigWatcher:
    """Watches the provisioning of one process and swaps a validated new configuration in.

    :param kind: the process kind, for log lines (``router``, ``worker``, ``ingest``).
    :param apply: called with each new valid configuration; must swap it in atomically.
    :param path: the provisioning file or folder (default: ``ALERTRELAY_CONFIG``).
    :param current: the configuration in force at start (used to describe changes).
    """

    def __init__(self, kind: str, apply: Callable[[Config], None], path: str | os.PathLike[str] | None = None,
                 current: Config | None = None, interval: float | None = None):
        self.kind = kind
        self.apply = apply
        self.path = config_path(path)
        self.current = current
        self.interval = poll_interval() if interval is None else interval
        self._seen = fingerprint(self.path)
        self._wake = threading.Event()
        self._forced = False
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        if current is not None:
            _record(ok=True, initial=True)

    def start(self) -> "ConfigWatcher":
        self._thread = threading.Thread(target=self._run, name=f"{self.kind}-config-watcher", daemon=True)
        self._thread.start()
        return self

    def install_sighup(self) -> None:
        """SIGHUP reloads now (the handler only wakes the watcher thread). Main thread only."""
        if hasattr(signal, "SIGHUP") and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGHUP, lambda *_: self.request_reload())

    def request_reload(self) -> None:
        self._forced = True
        self._wake.set()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    def _run(self) -> None:
        while not self._stopping:
            self._wake.wait(self.interval)
            self._wake.clear()
            if self._stopping:
                return
            forced, self._forced = self._forced, False
            try:
                self.check(forced)
            except Exception:  # noqa: BLE001 - the watcher must outlive any surprise
                log.exception("%s: configuration check failed", self.kind)

    def check(self, forced: bool = False) -> bool | None:
        """Reload if forced or the files changed; True/False = reloaded/refused, None = nothing to do."""
        seen = fingerprint(self.path)
        if not forced and seen == self._seen:
            return None
        self._seen = seen
        return self.reload("SIGHUP" if forced else "files changed")

    def reload(self, why: str = "requested") -> bool:
        """Validate the provisioning and swap it in; on any error keep the configuration in force."""
        with self._lock:
            started = time.monotonic()
            try:
                config = validated(self.path)
            except ConfigError as exc:
                log.error("%s: new configuration refused (%s); the previous one stays in force: %d error(s)",
                          self.kind, why, len(exc.errors))
                for line in exc.errors:
                    log.error("%s: config error: %s", self.kind, line)
                _record(ok=False)
                return False
            self.apply(config)
            log.info("%s: configuration reloaded (%s) from %s in %.0f ms: %s%s", self.kind, why, self.path,
                     (time.monotonic() - started) * 1000, _summary(config), _changes(self.current, config))
            self.current = config
            _record(ok=True)
            return True


def _record(ok: bool, initial: bool = False) -> None:
    try:
        from alertrelay import metrics

        m = metrics.config()
        if not initial:
            m.reloads.labels("ok" if ok else "error").inc()
        m.last_successful.set(1 if ok else 0)
        if ok:
            m.last_success.set(time.time())
    except Exception:  # noqa: BLE001 - metrics must never stop a reload
        log.debug("could not record reload metrics", exc_info=True)


def watch(kind: str, apply: Callable[[Config], None], current: Config | None = None,
          path: str | os.PathLike[str] | None = None, sighup: bool = True) -> ConfigWatcher | None:
    """Start watching the provisioning for ``kind``; ``None`` (with a warning) when no path is configured."""
    try:
        watcher = ConfigWatcher(kind, apply, path=path, current=current)
    except ConfigError as exc:
        log.warning("%s: live configuration reload is off: %s", kind, "; ".join(exc.errors))
        return None
    if sighup:
        watcher.install_sighup()
    return watcher.start()
