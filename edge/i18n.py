"""One translation catalogue for what people read: message ids -> text per language.

Dutch (``nl``, the flats' language) and English (``en``) for every id; a test holds every
entry to both languages with the same placeholders, and every signal kind, room, status
and audit action to a name. Used by the agenda (labels, evidence in words, history);
the other user-facing texts still have their own tables (see docs/signals.md).

>>> text("kind.fall", "nl"), text("kind.fall", "en")
('val', 'fall')
>>> duration(190, "nl"), duration(190, "en"), duration(45, "nl"), duration(1500, "en")
('3 uur 10 min', '3 h 10 min', '45 min', '1 day 1 h')
>>> number(2.5, "nl"), number(2.5, "en"), number(3.0, "nl")
('2,5', '2.5', '3')
"""

from __future__ import annotations

import string
from typing import Any

from edge.catalogue import CATALOGUE

LANGUAGES = ("nl", "en")


class MissingText(KeyError):
    """A message id the catalogue does not have (a test fails on every such id)."""


def text(key: str, lang: str, **values: Any) -> str:
    """The message ``key`` in ``lang`` (Dutch when ``lang`` is unknown), filled in."""
    entry = CATALOGUE.get(key)
    if entry is None:
        raise MissingText(key)
    template = entry.get(lang) or entry["nl"]
    return template.format(**values) if values else template


def has(key: str) -> bool:
    return key in CATALOGUE


def placeholders(template: str) -> set[str]:
    """The ``{names}`` a template fills in."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def number(value: float, lang: str, digits: int = 1) -> str:
    """A number as people write it: no trailing ``.0``, a decimal comma in Dutch."""
    rounded = round(float(value), digits)
    out = f"{rounded:.0f}" if rounded == int(rounded) else f"{rounded:.{digits}f}"
    return out.replace(".", ",") if lang == "nl" else out


def duration(minutes: float, lang: str) -> str:
    """Minutes in the largest units that read well: ``45 min``, ``3 uur 10 min``."""
    total = max(0, round(float(minutes)))
    days, rest = divmod(total, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = []
    if days:
        parts.append(text("unit.days" if days > 1 else "unit.day", lang, n=days))
    if hours:
        parts.append(text("unit.hours", lang, n=hours))
    if mins and not days:
        parts.append(text("unit.minutes", lang, n=mins))
    return " ".join(parts) or text("unit.minutes", lang, n=0)
