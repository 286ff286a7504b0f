"""Loading Grafana file-provisioning YAML: contact points and notification templates.

Accepts one file or a folder of ``*.yaml``/``*.yml``/``*.json`` files, with ``$VAR`` and
``${VAR}`` replaced from the environment in settings (``$$`` is a literal ``$``). Every
problem found is reported at once, each naming the file, contact point, integration uid
and field, so an operator can fix a whole file in one pass.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from contracts.integrations.base import Settings
from contracts.registry import REGISTRY, lookup

_ENV_REF = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")
CONFIG_SUFFIXES = (".yaml", ".yml", ".json")


@dataclass(frozen=True)
class Integration:
    """One receiver entry of a contact point: an integration with its validated settings."""

    uid: str
    type: str
    settings: Settings
    contact_point: str
    org_id: int = 1
    disable_resolve_message: bool = False
    source: str = ""
    #: alertrelay extension (``fallbackContactPoint`` beside ``settings``; Grafana ignores it).
    fallback: str | None = None


@dataclass
class ContactPoint:
    name: str
    org_id: int = 1
    integrations: list[Integration] = field(default_factory=list)
    source: str = ""
    #: alertrelay extension: the contact point tried when a job of this one is dead-lettered.
    fallback: str | None = None

    def fallback_for(self, uid: str) -> str | None:
        """The integration's own fallback, else the contact point's."""
        integration = next((i for i in self.integrations if i.uid == uid), None)
        return (integration.fallback if integration else None) or self.fallback


@dataclass
class Config:
    """The provisioning in force: contact points by name, templates by name."""

    contact_points: dict[str, ContactPoint] = field(default_factory=dict)
    templates: dict[str, str] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)

    def integration(self, contact_point: str, uid: str) -> Integration | None:
        point = self.contact_points.get(contact_point)
        if point is None:
            return None
        return next((i for i in point.integrations if i.uid == uid), None)


class ConfigError(Exception):
    """The configuration cannot be used; ``errors`` lists every problem found."""

    def __init__(self, errors: list[str]):
        self.errors = errors
        super().__init__("\n".join(errors))


def config_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The provisioning path: the ``--config`` value, else ``ALERTRELAY_CONFIG``."""
    value = explicit or os.environ.get("ALERTRELAY_CONFIG")
    if not value:
        raise ConfigError(["no configuration: pass --config PATH or set ALERTRELAY_CONFIG"])
    return Path(value)


def config_files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.suffix.lower() in CONFIG_SUFFIXES and p.is_file())
    if path.is_file():
        return [path]
    raise ConfigError([f"{path}: no such file or folder"])


def interpolate(value: Any, env: dict[str, str], missing: list[str]) -> Any:
    """Replace ``$VAR``/``${VAR}`` in every string of ``value``; unknown names go to ``missing``."""
    if isinstance(value, str):
        def replace(match: re.Match[str]) -> str:
            if match.group(0) == "$$":
                return "$"
            name = match.group(1) or match.group(2)
            if name not in env:
                missing.append(name)
                return ""
            return env[name]

        return _ENV_REF.sub(replace, value)
    if isinstance(value, dict):
        return {k: interpolate(v, env, missing) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env, missing) for v in value]
    return value


def _where(source: str, point: str | None = None, uid: str | None = None, type_name: str | None = None) -> str:
    text = source
    if point is not None:
        text += f': contact point "{point}"'
    if uid is not None:
        text += f', integration "{uid}"'
        if type_name:
            text += f" ({type_name})"
    return text


def _validation_messages(exc: ValidationError) -> list[str]:
    out = []
    for err in exc.errors(include_url=False, include_input=False):
        loc = ".".join(str(p) for p in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        out.append(f"settings.{loc}: {msg}" if loc else f"settings: {msg}")
    return out


def _org(value: Any) -> int:
    try:
        org = int(value)
    except (TypeError, ValueError):
        return 1
    return org if org >= 1 else 1


def _load_receiver(
    source: str, point: str, org_id: int, index: int, raw: Any, env: dict[str, str], errors: list[str]
) -> Integration | None:
    if not isinstance(raw, dict):
        errors.append(f"{_where(source, point)}: receivers[{index}]: must be a mapping")
        return None
    uid = str(raw.get("uid") or "").strip()
    type_name = str(raw.get("type") or "").strip()
    where = _where(source, point, uid or f"receivers[{index}]", type_name)
    if not uid:
        errors.append(f"{where}: uid: is required")
    if not type_name:
        errors.append(f"{where}: type: is required")
        return None
    entry = lookup(type_name)
    if entry is None:
        known = ", ".join(sorted(REGISTRY))
        errors.append(f"{where}: type: unknown integration type {type_name!r} (known: {known})")
        return None
    settings = raw.get("settings")
    if not isinstance(settings, dict) or not settings:
        errors.append(f"{where}: settings: is required and must be a non-empty mapping")
        return None
    secure = raw.get("secureSettings") or {}
    if not isinstance(secure, dict):
        errors.append(f"{where}: secureSettings: must be a mapping")
        secure = {}
    merged = _merge_secure(settings, secure)
    missing: list[str] = []
    merged = interpolate(merged, env, missing)
    for name in sorted(set(missing)):
        errors.append(f"{where}: settings: environment variable {name} is not set")
    try:
        model = entry.settings.model_validate(merged)
    except ValidationError as exc:
        errors.extend(f"{where}: {message}" for message in _validation_messages(exc))
        return None
    if not uid or missing:
        return None
    return Integration(
        uid=uid,
        type=entry.type,
        settings=model,
        contact_point=point,
        org_id=org_id,
        disable_resolve_message=bool(raw.get("disableResolveMessage", False)),
        source=source,
        fallback=_fallback_name(raw),
    )


FALLBACK_KEY = "fallbackContactPoint"


def _fallback_name(raw: dict[str, Any]) -> str | None:
    value = raw.get(FALLBACK_KEY)
    return str(value).strip() or None if value is not None else None


def check_fallbacks(config: Config, errors: list[str]) -> None:
    """Every fallback names a contact point, and no chain of fallbacks comes back to where it started."""
    edges: dict[str, set[str]] = {}
    for point in config.contact_points.values():
        targets = {(None, point.fallback)} | {(i.uid, i.fallback) for i in point.integrations}
        for uid, target in targets:
            if target is None:
                continue
            if target not in config.contact_points:
                errors.append(f"{_where(point.source, point.name, uid)}: {FALLBACK_KEY}: no contact point named {target!r}")
                continue
            edges.setdefault(point.name, set()).add(target)
    for start in sorted(edges):
        path = [start]
        stack = [(start, iter(sorted(edges.get(start, ()))))]
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                path.pop()
                continue
            if child == start:
                cycle = " → ".join([*path, child])
                point = config.contact_points[start]
                errors.append(f"{_where(point.source, start)}: {FALLBACK_KEY}: fallbacks form a cycle: {cycle}")
                stack.clear()
                break
            if child not in path:
                path.append(child)
                stack.append((child, iter(sorted(edges.get(child, ())))))


def _merge_secure(settings: dict[str, Any], secure: dict[str, Any]) -> dict[str, Any]:
    """``secureSettings`` (flat, dotted keys) override ``settings``, as in Grafana."""
    merged = dict(settings)
    for dotted, value in secure.items():
        target = merged
        parts = str(dotted).split(".")
        for part in parts[:-1]:
            target = target.setdefault(part, {}) if isinstance(target.get(part, {}), dict) else {}
        target[parts[-1]] = value
    return merged


def _load_document(source: str, doc: Any, config: Config, env: dict[str, str], errors: list[str]) -> None:
    if doc is None:
        return
    if not isinstance(doc, dict):
        errors.append(f"{source}: the file must hold a mapping with apiVersion: 1")
        return
    if doc.get("apiVersion") not in (1, "1"):
        errors.append(f"{source}: apiVersion: must be 1 (got {doc.get('apiVersion')!r})")
    for index, raw_point in enumerate(doc.get("contactPoints") or []):
        if not isinstance(raw_point, dict):
            errors.append(f"{source}: contactPoints[{index}]: must be a mapping")
            continue
        name = str(raw_point.get("name") or "").strip()
        if not name:
            errors.append(f"{source}: contactPoints[{index}]: name: no name is set")
            continue
        org_id = _org(raw_point.get("orgId"))
        if name in config.contact_points:
            errors.append(f"{_where(source, name)}: defined again (first in {config.contact_points[name].source})")
            continue
        point = ContactPoint(name=name, org_id=org_id, source=source, fallback=_fallback_name(raw_point))
        receivers = raw_point.get("receivers") or []
        if not isinstance(receivers, list):
            errors.append(f"{_where(source, name)}: receivers: must be a list")
            receivers = []
        for i, raw in enumerate(receivers):
            integration = _load_receiver(source, name, org_id, i, raw, env, errors)
            if integration is None:
                continue
            if any(other.uid == integration.uid for p in config.contact_points.values() for other in p.integrations) or any(
                other.uid == integration.uid for other in point.integrations
            ):
                errors.append(f"{_where(source, name, integration.uid, integration.type)}: uid: used by another integration")
                continue
            point.integrations.append(integration)
        config.contact_points[name] = point
    for index, raw_template in enumerate(doc.get("templates") or []):
        if not isinstance(raw_template, dict) or not raw_template.get("name"):
            errors.append(f"{source}: templates[{index}]: name: is required")
            continue
        body = raw_template.get("template")
        if not isinstance(body, str):
            errors.append(f'{source}: template "{raw_template["name"]}": template: is required')
            continue
        config.templates[str(raw_template["name"])] = body


def load_config(path: str | os.PathLike[str] | None = None, env: dict[str, str] | None = None) -> Config:
    """Load and validate the provisioning at ``path`` (or ``ALERTRELAY_CONFIG``)."""
    env = dict(os.environ) if env is None else env
    config = Config()
    errors: list[str] = []
    try:
        files = config_files(config_path(path))
    except ConfigError:
        raise
    if not files:
        raise ConfigError([f"{path}: no .yaml, .yml or .json files found"])
    for file in files:
        source = str(file)
        config.files.append(source)
        try:
            documents = list(yaml.safe_load_all(file.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError) as exc:
            errors.append(f"{source}: cannot read: {exc}")
            continue
        except yaml.YAMLError as exc:
            errors.append(f"{source}: not valid YAML: {exc}")
            continue
        for doc in documents:
            _load_document(source, doc, config, env, errors)
    check_fallbacks(config, errors)
    failure_point = env.get("ALERTRELAY_FAILURE_CONTACT_POINT")
    if failure_point and failure_point not in config.contact_points:
        errors.append(f"ALERTRELAY_FAILURE_CONTACT_POINT: no contact point named {failure_point!r} in {path or config_path()}")
    if errors:
        raise ConfigError(errors)
    return config
