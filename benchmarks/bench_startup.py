"""Start-up time of a command that needs no detector: ``thuisplus signals list``.

    python benchmarks/bench_startup.py [--runs N]

Runs, one after another in turns (so a busy machine slows each alike): the interpreter
alone (``python -c pass``, the floor), ``python -c "import pydantic"`` (what the hub's
writing register needs, for comparison), and ``thuisplus signals --state-dir S list`` and
``signals show`` on a small store, each as ``python -m edge.cli`` and through the installed
``thuisplus`` console script (when the interpreter's bin folder has one; it runs this
checkout's code). Prints the median and the best wall time of each, and which of pydantic,
numpy, river and influxdb_client the listing imported (``python -X importtime``). Goal
(issue 19): under 150 ms, none of those.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENV = {
    **{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
    "PYTHONPATH": str(ROOT),
}
"""The console script imports ``edge`` from this checkout, not the one installed; with
bytecode caches written (the first, untimed run of each writes them), as a hub installed
by pip runs (compiling edge/cli.py alone takes ~25 ms)."""
HEAVY = ("pydantic", "numpy", "river", "influxdb_client")


def timed(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True, cwd=ROOT, env=ENV)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    py = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "state"
        demo = ROOT / "edge" / "data" / "demo.jsonl"
        cli = [py, "-m", "edge.cli"]
        subprocess.run(
            [*cli, "replay", str(demo), "--state-dir", str(state), "--quiet", "--no-progress"],
            check=True,
            capture_output=True,
            cwd=ROOT,
        )
        listing = ["signals", "--state-dir", str(state), "list"]
        first = subprocess.run(
            [*cli, *listing], check=True, capture_output=True, text=True, cwd=ROOT
        ).stdout.split()[0]
        cases = {
            "python -c pass (floor)": [py, "-c", "pass"],
            "python -c 'import pydantic'": [py, "-c", "import pydantic"],
            "thuisplus signals list": [*cli, *listing],
            "thuisplus signals show ID": [*cli, *listing[:-1], "show", first],
        }
        script = Path(py).parent / "thuisplus"
        if script.is_file():
            cases["bin/thuisplus signals list"] = [str(script), *listing]
        for argv in cases.values():
            timed(argv)  # (writes the bytecode caches)
        times: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(args.runs):
            for name, argv in cases.items():
                times[name].append(timed(argv))
        print(f"{'what':<32} {'median':>9} {'best':>9}  (runs: {args.runs})")
        for name, found in times.items():
            median, best = statistics.median(found) * 1e3, min(found) * 1e3
            print(f"{name:<32} {median:>7.0f} ms {best:>6.0f} ms")
        done = subprocess.run(
            [py, "-X", "importtime", *cases["thuisplus signals list"][1:]],
            check=True,
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        loaded = {line.split("|")[-1].strip().split(".")[0] for line in done.stderr.splitlines()}
        heavy = [name for name in HEAVY if name in loaded]
        print(f"heavy modules imported by signals list: {', '.join(heavy) or 'none'}")


if __name__ == "__main__":
    main()
