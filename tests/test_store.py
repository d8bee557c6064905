"""The SQLite store: repeats dropped, a hard kill leaves it intact, the outbox keeps order."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from edge.models import Domain, Severity, Signal, SignalKind
from edge.recording import RecordingWriter
from edge.store import Store, StoreConfig, StoreError


def big_recording(path: Path, n: int) -> Path:
    t0 = datetime(2026, 1, 5, tzinfo=UTC).timestamp()
    with RecordingWriter(path) as w:
        for i in range(n):
            apt = f"a{i % 80:03d}"
            w.write(
                datetime.fromtimestamp(t0 + i * 0.5, UTC),
                f"zigbee2mqtt/{apt}/hall/motion",
                {"occupancy": i % 3 == 0, "battery": 90, "linkquality": i % 200},
            )
    return path


def test_qos1_repeat_within_the_window_is_dropped_not_later() -> None:
    s = Store(None, StoreConfig(dedup_window_s=5))
    assert not s.is_repeat("t", '{"occupancy":true}', 100.0)
    assert s.is_repeat("t", '{"occupancy":true}', 100.4)
    assert not s.is_repeat("t", '{"occupancy":true}', 200.0)
    assert not s.is_repeat("t", '{"occupancy":false}', 200.1)
    assert not s.is_repeat("u", '{"occupancy":false}', 200.1)


def test_the_same_event_is_stored_once(tmp_path: Path) -> None:
    s = Store(tmp_path / "db.sqlite", StoreConfig())
    for _ in range(3):
        s.add_event("zigbee2mqtt/a1/hall/m", 1000.0, 1000.1, '{"occupancy":true}')
    s.add_event("zigbee2mqtt/a1/hall/m", 1001.0, 1001.1, '{"occupancy":true}')
    assert s.event_count() == 2
    s.close()
    again = Store(tmp_path / "db.sqlite", StoreConfig())
    again.add_event("zigbee2mqtt/a1/hall/m", 1000.0, 1000.1, '{"occupancy":true}')
    assert again.event_count() == 2


def sig(n: int) -> Signal:
    t = datetime(2026, 1, 5, 7, n, tzinfo=UTC)
    return Signal(
        id=f"s{n}",
        flat="f",
        apartment="a1",
        kind=SignalKind.FALL,
        domain=Domain.CARE,
        severity=Severity.URGENT,
        start=t,
        detected_at=t,
        summary="x",
    )


def test_outbox_keeps_undelivered_signals_in_order_across_a_reopen(tmp_path: Path) -> None:
    s = Store(tmp_path / "db.sqlite", StoreConfig())
    for n in range(5):
        assert s.add_signal(sig(n), f"thuisplus/f/signal/a1/fall/{n}")
    assert not s.add_signal(sig(2), "again")
    s.outbox_delivered("s1")
    s.outbox_delivered("s3")
    s.close()
    s = Store(tmp_path / "db.sqlite", StoreConfig())
    assert [p[0] for p in s.outbox_pending()] == ["s0", "s2", "s4"]
    assert s.signal_count() == 5


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "db.sqlite"
    Store(db, StoreConfig()).close()
    with sqlite3.connect(db) as c:
        c.execute("UPDATE meta SET value='99' WHERE key='schema'")
    with pytest.raises(StoreError, match=r"newer version \(schema 99 > 1\)"):
        Store(db, StoreConfig())


def test_a_hard_kill_mid_replay_leaves_the_store_intact(tmp_path: Path) -> None:
    rec = big_recording(tmp_path / "big.jsonl", 300_000)
    state = tmp_path / "state"
    replay_cmd = [
        sys.executable,
        "-m",
        "edge.cli",
        "replay",
        str(rec),
        "--state-dir",
        str(state),
        "--quiet",
        "--no-progress",
    ]
    proc = subprocess.Popen(
        replay_cmd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    db = state / "thuisplus.sqlite"
    deadline = time.monotonic() + 60
    # wait until several batches were committed, then kill without warning
    while time.monotonic() < deadline:
        wal = db.with_name(db.name + "-wal")
        if wal.exists() and wal.stat().st_size > 2_000_000:
            break
        time.sleep(0.02)
    assert proc.poll() is None, "the replay ended before it could be killed: make it longer"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    s = Store(db, StoreConfig())
    assert s.integrity_ok()
    kept = s.event_count()
    assert 0 < kept < 300_000
    s.close()
    # and the hub carries on from there: a second replay completes, nothing stored twice
    done = subprocess.run(
        replay_cmd,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    s = Store(db, StoreConfig())
    assert s.integrity_ok()
    assert s.event_count() == 300_000


def test_a_signal_is_kept_whole_or_not_at_all(tmp_path: Path) -> None:
    """The register entry, the signal and its outbox entry are one transaction: when the
    last of them cannot be written (here a statement that fails inside SQLite), none is
    kept half; the signal still goes out, waits in memory, and is kept whole on recovery.
    (Kept half, a restart would know the signal and never publish it.)"""
    from edge.app import build_hub
    from edge.config import Config
    from edge.sinks import ListSink
    from tests.helpers import msg

    config = Config()
    sink = ListSink()
    hub = build_hub(config, Store(tmp_path / "s.sqlite", config.store), [sink])
    hub.handle(msg(0, "a1/hall/motion", {"occupancy": True}))
    hub.store.db.execute(
        "CREATE TEMP TRIGGER broken BEFORE INSERT ON main.outbox "
        "BEGIN INSERT INTO no_such_table VALUES (1); END"
    )
    (sig,) = hub.handle(msg(1, "a1/bathroom/radar", {"fall": True}))
    assert [s.id for s in sink.signals] == [sig.id]  # sent all the same
    assert hub.store.fault is not None
    assert "no_such_table" in hub.store.fault

    def kept() -> list[int]:
        queries = (
            "SELECT count(*) FROM register WHERE id=?",
            "SELECT count(*) FROM signals WHERE id=?",
            "SELECT count(*) FROM outbox WHERE signal_id=?",
        )
        with sqlite3.connect(tmp_path / "s.sqlite") as db:
            return [db.execute(q, (sig.id,)).fetchone()[0] for q in queries]

    assert kept() == [0, 0, 0]
    assert [s.id for s, _, _ in hub.unsaved] == [sig.id]
    assert hub.recover()  # a new connection: the temporary trigger is gone with the old one
    assert kept() == [1, 1, 1]
    assert hub.unsaved == []
    hub.close()


def test_after_a_hard_stop_late_events_since_the_save_are_replayed_too(tmp_path: Path) -> None:
    """The tail replayed after a hard stop is every event received after the last save,
    also one that came late (its event time before the saved clock)."""
    from edge.app import build_hub
    from edge.config import Config
    from tests.helpers import at, msg

    config = Config()
    path = tmp_path / "s.sqlite"
    hub = build_hub(config, Store(path, config.store))
    hub.handle(msg(0, "a1/hall/motion", {"occupancy": True}))
    hub.handle(msg(30, "a1/hall/motion", {"occupancy": False}))
    hub.save()
    # after the save: a late plug message (event time 20, within clock.max_late_hours)
    # and a timely one
    late = msg(31, "a1/kitchen/kettle", {"power": 1500.0, "last_seen": at(20).isoformat()})
    hub.handle(late)
    hub.handle(msg(32, "a1/toilet/motion", {"occupancy": True}))
    hub.store.flush()  # as the live hub does after each message; then a hard stop
    hub.store.db.close()

    again = build_hub(config, Store(path, config.store))
    sensors = again.state.apartments["a1"].sensors
    assert sensors["a1/kitchen/kettle"].last_seen == at(20)
    assert sensors["a1/toilet/motion"].last_seen == at(32)
    assert sensors["a1/hall/motion"].messages == 2  # nothing from before the save twice
    again.close()


def _autocheckpoint(store: Store) -> int:
    return int(store.db.execute("PRAGMA wal_autocheckpoint").fetchone()[0])


def test_wal_checkpoints_run_in_their_own_thread_not_at_a_commit(tmp_path: Path) -> None:
    """Live: no commit of the hub waits for a checkpoint's fsync; the thread keeps the
    log short, follows a reopened file, and SQLite takes over again if it dies."""
    store = Store(tmp_path / "s.sqlite", StoreConfig())
    assert _autocheckpoint(store) == 1000  # replay and tools: SQLite's own checkpoints
    store.checkpoint_in_background(every_s=0.05)
    cp = store.checkpointer
    assert cp is not None
    assert cp.is_alive()
    assert _autocheckpoint(store) == 0
    t0 = datetime(2026, 1, 5, tzinfo=UTC).timestamp()
    for i in range(3000):
        store.add_event(f"zigbee2mqtt/a{i % 50:03d}/hall/motion", t0 + i, t0 + i, "x" * 200)
    store.flush()
    deadline = time.monotonic() + 10
    while cp.frames == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert cp.frames > 0
    assert cp.error is None
    # a store that reopens its file after a fault keeps the checkpoints off its commits
    store.failed(OSError("disk full"), "a test row")
    assert store.retry()
    assert _autocheckpoint(store) == 0
    # the thread dies: SQLite checkpoints at commits again, said once
    cp.stop()
    assert not cp.is_alive()
    assert store.checkpoints_stopped()
    assert _autocheckpoint(store) == 1000
    assert not store.checkpoints_stopped()
    store.close()
    reopened = Store(tmp_path / "s.sqlite", StoreConfig())
    assert reopened.db.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 3000
    reopened.close()


def test_a_failing_checkpoint_is_reported_and_tried_again(tmp_path: Path) -> None:
    from edge.store import Checkpointer

    cp = Checkpointer(tmp_path / "gone" / "s.sqlite", every_s=0.05)
    cp.checkpoint()
    assert cp.error is not None
    assert "unable to open" in cp.error
    assert cp.checkpoints == 0
    store = Store(tmp_path / "gone" / "s.sqlite", StoreConfig())  # the file is back
    cp.checkpoint()
    assert cp.error is None
    assert cp.checkpoints == 1
    store.close()


def test_a_store_in_memory_has_no_checkpoint_thread() -> None:
    store = Store(None, StoreConfig())
    store.checkpoint_in_background()
    assert store.checkpointer is None
    store.close()


def test_a_delivery_mark_that_could_not_be_written_is_written_on_recovery(
    tmp_path: Path,
) -> None:
    """The broker took the signal while the file could not be written: once it can, the
    outbox says delivered, so a restart does not page the team a second time."""
    store = Store(tmp_path / "s.sqlite", StoreConfig())
    assert store.add_signal(sig(1), "thuisplus/f/signal/a1/fall")
    store.db.execute(  # a real SQLite error on the mark, as a full disk gives
        "CREATE TEMP TRIGGER broken BEFORE UPDATE ON main.outbox "
        "BEGIN INSERT INTO no_such_table VALUES (1); END"
    )
    store.outbox_delivered("s1")
    assert store.fault is not None
    assert "delivery mark" in store.fault
    assert store.retry()  # reopened: the temporary trigger is gone with the old connection
    assert store.outbox_pending() == []
    store.close()
    reopened = Store(tmp_path / "s.sqlite", StoreConfig())
    assert reopened.outbox_pending() == []
    reopened.close()
