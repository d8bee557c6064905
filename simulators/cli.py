"""The simulator's subcommands of ``thuisplus``: simulate, import, evaluate, eval-suite.

``edge/cli.py`` calls :func:`register` with its subparsers; ``python -m simulators`` does
the same on its own. Progress goes to stderr, results to stdout.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

from simulators.episodes import EpisodeRates
from simulators.flat import CHAIR_PADS, FALL_RADARS
from simulators.knobs import AVAILABILITY_MODES, EVENT_ONLY_DEVICES, SEATED_TRIP_MIN, Knobs
from simulators.stream import SimConfig

logger = logging.getLogger(__name__)


def _progress(label: str) -> Callable[[int, int], None]:
    started = time.monotonic()
    shown = [-1]

    def show(done: int, total: int) -> None:
        step = done * 20 // max(total, 1)
        if step != shown[0] or done == total:
            shown[0] = step
            print(
                f"\r{label}: day {done}/{total} ({time.monotonic() - started:.0f} s)",
                end="\n" if done == total else "",
                file=sys.stderr,
                flush=True,
            )

    return show


def _share(text: str) -> float:
    """A share of the apartments, 0 to 1 (argparse type)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is not a share between 0 and 1")
    return value


def _rates(args: argparse.Namespace) -> EpisodeRates:
    rates = EpisodeRates().scaled(args.episode_scale)
    overrides: dict[str, float] = {}
    for item in args.rate or []:
        key, _, value = item.partition("=")
        try:
            overrides[key.strip()] = float(value)
        except ValueError as err:
            raise SystemExit(f"--rate {item!r}: expected KIND=NUMBER") from err
    try:
        return rates.with_overrides(overrides)
    except ValueError as err:
        raise SystemExit(f"--rate: {err}") from err


# knob options: (option dest, Knobs field); an option left out keeps the world's value
_KNOB_OPTIONS = (
    ("pir_miss", "pir_miss"),
    ("seated_trip_minutes", "seated_trip_min"),
    ("event_only", "event_only"),
    ("plug_use_days", "plug_use_days"),
    ("checkins", "checkins"),
    ("availability", "availability"),
    ("episodes_from_day", "episodes_from_day"),
    ("night_toilet_scale", "night_toilet_scale"),
    ("night_kitchen", "night_kitchen"),
    ("visitors", "visitor_scale"),
    ("common_room", "common_scale"),
    ("kit", "kit"),
    ("naming", "naming"),
    ("loss", "loss"),
)


def _knobs(args: argparse.Namespace, base: Knobs) -> Knobs:
    """``base`` (a world's knobs, or the defaults) with the knob options given set."""
    from dataclasses import replace

    changes: dict[str, object] = {}
    for dest, name in _KNOB_OPTIONS:
        value = getattr(args, dest, None)
        if value is not None:
            changes[name] = tuple(value) if name == "event_only" else value
    try:
        return replace(base, **changes)  # type: ignore[arg-type]
    except ValueError as err:
        raise SystemExit(f"error: {err}") from err


def _sim_config(args: argparse.Namespace) -> SimConfig:
    # eval-suite measures the standard kit unless --no-kit; a plain simulate has none
    base = Knobs(kit=getattr(args, "kit_by_default", False))
    world = getattr(args, "world", None)
    if world:
        from simulators.worlds import WORLDS

        base = WORLDS[world].fitted
    return SimConfig(
        apartments=args.apartments,
        days=args.days,
        # eval-suite has --seeds (each replaces this one); simulate has --seed
        seed=args.seed if hasattr(args, "seed") else args.seeds[0],
        start=args.start,
        rates=_rates(args),
        last_seen=args.last_seen,
        flat_name=args.flat,
        chair_pads=args.chair_pads,
        fall_radars=args.fall_radars,
        knobs=_knobs(args, base),
    )


def cmd_simulate(args: argparse.Namespace) -> int:
    import yaml

    from simulators.flat import flat_config
    from simulators.stream import Run, write_simulation

    cfg = _sim_config(args)
    if args.world:
        from simulators.worlds import WORLDS

        cfg = WORLDS[args.world].config(cfg, cfg.knobs)
    started = time.monotonic()
    show = _progress("simulate")
    if args.mqtt_host:
        from simulators.live import PublishError, publish_live

        run = Run(cfg)
        if args.out:  # the hub may want the flat's config before the first message
            args.out.mkdir(parents=True, exist_ok=True)
            (args.out / "flat.yaml").write_text(
                yaml.safe_dump(flat_config(run.flat), sort_keys=True), encoding="utf-8"
            )
        try:
            n = publish_live(run, args.mqtt_host, args.mqtt_port, args.speed, progress=show)
        except PublishError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        if args.out:
            with (args.out / "truth.jsonl").open("w", encoding="utf-8") as fh:
                for entry in run.truth_lines():
                    fh.write(json.dumps(entry) + "\n")
        print(f"published {n} messages in {time.monotonic() - started:.1f} s")
        return 0
    if args.out is None:
        print("error: --out is required (or --mqtt-host to publish live)", file=sys.stderr)
        return 2
    run = write_simulation(cfg, args.out, progress=show, workers=args.workers)
    secs = time.monotonic() - started
    print(
        f"{run.counts['messages']} messages ({run.duplicates} duplicates, "
        f"{run.out_of_order} out of order, {run.malformed} malformed), "
        f"{run.counts['truth']} truth lines in {secs:.1f} s -> {args.out}"
    )
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from simulators.importers import import_files, write_import, write_labels

    rooms: dict[str, str] = {}
    for item in args.room or []:
        sensor, _, room = item.partition("=")
        rooms[sensor.strip()] = room.strip()
    missing = [f for f in args.files if not f.exists()]
    if missing:
        print(f"error: no such file: {', '.join(map(str, missing))}", file=sys.stderr)
        return 2
    result = import_files(args.dataset, args.files, args.apartment, rooms)
    n = write_import(result, args.out)
    if args.labels_out:
        labelled = write_labels(result, args.labels_out, args.apartment)
        print(
            f"{labelled} activity labels ({len(result.label_rejects)} rejected) "
            f"-> {args.labels_out}"
        )
    elif result.labels:
        print(
            f"{len(result.labels)} activity labels read (write them with --labels-out)",
            file=sys.stderr,
        )
    rejects = result.rejects + result.label_rejects
    for where, reason in rejects[:20]:
        print(f"rejected {where}: {reason}", file=sys.stderr)
    if len(rejects) > 20:
        print(f"... and {len(rejects) - 20} more rejected rows", file=sys.stderr)
    quirks = ", ".join(f"{k}: {v}" for k, v in sorted(result.quirks.items())) or "none"
    print(
        f"{result.rows} rows -> {n} messages, {len(result.rejects)} rejected; "
        f"quirks: {quirks} -> {args.out}"
    )
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from simulators.evaluate import evaluate_files, table

    result, bad = evaluate_files(args.truth, args.signals)
    print(table(result))
    if bad:
        print(f"{len(bad)} signal lines could not be read", file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps(result.to_json(), indent=2) + "\n", encoding="utf-8")
    return 0


def cmd_eval_suite(args: argparse.Namespace) -> int:
    from simulators.eval_suite import ReplayFailed, run_suite
    from simulators.evaluate import Score, table

    cfg = _sim_config(args)
    if args.worlds:
        return _eval_worlds(args, cfg)
    try:
        report = run_suite(
            cfg,
            args.seeds,
            args.out,
            args.replay_cmd,
            progress=lambda line: print(line, file=sys.stderr, flush=True),
            workers=args.workers,
            parallel=args.parallel,
        )
    except ReplayFailed as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    pooled = report["table"]
    if not isinstance(pooled, Score):
        raise TypeError("the eval suite's report has no pooled table")
    print(table(pooled))
    print(f"scores: {args.out / 'score.json'}")
    return 0


def _eval_worlds(args: argparse.Namespace, cfg: SimConfig) -> int:
    """``eval-suite --worlds``: the suite per world, a table per world, the worst world."""
    from simulators.eval_suite import ReplayFailed
    from simulators.evaluate import Score, table
    from simulators.worlds import World, resolve, run_worlds, summary_table

    try:
        worlds = resolve(args.worlds)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    started = time.monotonic()

    def progress(line: str) -> None:
        print(f"[{time.monotonic() - started:5.0f} s] {line}", file=sys.stderr, flush=True)

    def show(name: str, world: World, wcfg: SimConfig, pooled: Score) -> None:
        changed = ", ".join(f"{k}={v}" for k, v in wcfg.knobs.changed().items()) or "defaults"
        rates = ", ".join(f"{k}={v}" for k, v in world.rates.items())
        print(f"== world {name}: {world.what}")
        print(f"   knobs: {changed}{'; rates: ' + rates if rates else ''}; days: {wcfg.days}")
        print(table(pooled))
        print(flush=True)

    try:
        result = run_worlds(
            cfg,
            worlds,
            args.seeds,
            args.out,
            args.replay_cmd,
            knobs_for=lambda w: _knobs(args, w.fitted),
            progress=progress,
            table=show,
            workers=args.workers,
            parallel=args.parallel,
        )
    except ReplayFailed as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print("== worlds side by side")
    print(summary_table(result["worlds"]))
    print(f"scores: {args.out / 'worlds.json'} (and {args.out}/<world>/score.json)")
    return 0


def _sim_options(p: argparse.ArgumentParser, days: int, apartments: int) -> None:
    p.add_argument("--apartments", type=int, default=apartments, help="apartments in the flat")
    p.add_argument("--days", type=int, default=days, help="days to simulate")
    p.add_argument(
        "--start",
        type=date.fromisoformat,
        default=date(2026, 1, 5),
        help="first day (local, Europe/Amsterdam), default 2026-01-05",
    )
    p.add_argument("--flat", default="sim-flat", help="flat id written to flat.yaml")
    p.add_argument(
        "--episode-scale",
        type=float,
        default=1.0,
        help="multiply every episode rate (per apartment-year)",
    )
    p.add_argument(
        "--rate",
        action="append",
        metavar="KIND=N",
        help="episodes per apartment-year for one kind (repeatable), "
        "e.g. --rate fall=2; also trend_ramp_days, trend_hold_days",
    )
    p.add_argument(
        "--last-seen", action="store_true", help="add Zigbee2MQTT's last_seen to every JSON payload"
    )
    p.add_argument(
        "--chair-pads",
        type=_share,
        default=CHAIR_PADS,
        help="share of apartments with a chair pad in the living room (default %(default)s)",
    )
    p.add_argument(
        "--fall-radars",
        type=_share,
        default=FALL_RADARS,
        help="share of apartments with a fall radar (default %(default)s)",
    )
    _knob_options(p)
    p.add_argument(
        "--workers",
        type=int,
        default=min(4, os.cpu_count() or 1),
        help="processes simulating apartments in parallel (same bytes for any "
        "number); default: CPUs, at most 4",
    )


def _number(low: float, high: float | None = None) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if value < low or (high is not None and value > high):
            top = "" if high is None else f" and {high:g}"
            raise argparse.ArgumentTypeError(f"{text} is not between {low:g}{top}")
        return value

    return parse


def _knob_options(p: argparse.ArgumentParser) -> None:
    """The world's modelling assumptions (docs/simulator.md, "Worlds"); left out: the
    default, or the chosen world's value."""
    g = p.add_argument_group("world knobs (docs/simulator.md; default: the standard world)")
    g.add_argument(
        "--pir-miss",
        type=_number(0.0, 1.0),
        help="chance a PIR misses a walk through its room and each other movement "
        "(0-0.2; default 0)",
    )
    g.add_argument(
        "--seated-trip-minutes",
        type=_number(0.1),
        help="mean minutes between PIR trips of a seated resident; TV, naps, sleep scale "
        f"along (3-120; default {SEATED_TRIP_MIN:g})",
    )
    g.add_argument(
        "--event-only",
        nargs="*",
        choices=sorted(EVENT_ONLY_DEVICES),
        help="devices that report only when used, no periodic reports (default none)",
    )
    g.add_argument(
        "--plug-use-days",
        type=_number(0.0, 1.0),
        help="share of days the kettle and TV plugs are used at all (0.25-1; default 1)",
    )
    g.add_argument(
        "--no-checkins",
        dest="checkins",
        action="store_const",
        const=False,
        help="no device sends its periodic (hourly-ish) report",
    )
    g.add_argument(
        "--availability",
        choices=AVAILABILITY_MODES,
        help="Zigbee2MQTT <device>/availability topics: only around sensor troubles "
        "(episodes, the default), never (off), or the availability feature on (on)",
    )
    g.add_argument(
        "--episodes-from-day",
        type=int,
        help="no labelled episode starts before this day (0 = the first; week 4 = 21; default 1)",
    )
    g.add_argument(
        "--night-toilet-scale",
        type=_number(0.0),
        help="multiplies each resident's night toilet visits (0.3-1.8 a night; 0.5-3; default 1)",
    )
    g.add_argument(
        "--night-kitchen",
        type=_number(0.0),
        help="mean night kitchen visits a night (0-2; default 0)",
    )
    g.add_argument(
        "--visitors",
        type=_number(0.0),
        help="multiplies each resident's day visits a week (0.3-4; 0-3; default 1)",
    )
    g.add_argument(
        "--common-room",
        type=_number(0.0),
        help="multiplies each resident's chance of the common room's morning coffee "
        "(0.05-0.6; 0-2; default 1)",
    )
    g.add_argument(
        "--loss",
        type=_share,
        help="share of messages lost on the way, each independently (0-0.05; default 0)",
    )
    g.add_argument(
        "--naming",
        choices=("ours", "other"),
        help="device names: ours (living/chair_pad, roles in flat.yaml) or another "
        "installer's (woonkamer/armchair, flat.yaml with residents only); default ours",
    )
    g.add_argument(
        "--kit",
        dest="kit",
        action="store_const",
        const=True,
        help="the standard kit: a chair pad for each resident in every apartment (default: "
        "on for eval-suite and for every named world but no-kit, off for a plain simulate)",
    )
    g.add_argument(
        "--no-kit",
        dest="kit",
        action="store_const",
        const=False,
        help="without the kit: about --chair-pads of the apartments have one chair pad",
    )


def _world_names() -> list[str]:
    from simulators.worlds import WORLD_ORDER

    return list(WORLD_ORDER)


def cmd_eval_real(args: argparse.Namespace) -> int:
    """``eval-real``: acute episodes put into the shared real recordings, per home."""
    from simulators.eval_suite import ReplayFailed
    from simulators.evaluate import table
    from simulators.inject import HOMES, Counts, run_real

    if not args.datasets.is_dir():
        print(f"error: no datasets folder at {args.datasets} (--datasets)", file=sys.stderr)
        return 2
    homes = list(HOMES) if "all" in args.homes else args.homes
    counts = Counts(args.falls, args.no_wakes, args.faints, args.hours)
    replay = args.replay_cmd or (
        f"{shlex.quote(sys.executable)} -m edge.cli replay {{recording}} --config {{config}} "
        "--signals-out {signals} --quiet --no-progress --jobs 1"
    )
    try:
        scores = run_real(
            args.datasets,
            args.out,
            homes,
            args.seed,
            counts,
            replay,
            progress=lambda line: print(line, file=sys.stderr, flush=True),
        )
    except (ReplayFailed, FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    report = {}
    for home, result in scores.items():
        print(f"== {home}")
        print(table(result))
        report[home] = result.to_json()
    print("home        " + "  ".join(f"{k:>12}" for k in ("fall", "no_wake", "inactivity")))
    for home, result in scores.items():
        cells = []
        for kind in ("fall", "no_wake", "inactivity"):
            k = result.kinds.get(kind)
            cells.append(f"{k['paged']:>5} of {k['episodes']:<3}" if k and k["episodes"] else "-")
        urgent = result.per_apartment_month("urgent")
        print(f"{home:<12}" + "  ".join(f"{c:>12}" for c in cells) + f"  false urgent {urgent:.3f}")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "score.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"scores: {args.out / 'score.json'}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``simulate``, ``import``, ``evaluate`` and ``eval-suite`` to a CLI."""
    p = subparsers.add_parser("simulate", help="simulate a flat: recording + ground truth")
    _sim_options(p, days=28, apartments=80)
    p.add_argument("--seed", type=int, default=1, help="random seed (same seed, same bytes)")
    p.add_argument(
        "--world",
        choices=_world_names(),
        help="a named world (simulators/worlds.py); knob options given change it further",
    )
    p.add_argument("--out", type=Path, help="output folder")
    p.add_argument("--mqtt-host", help="publish live to this broker instead of writing")
    p.add_argument("--mqtt-port", type=int, default=1883)
    p.add_argument(
        "--speed", type=float, default=60.0, help="live: simulated seconds per wall second"
    )
    p.set_defaults(func=cmd_simulate)

    p = subparsers.add_parser("import", help="convert a public dataset to a recording")
    p.add_argument("dataset", choices=["ordonez", "kasteren", "casas"])
    p.add_argument(
        "files",
        type=Path,
        nargs="+",
        help="ordonez: *_Sensors.txt [*_ADLs.txt]; kasteren: house*-ss.txt "
        "[sensorMap*.txt] [house*-as.txt actionMap*.txt]; casas: event files",
    )
    p.add_argument("--out", type=Path, required=True, help="recording (.jsonl or .jsonl.gz)")
    p.add_argument("--apartment", default="a001", help="apartment id to file it under")
    p.add_argument(
        "--labels-out",
        type=Path,
        help="write the activity labels (ordonez *_ADLs.txt; kasteren house*-as.txt "
        "with actionMap*.txt) here as JSON Lines",
    )
    p.add_argument(
        "--room",
        action="append",
        metavar="SENSOR=ROOM",
        help="casas: room of a sensor (repeatable), default 'other'",
    )
    p.set_defaults(func=cmd_import)

    p = subparsers.add_parser("evaluate", help="score signals against ground truth")
    p.add_argument("truth", type=Path, help="truth.jsonl from simulate")
    p.add_argument("signals", type=Path, help="signals JSON Lines from the hub")
    p.add_argument("--json", type=Path, help="also write the scores as JSON here")
    p.set_defaults(func=cmd_evaluate)

    p = subparsers.add_parser("eval-suite", help="simulate -> replay -> evaluate over seeds")
    _sim_options(p, days=120, apartments=80)
    p.add_argument("--seeds", type=int, nargs="+", default=[11, 22, 33])
    p.add_argument(
        "--worlds",
        nargs="+",
        metavar="NAME",
        help=f"run the suite per world ({', '.join(_world_names())}, or all) into "
        "OUT/<world>/, a table per world and the worst world per goal metric",
    )
    p.add_argument("--out", type=Path, default=Path("out/eval"))
    p.add_argument(
        "--replay-cmd",
        default="thuisplus replay {recording} --signals-out {signals}",
        help="hub replay command; {recording} {signals} {config} are filled in",
    )
    p.add_argument(
        "--parallel",
        type=int,
        default=os.cpu_count() or 1,
        help="world x seed runs (simulate + replay) at once, each in its own process "
        "(default: the cores; give the replay command --jobs 1 beside it); the files and "
        "scores are the same for any number",
    )
    p.set_defaults(func=cmd_eval_suite, kit_by_default=True)

    p = subparsers.add_parser(
        "eval-real",
        help="acute episodes put into the shared real recordings -> replay -> evaluate",
    )
    p.add_argument(
        "--datasets",
        type=Path,
        default=Path("../shared/datasets"),
        help="the shared recordings (default ../shared/datasets)",
    )
    p.add_argument(
        "--homes",
        nargs="+",
        default=["all"],
        choices=["all", "ordonezA", "ordonezB", "kasteren"],
        help="which real homes (default all)",
    )
    p.add_argument("--seed", type=int, default=1, help="which moments get an episode")
    p.add_argument("--falls", type=int, default=6, help="fall episodes per home (at most)")
    p.add_argument("--no-wakes", type=int, default=4, help="mornings in bed per home (at most)")
    p.add_argument("--faints", type=int, default=4, help="faints in the chair per home (at most)")
    p.add_argument("--hours", type=float, default=4.0, help="until help arrives (hours)")
    p.add_argument("--out", type=Path, default=Path("out/eval-real"))
    p.add_argument(
        "--replay-cmd",
        help="hub replay command; {recording} {signals} {config} are filled in (default: "
        "this hub's replay, --jobs 1)",
    )
    p.set_defaults(func=cmd_eval_real)
