"""Rendering notification templates: sandboxed Jinja2 with Grafana's data and named templates.

A templated setting (a title, a message, a URL) is Jinja2 source rendered against the
notification's data under Grafana's names (``Status``, ``Alerts.Firing``, ``CommonLabels``...).
Named templates are called as ``{{ template("name") }}``: the built-ins of
:mod:`workers.delivery.default_templates`, or those defined in the provisioning
``templates:`` list, which replace a built-in of the same name.

Provisioning files written for Grafana often hold the Go forms ``{{ template "name" . }}``
and ``{{ .Field }}``; :func:`from_go` rewrites those two forms so such files load unchanged.
"""

from __future__ import annotations

import re
import threading
import time
from functools import lru_cache
from typing import Any, Callable

from jinja2 import ChainableUndefined, TemplateError as JinjaTemplateError, pass_context
from jinja2.runtime import Context
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment, safe_range

from workers.delivery.default_templates import BUILTINS
from workers.delivery.template_data import TemplateData

#: Grafana's cap on one rendered template (``DefaultLimits``).
MAX_OUTPUT_BYTES = 10 * 1024 * 1024

_GO_TEMPLATE_CALL = re.compile(r'\{\{(-?)\s*template\s+"([^"]+)"\s*(\$|\.)?\s*(-?)\}\}')
_GO_FIELD = re.compile(r"\{\{(-?)\s*\$?\.([A-Za-z_][A-Za-z0-9_.]*)\s*(-?)\}\}")
_GO_DEFINE = re.compile(r'\{\{-?\s*define\s+"([^"]+)"\s*-?\}\}(.*?)\{\{-?\s*end\s*-?\}\}', re.S)


class TemplateError(Exception):
    """A template failed to parse or render; a permanent delivery failure."""


def from_go(source: str) -> str:
    """Rewrite Grafana's common Go forms into Jinja2: ``template "x" .`` and ``.Field.Path``."""
    if "{{" not in source:
        return source
    source = _GO_TEMPLATE_CALL.sub(lambda m: "{{" + m.group(1) + f' template("{m.group(2)}") ' + m.group(4) + "}}", source)
    return _GO_FIELD.sub(lambda m: "{{" + m.group(1) + f" {m.group(2)} " + m.group(3) + "}}", source)


def split_definitions(name: str, body: str) -> dict[str, str]:
    """A provisioning template entry: ``{{ define "x" }}...{{ end }}`` blocks, or one body named ``name``."""
    defined = {m.group(1): m.group(2) for m in _GO_DEFINE.finditer(body)}
    return defined or {name: body}


_ONLY_CALL = re.compile(r'^\{\{\s*template\(\s*"([^"]+)"\s*\)\s*\}\}$')


@lru_cache(maxsize=1024)
def _only_call(source: str) -> str | None:
    """The template name when ``source`` is nothing but ``{{ template("name") }}`` (or the Go form)."""
    match = _ONLY_CALL.match(from_go(source).strip()) if source == source.strip() else None
    return match.group(1) if match else None


def _limit_exceeded() -> TemplateError:
    return TemplateError(f"template output exceeds maximum size of {MAX_OUTPUT_BYTES} bytes")


def _re_replace_all(pattern: str, replacement: str, text: str) -> str:
    """Grafana's ``reReplaceAll``; Go's ``$1``/``${name}`` become Python group references."""
    python_repl = re.sub(r"\$\{(\w+)\}|\$(\d+)", lambda m: f"\\g<{m.group(1) or m.group(2)}>", replacement)
    return re.sub(pattern, python_repl, str(text))


#: Wall-clock budget of one render; loops check it (a loop that prints nothing is not
#: stopped by the output limit).
MAX_RENDER_SECONDS = 2.0
_deadline = threading.local()


def _check_deadline() -> None:
    limit = getattr(_deadline, "at", None)
    if limit is not None and time.monotonic() > limit:
        raise TemplateError(f"template rendering exceeded {MAX_RENDER_SECONDS:g}s")


def _timed_range(*args: int) -> Any:
    """The sandbox's bounded ``range`` that also honours the render deadline."""
    for count, value in enumerate(safe_range(*args)):
        if count % 256 == 0:
            _check_deadline()
        yield value


class _Sandbox(SandboxedEnvironment):
    """A sandbox that fails loudly on unsafe access, and bounds loops and repetition."""

    intercepted_binops = frozenset(["*", "**"])

    def unsafe_undefined(self, obj: Any, attribute: str) -> Any:
        raise SecurityError(f"access to attribute {attribute!r} of {type(obj).__name__!r} is not allowed")

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(right, (int, float)) and abs(right) > 64:
            raise SecurityError("exponent too large")
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if isinstance(seq, (str, list, tuple)) and isinstance(times, int) and len(seq) * times > MAX_OUTPUT_BYTES:
                    raise SecurityError("repetition would exceed the output limit")
        _check_deadline()
        return super().call_binop(context, operator, left, right)

    def getattr(self, obj: Any, attribute: str) -> Any:
        _check_deadline()
        return super().getattr(obj, attribute)


class Templates:
    """The template set of one configuration: user-defined named templates over the built-ins."""

    def __init__(self, user_templates: dict[str, str] | None = None):
        self.env = _Sandbox(
            keep_trailing_newline=True,
            trim_blocks=False,
            lstrip_blocks=False,
            autoescape=False,
            undefined=ChainableUndefined,
        )
        self.env.globals.update(self._functions())
        self.env.globals["range"] = _timed_range
        self.user: dict[str, Any] = {}
        for entry_name, body in (user_templates or {}).items():
            for name, source in split_definitions(entry_name, body).items():
                self.user[name] = self.compile(source)

    def _functions(self) -> dict[str, Callable[..., Any]]:
        @pass_context
        def template(context: Context, name: str, dot: Any = None) -> str:
            return self.named(name, context.get("dot") if dot is None else dot)

        return {
            "template": template,
            "toUpper": lambda s: str(s).upper(),
            "toLower": lambda s: str(s).lower(),
            "title": lambda s: str(s).title(),
            "trimSpace": lambda s: str(s).strip(),
            "match": lambda pattern, text: re.search(pattern, str(text)) is not None,
            "reReplaceAll": _re_replace_all,
            "stringSlice": lambda *items: list(items),
        }

    def compile(self, source: str) -> Any:
        try:
            return self._compile_cached(source)
        except JinjaTemplateError as exc:
            raise TemplateError(f"template syntax error: {exc}") from None

    @lru_cache(maxsize=512)
    def _compile_cached(self, source: str) -> Any:
        return self.env.from_string(from_go(source))

    def named(self, name: str, dot: Any) -> str:
        """Render a named template with ``dot`` as its data (Go's ``{{ template "name" dot }}``)."""
        if name in self.user:
            context = dot.as_context() if isinstance(dot, TemplateData) else {"dot": dot}
            return self._render(self.user[name], context)
        builtin = BUILTINS.get(name)
        if builtin is None:
            raise TemplateError(f'template "{name}" is not defined')
        return builtin(dot)

    def render(self, source: str, data: TemplateData) -> str:
        """Render one templated setting against the notification data."""
        if "{{" not in source and "{%" not in source:
            return source
        name = _only_call(source)
        if name is not None:  # the common default: skip building a Jinja context
            return self.named(name, data)
        return self._render(self.compile(source), data.as_context())

    def _render(self, template: Any, context: dict[str, Any]) -> str:
        parts: list[str] = []
        size = 0
        outer = getattr(_deadline, "at", None)
        if outer is None:  # nested template() calls share the outermost deadline
            _deadline.at = time.monotonic() + MAX_RENDER_SECONDS
        try:
            for chunk in template.generate(context):
                size += len(chunk)
                if size > MAX_OUTPUT_BYTES:
                    raise _limit_exceeded()
                parts.append(chunk)
        except TemplateError:
            raise
        except Exception as exc:  # any failure inside user template code is a template error
            raise TemplateError(f"template error: {type(exc).__name__}: {exc}") from None
        finally:
            if outer is None:
                _deadline.at = None
        return "".join(parts)


def check_templates(config: Any) -> list[str]:
    """Every template syntax error in a configuration, each naming where it is."""
    errors: list[str] = []
    try:
        templates = Templates(config.templates)
    except TemplateError as exc:
        return [f"templates: {exc}"]
    for point in config.contact_points.values():
        for integration in point.integrations:
            for name, source in integration.settings.templated().items():
                try:
                    templates.compile(source)
                except TemplateError as exc:
                    errors.append(
                        f'{integration.source}: contact point "{point.name}", integration "{integration.uid}" '
                        f"({integration.type}): settings.{name}: {exc}"
                    )
    return errors
