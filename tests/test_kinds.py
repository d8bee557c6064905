"""The one signal-kind table (edge/models.py ``KINDS``) against what uses it: every kind in
it, every detector it names registered, every registered detector owning or sharing a
kind, every kind's label in both languages, and what the detectors raise as the table
says. A new detector or kind missing from the table fails here."""

from __future__ import annotations

import ast
import inspect

from detectors.base import registry
from edge.catalogue import CATALOGUE
from edge.i18n import LANGUAGES
from edge.models import HUB_KINDS, KINDS, SignalKind


def test_every_kind_has_its_row() -> None:
    assert set(KINDS) == set(SignalKind)
    assert all(kind is row.kind for kind, row in KINDS.items())


def test_every_detector_the_table_names_exists_and_every_detector_is_named() -> None:
    known = set(registry())
    named = {d for row in KINDS.values() for d in row.detectors}
    assert named - known == {"hub"}
    assert {k for k, row in KINDS.items() if row.detectors == ("hub",)} == HUB_KINDS
    assert known - named == set(), "a registered detector whose kinds are not in KINDS"


def test_every_kind_has_its_label_in_both_languages() -> None:
    for row in KINDS.values():
        entry = CATALOGUE.get(row.label)
        assert entry is not None, row.label
        assert all(entry.get(lang, "").strip() for lang in LANGUAGES), row.label


def test_each_detector_module_raises_only_its_own_kinds() -> None:
    """Read from the source: every ``SignalKind.X`` a detector's module raises or resolves
    (``kind=SignalKind.X``, or a trend's ``kind = SignalKind.X``) has that detector in its
    row. (The device signal the silence detectors raise early is built in rhythm.py and
    names ``sensor_offline`` in its evidence: it is that kind's, with that owner.)"""
    for name, cls in registry().items():
        tree = ast.parse(inspect.getsource(inspect.getmodule(cls)))  # type: ignore[arg-type]
        kinds = set()
        for node in ast.walk(tree):
            value = None
            if isinstance(node, ast.keyword) and node.arg == "kind":
                value = node.value
            elif isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "kind" for t in node.targets
            ):
                value = node.value
            if isinstance(value, ast.Attribute) and ast.unparse(value.value) == "SignalKind":
                kinds.add(SignalKind[value.attr])
        assert kinds, f"{name}: no kind found in its module"
        for kind in kinds:
            assert name in KINDS[kind].detectors, (name, kind.value)
