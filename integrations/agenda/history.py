"""A signal's audit trail as the meeting reads it: local times, verbs in the agenda's
language, and runs of the hub's repeated lines (a page every five minutes while nobody
acknowledged, a trend seen again each day) folded into one line each.

>>> from zoneinfo import ZoneInfo
>>> trail = [{"at": f"2026-01-07T09:{m:02d}:00+00:00", "actor": "hub", "action": "alerted",
...           "details": {"target": "on_call", "level": 0}} for m in range(0, 30, 5)]
>>> history_lines(trail, ZoneInfo("Europe/Amsterdam"), "en")
['Wed 07-01 10:00, hub: paged 6 times until 10:25 (up to step 1: on_call)']
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any

from edge.i18n import has, text

FOLDED = frozenset({"alerted", "repeat"})


def history_verb(action: str, details: dict[str, Any], lang: str) -> str:
    """One audit action in words."""
    if action == "assigned":
        domain = str(details.get("domain", ""))
        name = text(f"domain.{domain}", lang) if has(f"domain.{domain}") else domain
        return text("action.assigned", lang, domain=name, role=details.get("role", ""))
    if action == "alerted":
        level = int(details.get("level", 0)) + 1
        return text("action.alerted", lang, target=details.get("target", ""), level=level)
    if has(f"action.{action}"):
        return text(f"action.{action}", lang)
    return text("action.other", lang, action=action)


def _stamp(at: str, tz: tzinfo, lang: str) -> str:
    local = datetime.fromisoformat(at).astimezone(tz)
    return f"{text(f'weekday.{local.weekday()}', lang)} {local:%d-%m %H:%M}"


def _folded(run: list[dict[str, Any]], tz: tzinfo, lang: str) -> str:
    first, last = _stamp(run[0]["at"], tz, lang), _stamp(run[-1]["at"], tz, lang)
    if first[:-5] == last[:-5]:
        last = last[-5:]  # the same day: the time will do
    if run[0]["action"] == "repeat":
        return text("action.repeats", lang, n=len(run), last=last)
    level = max(int(s["details"].get("level", 0)) for s in run) + 1
    targets = list(dict.fromkeys(str(s["details"].get("target", "")) for s in run))
    return text(
        "action.alerts", lang, n=len(run), last=last, level=level, targets=", ".join(targets)
    )


def _line(step: dict[str, Any], tz: tzinfo, lang: str) -> str:
    d = step["details"]
    out = f"{_stamp(step['at'], tz, lang)}, {step['actor']}: "
    out += history_verb(step["action"], d, lang)
    reason = d.get("reason_en") if lang == "en" and d.get("reason_en") else d.get("reason")
    if reason:
        out += f": {reason}"
    if d.get("verdict") and has(f"verdict.{d['verdict']}"):
        out += " (" + text(f"verdict.{d['verdict']}", lang) + ")"
    if d.get("notes"):
        out += f": {d['notes']}"
    return out


def history_lines(trail: list[dict[str, Any]], tz: tzinfo, lang: str) -> list[str]:
    """The trail in words, one line per step; consecutive steps of a folded kind in one."""
    out: list[str] = []
    i = 0
    while i < len(trail):
        step = trail[i]
        j = i + 1
        if step["action"] in FOLDED:
            while j < len(trail) and trail[j]["action"] == step["action"]:
                j += 1
        if j - i > 1:
            first = _stamp(trail[i]["at"], tz, lang)
            out.append(f"{first}, {step['actor']}: {_folded(trail[i:j], tz, lang)}")
        else:
            out.append(_line(step, tz, lang))
        i = j
    return out
