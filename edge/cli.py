"""The ``thuisplus`` command."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import logging
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # (imported where used: a command loads only what it needs, see _load)
    from edge.config import Config
    from edge.models import Signal
    from edge.readonly import Entry, RegisterReader
    from edge.register import Register
    from edge.store import Store

logger = logging.getLogger("thuisplus")

SIMULATOR_COMMANDS = ("simulate", "import", "evaluate", "eval-suite")
"""Subcommands of simulators/cli.py: its imports (numpy) are paid only when one is run, or
for the whole help."""
DEFAULT_TIMEZONE = "Europe/Amsterdam"
"""The flat's time zone without a config (the config's own default; a test keeps them equal)."""

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

DB_NAME = "thuisplus.sqlite"


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper()),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # paho's packet-by-packet lines stay out of a debug log; its errors come through
    logging.getLogger("paho").setLevel(max(logging.INFO, logging.getLogger().level))


def _load(path: Path | None) -> Config | None:
    # the config is read with every detector registered (numpy, river): only commands
    # that need it
    from edge.app import load_config
    from edge.config import ConfigError

    try:
        return load_config(path)
    except ConfigError as err:
        for line in err.lines:
            print(line, file=sys.stderr)
        return None


class ConsoleSink:
    """Prints each signal as one readable line."""

    def __init__(self, config: Config) -> None:
        self.tz = config.tz
        self.count = 0

    def emit(self, signal: Signal) -> None:
        self.count += 1
        at = signal.detected_at.astimezone(self.tz)
        print(
            f"{at:%Y-%m-%d %H:%M:%S}  {signal.severity.value:<9} {signal.domain.value:<7} "
            f"{signal.kind.value:<15} {signal.apartment:<6} {signal.summary}",
            flush=True,
        )

    def closed(self, signal: Signal, key: str) -> None:
        at = (signal.closed_at or signal.detected_at).astimezone(self.tz)
        print(
            f"{at:%Y-%m-%d %H:%M:%S}  {'closed':<9} {signal.domain.value:<7} "
            f"{signal.kind.value:<15} {signal.apartment:<6} {signal.reason}",
            flush=True,
        )

    def close(self) -> None:
        pass


def cmd_replay(args: argparse.Namespace) -> int:
    config = _load(args.config)
    if config is None:
        return EXIT_USAGE
    missing = [p for p in args.recordings if not p.is_file()]
    if missing:
        for p in missing:
            print(f"{p}: no such recording", file=sys.stderr)
        return EXIT_USAGE
    if logging.getLogger().level > logging.INFO:
        # nobody acknowledges in a replay: the alerts it runs are counted in the summary
        logging.getLogger("edge.escalation").setLevel(logging.CRITICAL)
    if args.state_dir is None:
        # the store lives in memory and goes at exit: its event log would be read by no one
        # (a year of a flat is gigabytes of it); the signals are the same without it
        config = config.model_copy(
            update={"store": config.store.model_copy(update={"keep_raw_events": False})}
        )
    jobs = _replay_jobs(args, config)
    if jobs > 1:
        return _replay_sharded(args, config, jobs)
    return _replay_one(args, config)


def _replay_jobs(args: argparse.Namespace, config: Config) -> int:
    """How many processes: ``--jobs`` (default: the cores); one where a store or the
    history is written (those are not merged from shards)."""
    jobs = args.jobs if args.jobs is not None else (os.cpu_count() or 1)
    if jobs > 1 and (args.state_dir or config.influx.enabled):
        if args.jobs is not None:
            why = "--state-dir" if args.state_dir else "influx (history)"
            print(f"--jobs {jobs}: with {why} the replay runs in one process", file=sys.stderr)
        return 1
    return max(1, jobs)


def _progress(config: Config) -> Any:
    from edge.replay import Progress

    def progress(p: Progress) -> None:
        at = p.event_time.astimezone(config.tz).strftime("%Y-%m-%d %H:%M") if p.event_time else "-"
        print(
            f"... {p.file}: {p.lines:,} lines, event time {at}, "
            f"{p.lines / max(p.elapsed_s, 1e-9):,.0f} lines/s",
            file=sys.stderr,
            flush=True,
        )

    return progress


def _replay_sharded(args: argparse.Namespace, config: Config, jobs: int) -> int:
    import time

    from edge.replay import RecordingError, replay_sharded

    started = time.monotonic()
    try:
        merged = replay_sharded(
            args.recordings, config, jobs, None if args.no_progress else _progress(config)
        )
    except RecordingError as err:
        print(err, file=sys.stderr)
        return EXIT_FAILED
    if not args.quiet:
        console = ConsoleSink(config)
        for what, sig in merged.told:
            if what == "closed":
                console.closed(sig, "")
            else:
                console.emit(sig)
    if args.signals_out:
        args.signals_out.parent.mkdir(parents=True, exist_ok=True)
        with args.signals_out.open("w", encoding="utf-8") as fh:
            fh.writelines(line + "\n" for line in merged.lines_out)
    elapsed = time.monotonic() - started
    _replay_summary(args, merged.lines, elapsed, merged.stats, merged.faults, f" in {jobs} jobs")
    return EXIT_OK


def _replay_one(args: argparse.Namespace, config: Config) -> int:
    import time

    from edge.app import attach_history, build_hub
    from edge.pipeline import SignalSink
    from edge.replay import RecordingError, replay
    from edge.sinks import JsonlSink
    from edge.store import Store, StoreError

    try:
        store = Store(args.state_dir / DB_NAME if args.state_dir else None, config.store)
    except StoreError as err:
        print(err, file=sys.stderr)
        return EXIT_FAILED
    sinks: list[SignalSink] = []
    if not args.quiet:
        sinks.append(ConsoleSink(config))
    if args.signals_out:
        sinks.append(JsonlSink(args.signals_out))
    hub = build_hub(config, store, sinks)
    history = attach_history(config, hub, args.state_dir)
    started = time.monotonic()
    try:
        lines = replay(args.recordings, hub, None if args.no_progress else _progress(config))
    except RecordingError as err:
        print(err, file=sys.stderr)
        return EXIT_FAILED
    finally:
        for sink in sinks:
            sink.close()
        if history is not None:
            history.close()
    elapsed = time.monotonic() - started
    _replay_summary(args, lines, elapsed, hub.stats, (hub.quarantine.total, hub.quarantine.view()))
    if args.state_dir:
        print(f"  event log, dead letters and state in {args.state_dir / DB_NAME}")
    if history is not None:
        h = history.stats()
        print(
            f"  history to {config.influx.url}: {h['sent']} points sent, "
            f"{h['pending']} kept to send later, {h['dropped']} dropped"
        )
    store.close()
    return EXIT_OK


def _replay_summary(
    args: argparse.Namespace,
    lines: int,
    elapsed: float,
    st: Any,
    faults: tuple[int, list[dict[str, Any]]],
    how: str = "",
) -> None:
    print()
    print(
        f"Replayed {lines:,} lines from {len(args.recordings)} recording(s){how} "
        f"in {elapsed:.1f} s ({lines / max(elapsed, 1e-9):,.0f} lines/s)."
    )
    print(
        f"  events: {st.events:,}  repeats dropped: {st.duplicates:,}  "
        f"non-sensor topics: {st.ignored:,}  partly used: {st.partial:,}"
    )
    if st.rejected:
        print(f"  rejected: {st.rejected_total:,} (kept in the dead-letter store)")
        for reason, n in st.rejected.most_common():
            print(f"    {n:>8,}  {reason}, e.g. {st.examples[reason][:150]}")
    else:
        print("  rejected: 0")
    kinds = ", ".join(f"{k} {n}" for k, n in sorted(st.signals.items())) or "none"
    print(
        f"  signals: {sum(st.signals.values())} ({kinds}); "
        f"repeats folded into open signals: {st.repeats}"
    )
    if st.upgraded:
        print(f"  open signals a sensor confirmed (paged again): {st.upgraded}")
    if st.closed:
        closed = ", ".join(f"{k} {n}" for k, n in sorted(st.closed.items()))
        print(f"  closed by the hub, their condition cleared: {sum(st.closed.values())} ({closed})")
    if st.alerts:
        alerts = ", ".join(f"{t} {n}" for t, n in st.alerts.most_common())
        print(f"  alerts for unacknowledged urgent signals (event time): {alerts}")
    if faults[0]:
        print(
            f"  DETECTOR FAULTS: {faults[0]} (each quarantined where it failed; "
            "every other detector ran on; tracebacks in the log):"
        )
        for q in faults[1]:
            print(f"    {q['detector']} in {q['apartment']}: {q['error'][:150]}")
    if args.signals_out:
        print(f"  signals written to {args.signals_out}")


def _default_state_dir() -> Path:
    # systemd's StateDirectory= sets STATE_DIRECTORY
    env = os.environ.get("STATE_DIRECTORY")
    return Path(env.split(":")[0]) if env else Path("state")


def _state_dir_option(p: argparse.ArgumentParser, default: Path | None = None) -> None:
    """``--state-dir``: the hub's state folder (without ``default``, the command works it
    out itself: $STATE_DIRECTORY or ./state)."""
    p.add_argument(
        "--state-dir",
        type=Path,
        default=default,
        help="the hub's state folder (default: $STATE_DIRECTORY or ./state)",
    )


def cmd_run(args: argparse.Namespace) -> int:
    from edge.app import AppError, build_live
    from edge.mqtt import MqttError, check_secure
    from edge.pipeline import SignalSink
    from edge.sinks import JsonlSink
    from edge.store import Store, StoreError

    config = _load(args.config)
    if config is None:
        return EXIT_USAGE
    config = _mqtt_overrides(config, args)
    if config is None:
        return EXIT_USAGE
    try:
        check_secure(config.mqtt)
    except MqttError as err:
        print(err, file=sys.stderr)
        return EXIT_USAGE
    state_dir = args.state_dir or _default_state_dir()
    try:
        store = Store(state_dir / DB_NAME, config.store)
    except StoreError as err:
        print(err, file=sys.stderr)
        return EXIT_FAILED
    sinks: list[SignalSink] = []
    if args.signals_out:
        sinks.append(JsonlSink(args.signals_out, append=True))
    try:  # the hub, its detectors and integrations (edge/app.py)
        wired = build_live(config, store, sinks, state_dir)
    except AppError as err:
        print(err, file=sys.stderr)
        return EXIT_USAGE
    live = wired.live
    live.install_signal_handlers()
    logger.info(
        "Flat %s: listening on %s:%d, state in %s",
        config.flat,
        config.mqtt.host,
        config.mqtt.port,
        state_dir,
    )
    try:
        live.run(max_seconds=args.max_seconds)
    finally:
        wired.close()
    return EXIT_OK


def _mqtt_overrides(config: Config, args: argparse.Namespace) -> Config | None:
    """The config with the command line's broker options over its ``mqtt:`` section
    (validated as if they were in the file), or ``None`` after saying what is wrong."""
    updates: dict[str, Any] = {}
    if args.mqtt_host:
        updates["host"] = args.mqtt_host
    if args.mqtt_port:
        updates["port"] = args.mqtt_port
    if args.allow_insecure:
        updates["allow_insecure"] = True
    if not updates:
        return config
    from pydantic import ValidationError

    try:  # validated as if they were in the file
        mqtt_conf = type(config.mqtt).model_validate(
            {**config.mqtt.model_dump(exclude={"password"}), **updates}
        )
    except ValidationError as err:
        for e in err.errors():
            where = " -> ".join(str(p) for p in e["loc"])
            print(f"mqtt -> {where}: {e['msg']} (from the command line)", file=sys.stderr)
        return None
    return config.model_copy(update={"mqtt": mqtt_conf})


def cmd_check_config(args: argparse.Namespace) -> int:
    from edge.app import load_config
    from edge.config import ConfigError

    try:
        config = load_config(args.file)
    except ConfigError as err:
        for line in err.lines:
            print(line)
        print(f"{args.file}: {len(err.lines)} problem(s)")
        return EXIT_FAILED
    for line in config.warnings():
        print(f"WARN {line}")
    print(f"{args.file}: OK (flat {config.flat}, {len(config.apartments)} apartments configured)")
    return EXIT_OK


def cmd_dead_letters(args: argparse.Namespace) -> int:
    store = _open_store(args.state_dir)
    if store is None:
        return EXIT_USAGE
    for reason, n in store.dead_letter_reasons().items():
        print(f"{n:>8,}  {reason}")
    for row in store.dead_letters(args.limit):
        print(f"[{row['id']}] {row['source']} {row['topic'] or '-'}: {row['reason']}")
    store.close()
    return EXIT_OK


def _store_file(state_dir: Path) -> Path | None:
    """The store's file in ``state_dir``, or ``None`` after saying it is not there."""
    path = state_dir / DB_NAME
    if not path.is_file():
        print(f"{path}: no store here (give the hub's --state-dir)", file=sys.stderr)
        return None
    return path


def _open_store(state_dir: Path) -> Store | None:
    """The hub's store in ``state_dir``, or ``None`` after saying why not."""
    from edge.store import Store, StoreConfig, StoreError

    path = _store_file(state_dir)
    if path is None:
        return None
    try:
        return Store(path, StoreConfig())
    except StoreError as err:
        print(err, file=sys.stderr)
        return None


def _open_register(state_dir: Path) -> tuple[Store, Register] | None:
    from edge.register import Register

    store = _open_store(state_dir)
    return None if store is None else (store, Register(store))


def _zone(config_path: Path | None) -> tzinfo | None:
    """The flat's time zone from its config, or the default where none is given
    (``None``: the config could not be read; the reason is printed)."""
    if config_path is None:
        from zoneinfo import ZoneInfo

        return ZoneInfo(DEFAULT_TIMEZONE)
    config = _load(config_path)
    return None if config is None else config.tz


def _signal_line(e: Entry, tz: tzinfo) -> str:
    who = f" -> {e.assigned_domain}/{e.assigned_role}" if e.assigned_role else ""
    verdict = f" [{e.verdict}]" if e.verdict else ""
    return (
        f"{e.id}  {e.opened.astimezone(tz):%Y-%m-%d %H:%M}  {e.severity:<9} {e.domain:<7} "
        f"{e.kind:<15} {e.apartment:<6} {e.status}{who}{verdict}"
        + (f"  (+{e.repeats} repeats)" if e.repeats else "")
    )


def _show_entry(reg: RegisterReader, entry: Entry, tz: tzinfo) -> None:
    from edge.readonly import summary_and_evidence

    summary, evidence = summary_and_evidence(entry)
    print(f"  {summary}")
    print(f"  evidence: {json.dumps(evidence, ensure_ascii=False)}")
    if entry.notes:
        print(f"  notes: {entry.notes}")
    print("  audit trail:")
    for a in reg.audit_trail(entry.id):
        at = datetime.fromisoformat(a["at"]).astimezone(tz)
        print(
            f"    {at:%Y-%m-%d %H:%M:%S}  {a['actor']:<12} {a['action']:<12} "
            f"{json.dumps(a['details'], ensure_ascii=False)}"
        )


def _look(args: argparse.Namespace, reg: RegisterReader, tz: tzinfo) -> int:
    """``signals list`` and ``signals show``: reading only."""
    from edge.readonly import RegisterError

    try:
        if args.action == "list":
            entries = reg.entries(args.status, args.apartment, args.domain)
            for e in entries:
                print(_signal_line(e, tz))
            print(f"{len(entries)} signal(s)")
            return EXIT_OK
        entry = reg.find(args.id)
    except RegisterError as err:
        print(err, file=sys.stderr)
        return EXIT_FAILED
    print(_signal_line(entry, tz))
    _show_entry(reg, entry, tz)
    return EXIT_OK


def _look_read_only(args: argparse.Namespace) -> int | None:
    """``signals list``/``show`` on the store opened read-only with the standard library
    (no pydantic, no detectors: issue 19); ``None`` when the store has no register yet
    (the writing register makes its tables, as before)."""
    from edge.readonly import RegisterReader, StoreError, open_read_only

    path = _store_file(args.state_dir)
    if path is None:
        return EXIT_USAGE
    try:
        db = open_read_only(path)
    except StoreError as err:
        print(err, file=sys.stderr)
        return EXIT_USAGE
    if db is None:
        return None
    try:
        tz = _zone(args.config)
        return EXIT_USAGE if tz is None else _look(args, RegisterReader(db), tz)
    finally:
        db.close()


def cmd_signals(args: argparse.Namespace) -> int:
    from edge.readonly import RegisterError

    if args.action in ("list", "show"):
        code = _look_read_only(args)
        if code is not None:
            return code
    opened = _open_register(args.state_dir)
    if opened is None:
        return EXIT_USAGE
    store, reg = opened
    tz = _zone(args.config)
    if tz is None:
        return EXIT_USAGE
    try:
        if args.action in ("list", "show"):
            return _look(args, reg, tz)
        entry = reg.find(args.id)
        if args.action == "ack":
            entry = reg.acknowledge(entry.id, args.by)
        elif args.action == "discuss":
            entry = reg.discuss(entry.id, args.by, args.notes)
        elif args.action == "assign":
            entry = reg.assign(entry.id, args.domain, args.role, args.by)
        elif args.action == "close":
            entry = reg.close(entry.id, args.verdict, args.by, args.notes or "")
    except RegisterError as err:
        print(err, file=sys.stderr)
        return EXIT_FAILED
    else:
        print(_signal_line(entry, tz))
        return EXIT_OK
    finally:
        store.close()


def cmd_agenda(args: argparse.Namespace) -> int:
    from edge.app import AppError, write_agenda

    config = _load(args.config)
    if config is None:
        return EXIT_USAGE
    opened = _open_register(args.state_dir)
    if opened is None:
        return EXIT_USAGE
    store = opened[0]
    try:
        agenda = write_agenda(
            store, config, args.week, args.out, args.lang, datetime.now(config.tz)
        )
    except AppError as err:
        print(err, file=sys.stderr)
        return EXIT_USAGE
    finally:
        store.close()
    total = len(agenda.signal_ids)
    print(
        f"Agenda for {agenda.flat}, {args.week}: {total} signal(s), "
        f"{sum(map(len, agenda.decide.values()))} to decide, {agenda.urgent.count} urgent "
        f"page(s), {len(agenda.devices)} device line(s); written to {args.out}"
    )
    if args.pdf is not None:
        from edge.app import agenda_pdf

        pdf = args.out.with_suffix(".pdf") if args.pdf == "" else Path(args.pdf)
        try:
            agenda_pdf(args.out, pdf)
        except AppError as err:
            print(err, file=sys.stderr)
            return EXIT_USAGE
        print(f"PDF (A4) written to {pdf}")
    return EXIT_OK


def _serve_config(config: Config, args: argparse.Namespace) -> Any:
    """The ``serve:`` section with the command line's flags over it (validated alike)."""
    from pydantic import ValidationError

    updates: dict[str, Any] = {}
    for key, value in (
        ("host", args.host),
        ("port", args.port),
        ("cert_file", args.cert),
        ("key_file", args.key),
    ):
        if value is not None:
            updates[key] = value
    if args.allow_http:
        updates["allow_http"] = True
    try:
        return type(config.serve).model_validate({**config.serve.model_dump(), **updates})
    except ValidationError as err:
        for e in err.errors():
            where = " -> ".join(str(p) for p in e["loc"]) or "serve"
            print(f"serve -> {where}: {e['msg']} (with the command line)", file=sys.stderr)
        return None


def cmd_serve(args: argparse.Namespace) -> int:
    from edge.app import AppError, serve

    config = _load(args.config)
    if config is None:
        return EXIT_USAGE
    conf = _serve_config(config, args)
    if conf is None:
        return EXIT_USAGE
    state_dir = args.state_dir or _default_state_dir()
    if not (state_dir / DB_NAME).is_file():
        print(f"{state_dir / DB_NAME}: no store here (give the hub's --state-dir)", file=sys.stderr)
        return EXIT_USAGE
    try:
        serve(config, conf, state_dir)
    except AppError as err:
        print(err, file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK


def _new_password(args: argparse.Namespace) -> str:
    """From standard input with --password-stdin (one line), else asked twice."""
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    import getpass

    first = getpass.getpass("New password: ")
    if getpass.getpass("Again: ") != first:
        raise ValueError("the two passwords differ")
    return first


def cmd_users(args: argparse.Namespace) -> int:
    from edge.app import AppError, users

    store = _open_store(args.state_dir)
    if store is None:
        return EXIT_USAGE
    name, role = getattr(args, "name", ""), getattr(args, "role", "")
    try:
        lines = users(store, args.action, name, role, lambda: _new_password(args))
    except AppError as err:
        print(err, file=sys.stderr)
        return EXIT_FAILED
    finally:
        store.close()
    for line in lines:
        print(line)
    return EXIT_OK


def cmd_backup(args: argparse.Namespace) -> int:
    from edge.backup import BackupError, make_backup

    config = _load(args.config)
    if config is None:
        return EXIT_USAGE
    conf = config.backup
    state_dir = args.state_dir or _default_state_dir()
    try:
        summary = make_backup(
            state_dir,
            args.out or conf.dir,
            args.recipient or conf.recipients,
            args.include if args.include is not None else conf.include,
            config.flat,
            _version(),
            keep=args.keep or conf.keep,
        )
    except BackupError as err:
        print(err, file=sys.stderr)
        return EXIT_USAGE
    print(
        f"Backup written to {summary.path}: the store and {summary.files - 1} file(s), "
        f"{summary.bytes / 1e6:.1f} MB before compression, encrypted to "
        f"{len(args.recipient or conf.recipients)} key(s)"
    )
    for line in summary.skipped:
        print(f"  skipped {line}")
    for old in summary.removed:
        print(f"  removed the old backup {old.name}")
    return EXIT_OK


def cmd_restore(args: argparse.Namespace) -> int:
    from edge.backup import BackupError, restore

    state_dir = args.state_dir or _default_state_dir()
    try:
        done = restore(args.backup, args.identity, state_dir, args.root, force=args.force)
    except BackupError as err:
        print(err, file=sys.stderr)
        return EXIT_USAGE
    print(
        f"Restored {done['backup']} (made {done['created'][:16]}): the store into "
        f"{state_dir}, {done['files']} file(s) under {args.root}; check it with "
        f"'thuisplus doctor --state-dir {state_dir}', then start the hub"
    )
    return EXIT_OK


def cmd_aggregate(args: argparse.Namespace) -> int:
    from edge.app import aggregate

    config = _load(args.config)
    if config is None:
        return EXIT_USAGE
    if not config.influx.enabled:
        print(
            "aggregate needs a time-series server: set influx.enabled and influx.url in the config",
            file=sys.stderr,
        )
        return EXIT_USAGE
    host = args.mqtt_host or config.mqtt.host
    port = args.mqtt_port or config.mqtt.port
    state_dir = args.state_dir or _default_state_dir()
    n, history = aggregate(config, host, port, state_dir, args.max_seconds)
    print(f"Aggregated {n} flat-day(s); history: {history}")
    return EXIT_OK


def cmd_doctor(args: argparse.Namespace) -> int:
    from edge.app import load_config
    from edge.config import ConfigError
    from edge.doctor import FAIL, config_failed, report, run_checks

    try:
        config = load_config(args.config)
    except ConfigError as err:
        checks = [config_failed(args.config, err.lines)]
    else:
        state_dir = args.state_dir or _default_state_dir()
        checks = run_checks(
            config, state_dir, args.silent_hours, service=not args.no_service, source=args.config
        )
    failed = [c for c in checks if c.status == FAIL]
    if args.json:
        doc = report(checks, datetime.now(UTC), _version())
        print(json.dumps(doc, ensure_ascii=False, indent=2))
    else:
        for check in checks:
            print(check.line())
        print(f"{len(checks) - len(failed)} of {len(checks)} checks passed")
    return EXIT_FAILED if failed else EXIT_OK


def _version() -> str:
    """The installed release (``thuisplus --version``), or ``unknown`` from a bare tree."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("thuisplus")
    except PackageNotFoundError:
        return "unknown"


class _Version(argparse.Action):
    """``--version``: the installed release is looked up only when asked (reading the
    package metadata costs tens of milliseconds at every start)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> None:
        print(f"thuisplus {_version()}")
        parser.exit()


# long: the whole command line in one table of options, read top to bottom
def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole command line; given the ``command`` about to run, a hub command leaves out
    the simulator's subcommands (and their imports)."""
    parser = argparse.ArgumentParser(
        prog="thuisplus",
        description="Signal hub for Thuisplusflats: sensor messages in, care signals out.",
    )
    parser.add_argument(
        "--log-level",
        default="warning",
        choices=["debug", "info", "warning", "error"],
        help="default: warning",
    )
    parser.add_argument("--version", action=_Version, help="show the version and exit")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("replay", help="replay recordings in event time, as fast as possible")
    p.add_argument(
        "recordings",
        nargs="+",
        type=Path,
        metavar="RECORDING",
        help="JSON Lines recording, plain or .gz",
    )
    p.add_argument("--config", type=Path, help="flat configuration (YAML); default: none")
    p.add_argument("--signals-out", type=Path, help="write signals here as JSON Lines")
    p.add_argument(
        "--state-dir",
        type=Path,
        help="keep the event log, dead letters and state here (default: in memory)",
    )
    p.add_argument("--quiet", action="store_true", help="do not print each signal")
    p.add_argument("--no-progress", action="store_true", help="no progress lines on stderr")
    p.add_argument(
        "--jobs",
        type=int,
        metavar="N",
        help="replay in N processes, each keeping a shard of the apartments, with the "
        "signals of one process (default: the number of cores; 1: one process; a replay "
        "with --state-dir or history runs in one)",
    )
    p.set_defaults(func=cmd_replay)

    p = sub.add_parser("run", help="run live on an MQTT broker")
    p.add_argument("--config", type=Path, help="flat configuration (YAML); default: none")
    p.add_argument("--mqtt-host", help="broker host (overrides the config)")
    p.add_argument("--mqtt-port", type=int, help="broker port (overrides the config)")
    p.add_argument(
        "--state-dir",
        type=Path,
        help="where the store lives (default: $STATE_DIRECTORY or ./state)",
    )
    p.add_argument("--signals-out", type=Path, help="also append signals here as JSON Lines")
    p.add_argument(
        "--allow-insecure",
        action="store_true",
        help="development only: allow a broker without TLS or without an account "
        "(as mqtt.allow_insecure: true)",
    )
    p.add_argument("--max-seconds", type=float, help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("check-config", help="validate a flat configuration and say what is wrong")
    p.add_argument("file", type=Path)
    p.set_defaults(func=cmd_check_config)

    p = sub.add_parser("dead-letters", help="list rejected messages kept in a store")
    p.add_argument("--state-dir", type=Path, default=Path("state"))
    p.add_argument("--limit", type=int, default=20)
    p.set_defaults(func=cmd_dead_letters)

    p = sub.add_parser("signals", help="the signal register: list, show, ack, assign, close")
    _state_dir_option(p, _default_state_dir())
    p.add_argument("--config", type=Path, help="flat configuration (for its time zone)")
    acts = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    a = acts.add_parser("list", help="signals in the register")
    a.add_argument("--status", choices=["open", "acknowledged", "discussed", "assigned", "closed"])
    a.add_argument("--apartment")
    a.add_argument("--domain", choices=["care", "welfare", "housing"])
    a = acts.add_parser("show", help="one signal with its evidence and audit trail")
    a.add_argument("id", help="signal id (or a unique prefix)")
    for name, helptext in (
        ("ack", "acknowledge: someone goes; stops the escalation"),
        ("discuss", "discussed at the signal meeting"),
        ("assign", "assign to a domain and a role"),
        ("close", "close with the meeting's verdict"),
    ):
        a = acts.add_parser(name, help=helptext)
        a.add_argument("id", help="signal id (or a unique prefix)")
        a.add_argument("--by", required=True, help="the role acting, e.g. on_call (no names)")
        if name == "discuss":
            a.add_argument("--notes", required=True)
        if name == "assign":
            a.add_argument("--domain", required=True, choices=["care", "welfare", "housing"])
            a.add_argument("--role", required=True, help="e.g. wijkverpleegkundige")
        if name == "close":
            a.add_argument(
                "--verdict", required=True, choices=["confirmed", "false_alarm", "not_relevant"]
            )
            a.add_argument("--notes")
    p.set_defaults(func=cmd_signals)

    p = sub.add_parser("agenda", help="the weekly signal-meeting agenda as one HTML page")
    p.add_argument("--week", required=True, help="ISO week, e.g. 2026-W05")
    p.add_argument("--out", type=Path, default=Path("agenda.html"))
    p.add_argument(
        "--pdf",
        nargs="?",
        const="",
        default=None,
        metavar="FILE",
        help="also print it to an A4 PDF through headless Chromium (default: OUT with .pdf)",
    )
    p.add_argument("--lang", choices=["nl", "en"], help="default: the config's language (nl)")
    _state_dir_option(p, _default_state_dir())
    p.add_argument("--config", type=Path, help="flat configuration (flat id, time zone)")
    p.set_defaults(func=cmd_agenda)

    p = sub.add_parser(
        "serve", help="the team's web page: the live agenda and the register (TLS, accounts)"
    )
    p.add_argument("--config", type=Path, help="flat configuration (its serve: section)")
    _state_dir_option(p)
    p.add_argument("--host", help="address to listen on (default: serve.host, 0.0.0.0)")
    p.add_argument("--port", type=int, help="port (default: serve.port, 8443)")
    p.add_argument("--cert", type=Path, help="the gateway's TLS certificate (PEM)")
    p.add_argument("--key", type=Path, help="its private key (PEM)")
    p.add_argument(
        "--allow-http",
        action="store_true",
        help="development only: plain HTTP, on a loopback --host only",
    )
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("users", help="accounts for the web page: add, list, remove, passwd, role")
    _state_dir_option(p, _default_state_dir())
    acts = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    a = acts.add_parser("add", help="a new account (asks for its password)")
    a.add_argument("name", help="a short handle, e.g. zorg-anouk (shows in the audit trail)")
    a.add_argument("--role", required=True, choices=["care", "welfare", "housing", "lead"])
    a.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    acts.add_parser("list", help="the accounts and their roles")
    a = acts.add_parser("remove", help="remove an account (its sessions end)")
    a.add_argument("name")
    a = acts.add_parser("passwd", help="a new password (its sessions end)")
    a.add_argument("name")
    a.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    a = acts.add_parser("role", help="a new role (its sessions end)")
    a.add_argument("name")
    a.add_argument("role", choices=["care", "welfare", "housing", "lead"])
    p.set_defaults(func=cmd_users)

    p = sub.add_parser(
        "aggregate", help="central: write every flat's daily stats to the time-series server"
    )
    p.add_argument("--config", type=Path, help="central configuration (mqtt, influx)")
    p.add_argument("--mqtt-host", help="central broker host (overrides the config)")
    p.add_argument("--mqtt-port", type=int, help="central broker port (overrides the config)")
    p.add_argument("--state-dir", type=Path, help="where the history buffer is kept")
    p.add_argument("--max-seconds", type=float, help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_aggregate)

    p = sub.add_parser("backup", help="write an encrypted backup of this gateway (age)")
    p.add_argument("--config", type=Path, help="the hub's configuration (backup: section)")
    _state_dir_option(p)
    p.add_argument("--out", type=Path, help="where to write it (default: backup.dir)")
    p.add_argument(
        "--recipient", action="append", help="an age public key (default: backup.recipients)"
    )
    p.add_argument(
        "--include", action="append", type=Path, help="a file or folder to save beside the store"
    )
    p.add_argument("--keep", type=int, help="backups kept (default: backup.keep)")
    p.set_defaults(func=cmd_backup)

    p = sub.add_parser("restore", help="restore an encrypted backup (store, then the files)")
    p.add_argument("backup", type=Path, help="the .tar.age file")
    p.add_argument("--identity", type=Path, required=True, help="the age private key file")
    _state_dir_option(p)
    p.add_argument("--root", type=Path, default=Path("/"), help="where the files go (default: /)")
    p.add_argument("--force", action="store_true", help="replace a store that is there")
    p.set_defaults(func=cmd_restore)

    p = sub.add_parser(
        "doctor", help="check this gateway: broker, clock, disk, sensors, coverage, service"
    )
    p.add_argument("--config", type=Path, help="the hub's configuration")
    _state_dir_option(p)
    p.add_argument(
        "--silent-hours",
        type=float,
        default=25.0,
        help="a sensor silent for longer is reported (default: 25)",
    )
    p.add_argument("--no-service", action="store_true", help="do not ask systemd")
    p.add_argument(
        "--json",
        action="store_true",
        help="print the checks as one JSON document (for monitoring); the exit code is the same",
    )
    p.set_defaults(func=cmd_doctor)

    hub_only = command is not None and command in sub.choices
    for module in ("simulators.cli",):
        if not hub_only and importlib.util.find_spec(module) is not None:
            importlib.import_module(module).register(sub)
    return parser


def _command(argv: Sequence[str]) -> str | None:
    """The subcommand named in ``argv`` (the first word that is not an option or the
    value of ``--log-level``), or None."""
    words = iter(argv)
    for word in words:
        if word == "--log-level":
            next(words, None)
        elif not word.startswith("-"):
            return word
    return None


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(_command(argv))
    args = parser.parse_args(argv)
    _setup_logging(args.log_level)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
