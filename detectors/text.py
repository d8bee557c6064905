"""Summaries for the flat team: Dutch by default, English available.

>>> render({"nl": "Val gemeld in {room}.", "en": "Fall reported in {room}."}, "en", room="x")
'Fall reported in x.'
"""

from __future__ import annotations

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


def texts(nl: str, en: str, room: str | None = None, **values: Any) -> dict[str, str]:
    """Both languages of a summary, with ``{room}`` put in each language."""
    out = {}
    for lang, template, rooms in (("nl", nl, ROOM_NL), ("en", en, ROOM_EN)):
        extra = {"room": rooms.get(room, room)} if room is not None else {}
        out[lang] = template.format(**values, **extra)
    return out


def render(summary: dict[str, str], lang: str, **values: Any) -> str:
    """The summary in ``lang`` (Dutch when that language is missing)."""
    template = summary.get(lang) or summary["nl"]
    return template.format(**values) if values else template


def hhmm(ts: Any) -> str:
    return f"{ts:%H:%M}"
