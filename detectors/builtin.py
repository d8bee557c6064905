"""Importing this module registers every built-in detector: each module of the
``detectors`` package is imported (no hand-kept list), and a module that registers a
detector must bear that detector's name (module name = registry key = config key).

Adding a detector is one file, ``detectors/<name>.py``, whose class has ``name = "<name>"``
and the ``@register`` decorator (plus its test and its section in ``docs/detectors.md``).

>>> from detectors.base import registry
>>> sorted(registry())[:3]
['door_open', 'fall', 'fall_silence']
"""

from __future__ import annotations

import importlib
import pkgutil

import detectors
from detectors.base import _REGISTRY

HELPERS = frozenset({"base", "builtin", "devices", "rhythm", "text", "trend"})
"""Modules that serve detectors but register none themselves."""


def _discover() -> list[str]:
    names = sorted(m.name for m in pkgutil.iter_modules(detectors.__path__) if not m.ispkg)
    found = [name for name in names if name not in HELPERS]
    for name in found:
        importlib.import_module(f"detectors.{name}")
    for key, cls in _REGISTRY.items():
        module = cls.__module__
        if module.startswith("detectors.") and module != f"detectors.{key}":
            raise ImportError(
                f"{module} registers the detector {key!r}: a built-in detector's module "
                f"must bear its name (detectors/{key}.py)"
            )
    return found


MODULES = _discover()
"""The detector modules found, imported in the order of their names."""
