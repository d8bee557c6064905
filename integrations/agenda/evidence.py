"""A signal's evidence in words: one or two sentences per kind, with units and local times.

Each signal kind has a renderer (a test fails for a kind without one); a renderer reads
the keys its detector writes (detectors/*.py) and leaves out what is missing, so no
``None``, ISO timestamp, list or internal rule name reaches the page. Keys it does not
know stay in the raw view the agenda folds under each signal.

>>> from zoneinfo import ZoneInfo
>>> from datetime import date
>>> ctx = Context("nl", ZoneInfo("Europe/Amsterdam"), date(2026, 1, 7))
>>> ev = {"rule": "learned", "baseline_minutes": 70.0, "threshold_minutes": 120.0,
...       "observed_minutes": 180.0, "last_room": "living",
...       "window": ["2026-01-07T10:31:04+01:00", "2026-01-07T13:31:04+01:00"]}
>>> print(sentences("inactivity", ev, ctx)[0])  # doctest: +NORMALIZE_WHITESPACE
Sinds 10:31 geen beweging, 3 uur (laatst in de woonkamer); meestal hooguit 1 uur 10 min
stil op dit uur, de grens lag op 2 uur.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import Any

from edge.heartbeat import channel_name
from edge.i18n import duration, has, number, text

Renderer = Callable[[dict[str, Any], "Context"], list[str]]


@dataclass(frozen=True)
class Context:
    lang: str
    tz: tzinfo
    day: date | None
    """The local day the signal was detected: times on it read as ``10:31``, others with
    their weekday and date (``za 10-01 10:31``)."""

    def t(self, key: str, **values: Any) -> str:
        return text(key, self.lang, **values)


def when(value: Any, ctx: Context) -> str | None:
    """An ISO time as the flat reads it, or ``None`` when it is not one."""
    if not isinstance(value, str):
        return None
    try:
        ts = datetime.fromisoformat(value)
    except ValueError:
        return None
    if ts.tzinfo is None:
        return None
    local = ts.astimezone(ctx.tz)
    if local.date() == ctx.day:
        return f"{local:%H:%M}"
    return f"{ctx.t(f'weekday.{local.weekday()}')} {local:%d-%m %H:%M}"


def day_text(value: Any, ctx: Context) -> str | None:
    """An ISO date as ``za 10-01``."""
    if not isinstance(value, str):
        return None
    try:
        d = date.fromisoformat(value)
    except ValueError:
        return None
    return f"{ctx.t(f'weekday.{d.weekday()}')} {d:%d-%m}"


def minutes(value: Any, ctx: Context) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return duration(float(value), ctx.lang)


def room(value: Any, ctx: Context) -> str:
    key = f"room.{value}"
    return ctx.t(key) if has(key) else str(value)


def device(sensor: Any, ctx: Context) -> str | None:
    """``a012/bedroom/motion`` as ``'motion' in de slaapkamer``."""
    if not isinstance(sensor, str) or sensor.count("/") < 2:
        return None
    _, where, name = sensor.split("/", 2)
    return ctx.t("ev.device", device=name, room=room(where, ctx))


def num(value: Any, ctx: Context, digits: int = 1) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return number(float(value), ctx.lang, digits)


def _all(*values: str | None) -> bool:
    return all(v is not None for v in values)


def _context_lines(ev: dict[str, Any], ctx: Context) -> list[str]:
    """What urgent kinds share: where the resident was, quiet sensors that add doubt."""
    out = []
    presence = ev.get("presence")
    if presence in ("home", "away"):
        out.append(ctx.t(f"ev.presence.{presence}"))
    quiet = ev.get("uncertain")
    if isinstance(quiet, list) and quiet:
        names = [d for d in (device(s, ctx) for s in quiet) if d]
        if names:
            out.append(ctx.t("ev.uncertain", sensors=", ".join(names)))
    return out


def _window_start(ev: dict[str, Any], ctx: Context) -> str | None:
    window = ev.get("window")
    if isinstance(window, list) and window:
        return when(window[0], ctx)
    return None


def silence(ev: dict[str, Any], ctx: Context) -> list[str]:
    """inactivity and fall_silence: how long no movement, against the learned usual."""
    since = _window_start(ev, ctx)
    observed = minutes(ev.get("observed_minutes"), ctx)
    limit = minutes(ev.get("threshold_minutes"), ctx)
    usual = minutes(ev.get("baseline_minutes"), ctx)
    where = room(ev.get("last_room") or ev.get("place") or "other", ctx)
    out = []
    if _all(since, observed, limit):
        if usual is not None and ev.get("rule") == "learned":
            out.append(
                ctx.t(
                    "ev.silence.learned",
                    since=since,
                    observed=observed,
                    usual=usual,
                    limit=limit,
                    room=where,
                )
            )
        else:
            out.append(
                ctx.t("ev.silence.cold", since=since, observed=observed, limit=limit, room=where)
            )
    learned = ev.get("learned_days")
    if isinstance(learned, int) and not isinstance(learned, bool):
        out.append(ctx.t("ev.silence.days", n=learned))
    return out + _context_lines(ev, ctx)


def fall(ev: dict[str, Any], ctx: Context) -> list[str]:
    if ev.get("source") == "silence":
        return silence(ev, ctx)
    name = device(ev.get("sensor"), ctx)
    return [ctx.t("ev.fall.sensor", device=name) if name else ctx.t("ev.fall.plain")]


def no_wake(ev: dict[str, Any], ctx: Context) -> list[str]:
    deadline = when(ev.get("deadline"), ctx)
    usual = ev.get("usual_wake") if isinstance(ev.get("usual_wake"), str) else None
    latest = ev.get("latest_wake") if isinstance(ev.get("latest_wake"), str) else None
    n = ev.get("learned_from_days")
    out = []
    if deadline is not None:
        rule = ev.get("rule")
        if rule == "learned" and usual is not None and isinstance(n, int):
            out.append(ctx.t("ev.no_wake.learned", deadline=deadline, usual=usual, n=n))
        elif rule == "early" and latest is not None and isinstance(n, int):
            out.append(ctx.t("ev.no_wake.early", deadline=deadline, latest=latest, n=n))
        else:
            out.append(ctx.t("ev.no_wake.cold", deadline=deadline))
    last = when(ev.get("last_activity"), ctx)
    if last is not None:
        out.append(ctx.t("ev.last_activity", at=last))
    if ev.get("in_bed") is True:
        out.append(ctx.t("ev.in_bed.yes"))
    elif ev.get("in_bed") is False:
        out.append(ctx.t("ev.in_bed.no"))
    if ev.get("weekend") is True:
        out.append(ctx.t("ev.no_wake.weekend"))
    return out + _context_lines(ev, ctx)


def long_bathroom(ev: dict[str, Any], ctx: Context) -> list[str]:
    since = _window_start(ev, ctx)
    observed = minutes(ev.get("observed_minutes"), ctx)
    limit = minutes(ev.get("threshold_minutes"), ctx)
    usual = minutes(ev.get("baseline_minutes"), ctx)
    where = room(ev.get("room") or "bathroom", ctx)
    out = []
    if _all(since, observed, limit):
        if usual is not None and ev.get("rule") == "learned":
            out.append(
                ctx.t(
                    "ev.bathroom.learned",
                    since=since,
                    observed=observed,
                    usual=usual,
                    limit=limit,
                    room=where,
                )
            )
        else:
            stays = ev.get("stays_learned")
            out.append(
                ctx.t(
                    "ev.bathroom.cold",
                    since=since,
                    observed=observed,
                    limit=limit,
                    room=where,
                    n=stays if isinstance(stays, int) else 0,
                )
            )
    last = when(ev.get("last_movement"), ctx)
    if last is not None:
        out.append(ctx.t("ev.last_movement", at=last))
    return out + _context_lines(ev, ctx)


def door_open(ev: dict[str, Any], ctx: Context) -> list[str]:
    since = _window_start(ev, ctx)
    observed = minutes(ev.get("observed_minutes"), ctx)
    limit = minutes(ev.get("baseline_minutes"), ctx)
    out = []
    if _all(since, observed, limit):
        out.append(ctx.t("ev.door_open", since=since, observed=observed, limit=limit))
    return out + _context_lines(ev, ctx)


def sos(ev: dict[str, Any], ctx: Context) -> list[str]:
    name = device(ev.get("sensor"), ctx)
    return [ctx.t("ev.sos", device=name) if name else ctx.t("ev.sos.plain")]


def sensor_offline(ev: dict[str, Any], ctx: Context) -> list[str]:
    name = device(ev.get("sensor"), ctx)
    since = when(ev.get("last_seen"), ctx)
    hours = ev.get("silent_hours")
    silent = minutes(hours * 60, ctx) if isinstance(hours, int | float) else None
    how = str(ev.get("how", ""))
    out = []
    if name is not None and since is not None:
        if how == "availability":
            out.append(ctx.t("ev.offline.availability", device=name, since=since))
        elif silent is not None:
            key = "ev.offline.held" if how.startswith("held back") else "ev.offline.silence"
            out.append(ctx.t(key, device=name, since=since, hours=silent))
    usual = ev.get("usual_limit_hours")
    if isinstance(usual, int | float) and not isinstance(usual, bool):
        out.append(ctx.t("ev.offline.usual", usual=duration(usual * 60, ctx.lang)))
    return out


def low_battery(ev: dict[str, Any], ctx: Context) -> list[str]:
    name = device(ev.get("sensor"), ctx)
    pct = num(ev.get("battery_pct"), ctx, 0)
    threshold = num(ev.get("threshold_pct"), ctx, 0)
    if name is None or pct is None or threshold is None:
        return []
    return [ctx.t("ev.battery", device=name, pct=pct, threshold=threshold)]


def hub_fault(ev: dict[str, Any], ctx: Context) -> list[str]:
    """A crash loop, or an alarm path down (``edge.heartbeat``).

    >>> from zoneinfo import ZoneInfo
    >>> from datetime import date
    >>> ev = {"fault": "alarm_path", "channel": "webhook:alarm_centre", "missed": 2,
    ...       "since": "2026-01-07T05:31:00+00:00", "reason": "HTTP 503"}
    >>> for lang in ("nl", "en"):  # doctest: +NORMALIZE_WHITESPACE
    ...     print(hub_fault(ev, Context(lang, ZoneInfo("Europe/Amsterdam"), date(2026, 1, 7)))[0])
    Het alarmpad naar het eindpunt (webhook) van alarm_centre gaf geen antwoord: 2 hartslagen
    op rij gemist, sinds 06:31.
    The alarm path to the endpoint (webhook) of alarm_centre did not answer: 2 heartbeats
    missed in a row, since 06:31.
    """
    if ev.get("fault") == "alarm_path":  # edge.heartbeat
        channel, missed = ev.get("channel"), ev.get("missed")
        since = when(ev.get("since"), ctx)
        if not isinstance(channel, str) or not isinstance(missed, int) or since is None:
            return []
        name = channel_name(channel, ctx.lang)
        return [ctx.t("ev.hub_fault.alarm_path", channel=name, missed=missed, since=since)]
    n = ev.get("restarts")
    window = minutes(ev.get("window_minutes"), ctx)
    first = when(ev.get("first_start"), ctx)
    if not isinstance(n, int) or window is None or first is None:
        return []
    return [ctx.t("ev.hub_fault", n=n, window=window, first=first)]


def trend_window(ev: dict[str, Any], ctx: Context) -> list[str]:
    """What every slow trend shares: the window compared, and whether it came back."""
    out = []
    window = ev.get("window")
    if isinstance(window, dict):
        recent = window.get("recent")
        baseline = window.get("baseline_days")
        if isinstance(recent, list) and len(recent) == 2 and isinstance(baseline, int):
            first, last = day_text(recent[0], ctx), day_text(recent[1], ctx)
            if first is not None and last is not None:
                out.append(ctx.t("ev.trend.window", first=first, last=last, baseline=baseline))
    if ev.get("raised_again") is True:
        out.append(ctx.t("ev.trend.again"))
    return out


def _ratios(ev: dict[str, Any], index_key: str, ctx: Context) -> list[str]:
    ratios, index = ev.get("ratios"), ev.get(index_key)
    if not isinstance(ratios, dict) or not isinstance(index, int | float):
        return []
    parts = [
        ctx.t("ev.ratio", what=ctx.t(f"feature.{k}"), pct=number(100 * v, ctx.lang, 0))
        for k, v in ratios.items()
        if has(f"feature.{k}") and isinstance(v, int | float)
    ]
    if not parts:
        return []
    return [ctx.t("ev.ratios", pct=number(100 * index, ctx.lang, 0), parts=", ".join(parts))]


def withdrawal(ev: dict[str, Any], ctx: Context) -> list[str]:
    now, usual = num(ev.get("observed"), ctx, 0), num(ev.get("baseline"), ctx, 0)
    days = ev.get("days")
    out = []
    if now is not None and usual is not None and isinstance(days, int):
        out.append(ctx.t("ev.withdrawal", now=now, usual=usual, days=days))
    return out + _ratios(ev, "contact_index", ctx) + trend_window(ev, ctx)


def nutrition(ev: dict[str, Any], ctx: Context) -> list[str]:
    now, usual = num(ev.get("observed"), ctx, 0), num(ev.get("baseline"), ctx, 0)
    out = [ctx.t("ev.nutrition", now=now, usual=usual)] if _all(now, usual) else []
    return out + _ratios(ev, "kitchen_index", ctx) + trend_window(ev, ctx)


def night_toilet(ev: dict[str, Any], ctx: Context) -> list[str]:
    now, usual = num(ev.get("observed"), ctx), num(ev.get("baseline"), ctx)
    out = [ctx.t("ev.night_toilet", now=now, usual=usual)] if _all(now, usual) else []
    nights = ev.get("nights")
    if isinstance(nights, int):
        out.append(ctx.t("ev.night_toilet.nights", n=nights))
    return out + trend_window(ev, ctx)


def night_wandering(ev: dict[str, Any], ctx: Context) -> list[str]:
    n, nights = ev.get("restless_nights"), ev.get("nights")
    limit = minutes(ev.get("limit_minutes"), ctx)
    longest = minutes(ev.get("longest_minutes"), ctx)
    usual = minutes(ev.get("baseline"), ctx)
    out = []
    if isinstance(n, int) and isinstance(nights, int) and _all(limit, longest, usual):
        out.append(
            ctx.t(
                "ev.night_wandering", n=n, nights=nights, limit=limit, longest=longest, usual=usual
            )
        )
    return out + trend_window(ev, ctx)


def mobility_decline(ev: dict[str, Any], ctx: Context) -> list[str]:
    now, usual = num(ev.get("observed"), ctx), num(ev.get("baseline"), ctx)
    out = [ctx.t("ev.mobility", now=now, usual=usual)] if _all(now, usual) else []
    a_now = num(ev.get("activity_observed"), ctx, 0)
    a_usual = num(ev.get("activity_baseline"), ctx, 0)
    if _all(a_now, a_usual):
        out.append(ctx.t("ev.mobility.activity", now=a_now, usual=a_usual))
    return out + trend_window(ev, ctx)


RENDERERS: dict[str, Renderer] = {
    "fall": fall,
    "sos": sos,
    "no_wake": no_wake,
    "inactivity": silence,
    "long_bathroom": long_bathroom,
    "door_open": door_open,
    "night_wandering": night_wandering,
    "withdrawal": withdrawal,
    "nutrition": nutrition,
    "night_toilet": night_toilet,
    "mobility_decline": mobility_decline,
    "sensor_offline": sensor_offline,
    "low_battery": low_battery,
    "hub_fault": hub_fault,
}


def sentences(kind: str, evidence: dict[str, Any], ctx: Context) -> list[str]:
    """The evidence of a ``kind`` signal in words; a fallback line when none can be made
    (the raw view then carries it)."""
    renderer = RENDERERS.get(kind)
    out = renderer(evidence, ctx) if renderer is not None else []
    return out or [ctx.t("ev.none")]


def raw(evidence: dict[str, Any]) -> str:
    """The evidence as the hub keeps it, for the folded view."""
    return json.dumps(evidence, ensure_ascii=False, indent=1, sort_keys=True, default=str)
