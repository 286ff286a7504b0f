"""One sender module per integration type, all the same shape.

Each module has ``build(rendering, settings) -> request | None``: a pure function from the
notification and the validated settings to what would be sent (``None``: nothing to send).
A module whose destination is not plain HTTP also has ``send(request, settings)``.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from contracts.registry import REGISTRY


def sender(type_name: str) -> ModuleType:
    """The sender module the registry names for ``type_name``."""
    return importlib.import_module(REGISTRY[type_name].sender)
