"""Summaries for the flat team: Dutch by default, English available.

>>> render({"nl": "Val gemeld in {room}.", "en": "Fall reported in {room}."}, "en", room="x")
'Fall reported in x.'

Numbers are written as each language writes them: a decimal comma in Dutch.

>>> texts("{n:.1f} keer per nacht", "{n:.1f} times a night", n=2.5)
{'nl': '2,5 keer per nacht', 'en': '2.5 times a night'}
"""

from __future__ import annotations

import string
from typing import Any

ROOM_NL = {
    "bedroom": "de slaapkamer",
    "bathroom": "de badkamer",
    "toilet": "het toilet",
    "kitchen": "de keuken",
    "living": "de woonkamer",
    "hall": "de gang",
    "entrance": "de voordeur",
    "balcony": "het balkon",
    "common_room": "de gemeenschappelijke ruimte",
    "other": "een andere ruimte",
}
ROOM_EN = {
    "bedroom": "the bedroom",
    "bathroom": "the bathroom",
    "toilet": "the toilet",
    "kitchen": "the kitchen",
    "living": "the living room",
    "hall": "the hall",
    "entrance": "the front door",
    "balcony": "the balcony",
    "common_room": "the common room",
    "other": "another room",
}


class _Numbers(string.Formatter):
    """``str.format`` that writes a number's decimal point as the language does."""

    def __init__(self, lang: str) -> None:
        super().__init__()
        self.lang = lang

    def format_field(self, value: Any, format_spec: str) -> str:
        out: str = super().format_field(value, format_spec)
        if self.lang == "nl" and isinstance(value, float):
            # 1,234.5 -> 1.234,5: swap the separators, as Dutch writes them
            out = out.translate(_DUTCH_SEPARATORS)
        return out


_DUTCH_SEPARATORS = str.maketrans({".": ",", ",": "."})
_FORMATTERS = {lang: _Numbers(lang) for lang in ("nl", "en")}


def fill(template: str, lang: str, **values: Any) -> str:
    """``template.format(**values)``, with numbers written as ``lang`` writes them."""
    return _FORMATTERS.get(lang, _FORMATTERS["en"]).format(template, **values)


def texts(nl: str, en: str, room: str | None = None, **values: Any) -> dict[str, str]:
    """Both languages of a summary, with ``{room}`` put in each language."""
    out = {}
    for lang, template, rooms in (("nl", nl, ROOM_NL), ("en", en, ROOM_EN)):
        extra = {"room": rooms.get(room, room)} if room is not None else {}
        out[lang] = fill(template, lang, **values, **extra)
    return out


def render(summary: dict[str, str], lang: str, **values: Any) -> str:
    """The summary in ``lang`` (Dutch when that language is missing)."""
    template = summary.get(lang) or summary["nl"]
    return fill(template, lang if summary.get(lang) else "nl", **values) if values else template


def hhmm(ts: Any) -> str:
    return f"{ts:%H:%M}"
