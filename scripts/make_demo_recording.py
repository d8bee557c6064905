"""Writes edge/data/demo.jsonl: two days of three apartments with something of everything.

Run from the repository root: python scripts/make_demo_recording.py
The output is deterministic (a fixed seed), so the file only changes when this script does.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from edge.recording import format_line

TZ = ZoneInfo("Europe/Amsterdam")
START = datetime(2026, 1, 5, 0, 0, tzinfo=TZ)
rng = random.Random(20260105)
lines: list[tuple[datetime, str]] = []


def msg(t: datetime, topic: str, payload: object) -> None:
    lines.append((t, format_line(t, f"zigbee2mqtt/{topic}", payload)))


def raw(t: datetime, text: str) -> None:
    lines.append((t, text))


def day_of_motion(apt: str, day: int, rooms: list[str], battery: dict[str, float]) -> None:
    base = START + timedelta(days=day)
    t = base + timedelta(hours=7, minutes=rng.randint(0, 40))
    end = base + timedelta(hours=22, minutes=30)
    while t < end:
        room = rng.choice(rooms)
        battery[room] = max(battery[room] - 0.05, 0)
        payload = {
            "occupancy": True,
            "battery": round(battery[room]),
            "linkquality": rng.randint(60, 200),
        }
        msg(t, f"{apt}/{room}/motion", payload)
        msg(
            t + timedelta(seconds=rng.randint(60, 90)),
            f"{apt}/{room}/motion",
            {**payload, "occupancy": False},
        )
        t += timedelta(minutes=rng.randint(4, 30))
    # hourly heartbeat of the door contact
    for h in range(24):
        msg(
            base + timedelta(hours=h, minutes=3),
            f"{apt}/entrance/door",
            {"contact": True, "battery": 90, "linkquality": 120},
        )


rooms = ["bedroom", "bathroom", "kitchen", "living", "hall"]
for apt in ("a001", "a002", "a003"):
    batt = {r: 80.0 for r in rooms}
    if apt == "a002":
        batt["hall"] = 15.2
    for day in (0, 1):
        day_of_motion(
            apt,
            day,
            rooms if not (apt == "a003" and day == 1) else [r for r in rooms if r != "kitchen"],
            batt,
        )

d0 = START
# a001: an outing, then a fall in the bathroom reported by the radar (twice, and a QoS-1 repeat)
msg(d0 + timedelta(hours=10), "a001/entrance/door", {"contact": False})
msg(d0 + timedelta(hours=10, seconds=20), "a001/entrance/door", {"contact": True})
msg(d0 + timedelta(hours=11, minutes=40), "a001/entrance/door", {"contact": False})
msg(d0 + timedelta(hours=11, minutes=40, seconds=15), "a001/entrance/door", {"contact": True})
fall_t = d0 + timedelta(days=1, hours=7, minutes=42, seconds=5)
msg(fall_t, "a001/bathroom/radar", {"fall": True, "presence": True, "linkquality": 150})
msg(
    fall_t + timedelta(milliseconds=300),
    "a001/bathroom/radar",
    {"fall": True, "presence": True, "linkquality": 150},
)
msg(fall_t + timedelta(seconds=30), "a001/bathroom/radar", {"fall": True, "presence": True})
# a002: SOS pendant, and the toilet sensor drops off the mesh
msg(d0 + timedelta(hours=14, minutes=5), "a002/living/pendant", {"action": "sos", "battery": 95})
msg(d0 + timedelta(hours=14, minutes=5, seconds=2), "a002/living/pendant", {"action": ""})
msg(d0 + timedelta(hours=16), "a002/toilet/motion/availability", {"state": "offline"})
# heartbeats of the pendant and the common-room sensor (Zigbee devices report now and then)
for h in range(0, 48, 2):
    msg(d0 + timedelta(hours=h, minutes=17), "a002/living/pendant", {"battery": 95})
    msg(
        d0 + timedelta(hours=h, minutes=31),
        "common/common_room/motion",
        {"occupancy": False, "battery": 70},
    )
# common room activity
for h in (10, 11, 15, 16):
    msg(
        d0 + timedelta(hours=h, minutes=rng.randint(0, 50)),
        "common/common_room/motion",
        {"occupancy": True, "battery": 70},
    )
# bad input: a broken line, a text payload, a clock at 1970, a year ahead, an unknown room
raw(d0 + timedelta(hours=12), '{"ts": "2026-01-05T12:00:00+01:00", "topic": "zigbee2mqtt/a00')
msg(d0 + timedelta(hours=12, minutes=1), "a003/kitchen/motion", "occupancy on")
msg(
    d0 + timedelta(hours=12, minutes=2),
    "a003/living/motion",
    {"occupancy": True, "last_seen": "1970-01-01T00:00:05+00:00"},
)
msg(
    d0 + timedelta(hours=12, minutes=3),
    "a003/living/motion",
    {"occupancy": True, "last_seen": "2027-01-05T12:03:00+01:00"},
)
msg(d0 + timedelta(hours=12, minutes=4), "a003/garage/motion", {"occupancy": True})
msg(d0 + timedelta(hours=12, minutes=5), "bridge/state", {"state": "online"})

lines.sort(key=lambda item: item[0])
out = Path(__file__).resolve().parents[1] / "edge" / "data" / "demo.jsonl"
out.write_text("".join(text + "\n" for _, text in lines), encoding="utf-8")
print(f"wrote {len(lines)} lines to {out}")
