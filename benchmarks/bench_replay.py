"""Replay throughput of the whole pipeline next to the floor of merely parsing the lines.

    python benchmarks/bench_replay.py [RECORDING] [--lines N] [--jobs N] [--config FLAT.yaml]

Without a recording it writes a synthetic one (80 apartments, motion, doors, plugs,
heartbeats) to a temporary folder. Prints lines per second for: reading and json.loads of
each line (the floor); the skeleton (the line parsed into a message, its payload kept in
the event log on disk as the hub keeps it, and one empty call per detector: what any
pipeline in this interpreter that keeps every event pays before it does anything); the
whole pipeline with the store in memory; and with the store on disk (WAL), as the gateway
runs it; then the replay in shards (``thuisplus replay --jobs N``: N processes, merged)
beside one process, both with the store in memory, as ``make eval`` runs it. There is no
peer (another hub replaying the same lines) to print beside it; the floor stands in for
one. Goals: one process within 6x of the floor (issue 19; 4x in the long run).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import random
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from detectors.base import registry  # noqa: E402
from edge.app import build_hub, load_config  # noqa: E402
from edge.config import Config  # noqa: E402
from edge.decode import encode_payload  # noqa: E402
from edge.models import Message  # noqa: E402
from edge.recording import RecordingWriter, open_text, read_recording  # noqa: E402
from edge.replay import replay, replay_sharded  # noqa: E402
from edge.store import Store  # noqa: E402

ROOMS = ["bedroom", "bathroom", "toilet", "kitchen", "living", "hall"]


def synthetic(path: Path, lines: int, seed: int = 1) -> Path:
    rng = random.Random(seed)
    t = datetime(2026, 1, 5, tzinfo=UTC).timestamp()
    with RecordingWriter(path) as w:
        for _ in range(lines):
            t += rng.expovariate(1 / 1.2)
            apt = f"a{rng.randrange(80):03d}"
            r = rng.random()
            if r < 0.7:
                room = rng.choice(ROOMS)
                topic, payload = (
                    f"{apt}/{room}/motion",
                    {
                        "occupancy": rng.random() < 0.5,
                        "battery": rng.randint(20, 100),
                        "linkquality": rng.randint(20, 250),
                        "illuminance": rng.randint(0, 400),
                    },
                )
            elif r < 0.85:
                topic, payload = (
                    f"{apt}/entrance/door",
                    {
                        "contact": rng.random() < 0.5,
                        "battery": 90,
                        "linkquality": 100,
                        "voltage": 3005,
                        "device_temperature": 21,
                    },
                )
            else:
                topic, payload = (
                    f"{apt}/kitchen/kettle",
                    {
                        "power": round(rng.random() * 2000, 1),
                        "state": "ON",
                        "linkquality": 150,
                    },
                )
            w.write(datetime.fromtimestamp(t, UTC), f"zigbee2mqtt/{topic}", payload)
    return path


def floor(path: Path) -> tuple[int, float]:
    start = time.perf_counter()
    n = 0
    with open_text(path) as fh:
        for line in fh:
            json.loads(line)
            n += 1
    return n, time.perf_counter() - start


class _Empty:
    def on_event(self, message: Message) -> tuple[()]:
        return ()


def skeleton(path: Path, state: Path) -> tuple[int, float]:
    """Parse, keep the payload in the event log (as :meth:`Hub.handle` encodes and keeps
    it), and call one empty method per registered detector; nothing else."""
    config = Config()
    store = Store(state, config.store)
    calls = [_Empty().on_event for _ in registry()]
    encode = encode_payload
    start = time.perf_counter()
    n = 0
    for item in read_recording(path):
        n += 1
        if isinstance(item, Message):
            payload = item.payload
            text = payload if isinstance(payload, str) else encode(payload)
            received = item.received.timestamp()
            store.add_event(item.topic, received, received, text, text.encode())
            for call in calls:
                call(item)
    store.flush()
    secs = time.perf_counter() - start
    store.close()
    return n, secs


def pipeline(path: Path, state: Path | None, config: Config) -> tuple[int, float]:
    hub = build_hub(config, Store(state, config.store))
    start = time.perf_counter()
    n = replay([path], hub)
    hub.store.close()
    return n, time.perf_counter() - start


def sharded(path: Path, jobs: int, config: Config) -> tuple[int, float, float]:
    """Lines, wall seconds, and CPU seconds of the shard processes and the merge."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = time.process_time()
    start = time.perf_counter()
    n = replay_sharded([path], config, jobs).lines
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    used = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return n, wall, used + time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recording", nargs="?", type=Path)
    parser.add_argument("--lines", type=int, default=300_000)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="default: cores")
    parser.add_argument("--config", type=Path, help="the flat's config (a simulation's flat.yaml)")
    args = parser.parse_args()
    config = load_config(args.config)
    logging.basicConfig(level=logging.ERROR)
    logging.getLogger("edge.escalation").setLevel(logging.CRITICAL)  # (nobody acknowledges)
    with tempfile.TemporaryDirectory() as tmp:
        rec = args.recording or synthetic(Path(tmp) / "bench.jsonl", args.lines)
        n, base = floor(rec)
        floor_rate = n / base
        print(f"machine: {platform.machine()}, Python {platform.python_version()}, {rec.name}")
        print(f"{'what':<42} {'lines/s':>12} {'x floor':>8}  (CPU s where shown)")
        print(f"{'read + json.loads (floor)':<42} {floor_rate:>12,.0f} {1.0:>8.2f}")
        m, secs = skeleton(rec, Path(tmp) / "skeleton.sqlite")
        label = f"skeleton: event log + {len(registry())} empty calls"
        print(f"{label:<42} {m / secs:>12,.0f} {floor_rate * secs / m:>8.2f}")
        print(f"{'peer (another hub on the same lines)':<42} {'none':>12}")
        one = 0.0
        for label, state in (
            ("whole pipeline, store in memory, --jobs 1", None),
            ("whole pipeline, store on disk (WAL)", Path(tmp) / "s.sqlite"),
        ):
            cpu = time.process_time()
            m, secs = pipeline(rec, state, config)
            rate = m / secs
            if not one:
                one, one_cpu = secs, time.process_time() - cpu
            print(f"{label:<42} {rate:>12,.0f} {floor_rate / rate:>8.2f}")
        print(f"{'  (--jobs 1 CPU)':<42} {'':>12} {'':>8}  {one_cpu:.1f} s")
        if args.jobs > 1:
            m, secs, used = sharded(rec, args.jobs, config)
            label = f"whole pipeline, store in memory, --jobs {args.jobs}"
            print(
                f"{label:<42} {m / secs:>12,.0f} {floor_rate * secs / m:>8.2f}"
                f"  {used:.1f} s; wall {one / secs:.2f}x --jobs 1"
            )


if __name__ == "__main__":
    main()
