"""Encrypted backups of a gateway, and their restore (issue 21).

A backup is one file, ``thuisplus-<flat>-<UTC time>.tar.age``: a tar archive encrypted
with `age <https://age-encryption.org>`_ (Debian's ``age`` package) to the recipients in
the config (``backup.recipients``: public keys, ``age1...``). The gateway holds only the
public keys: a stolen gateway or backup disk reveals nothing; the private key (the
*identity*) stays with the people who restore. The archive holds

- ``MANIFEST.json``: the format version, when and by which hub version it was made, the
  flat, and per file its size and SHA-256;
- ``store/thuisplus.sqlite``: the hub's store (event log, register, audit trail, saved
  detector state), copied with SQLite's online backup (consistent while the hub runs);
- ``files/<path>``: the other files that make the gateway what it is
  (``backup.include``: Zigbee2MQTT's data folder with its network key and device
  database, Mosquitto's accounts and ACL, the hub's config folder). A missing path is
  named in the summary and skipped, never an error.

``restore`` decrypts to memory-bounded temporary files, checks every file against the
manifest before anything is written, then writes the store into the state folder and the
files under a root (``/`` on the gateway, any folder for a test or a new chroot). It
leaves ``RESTORED.json`` in the state folder; ``thuisplus doctor`` checks a restored
store against it (``restore`` check). Nothing is overwritten without ``--force``.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

logger = logging.getLogger(__name__)

FORMAT = 1
DB_NAME = "thuisplus.sqlite"
STORE_MEMBER = f"store/{DB_NAME}"
RESTORED = "RESTORED.json"
SUFFIX = ".tar.age"


class BackupError(Exception):
    """A backup or restore that cannot be done as asked: the message says why."""


@dataclass
class Summary:
    path: Path
    files: int = 0
    bytes: int = 0
    skipped: list[str] = field(default_factory=list)
    removed: list[Path] = field(default_factory=list)


def age_binary() -> str:
    exe = shutil.which("age")
    if exe is None:
        raise BackupError("backups need the 'age' tool: install Debian's 'age' package")
    return exe


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _copy_store(store: Path, to: Path) -> None:
    """A consistent copy of a live SQLite store (the online backup API, WAL included)."""
    try:
        src = sqlite3.connect(f"{store.resolve().as_uri()}?mode=ro", uri=True)
        try:
            dst = sqlite3.connect(to)
            with dst:
                src.backup(dst)
            dst.close()
        finally:
            src.close()
    except sqlite3.Error as err:
        raise BackupError(f"cannot copy the store {store}: {err}") from err


def _members(include: list[Path], skipped: list[str]) -> list[tuple[str, Path]]:
    """(archive name, file) for every regular file under the included paths."""
    out: list[tuple[str, Path]] = []
    for root in include:
        root = root.absolute()
        if not root.exists():
            skipped.append(f"{root}: not there")
            continue
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for f in files:
            if f.is_symlink():
                skipped.append(f"{f}: a symbolic link")
                continue
            out.append(("files" + f.as_posix(), f))
    return out


# long: one archive's steps in their order (copy, manifest, encrypt, keep N)
def make_backup(
    state_dir: Path,
    out_dir: Path,
    recipients: list[str],
    include: list[Path],
    flat: str,
    version: str,
    keep: int = 14,
    now: datetime | None = None,
) -> Summary:
    """Write one encrypted backup into ``out_dir``; keep the newest ``keep`` of them."""
    if not recipients:
        raise BackupError("no backup recipients: set backup.recipients (age public keys)")
    store = state_dir / DB_NAME
    if not store.is_file():
        raise BackupError(f"{store}: no store here (give the hub's --state-dir)")
    exe = age_binary()
    now = now or datetime.now(UTC)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"thuisplus-{flat}-{now:%Y%m%dT%H%M%SZ}{SUFFIX}"
    summary = Summary(target)
    with tempfile.TemporaryDirectory(prefix="thuisplus-backup-") as tmp:
        copy = Path(tmp) / DB_NAME
        _copy_store(store, copy)
        members = [(STORE_MEMBER, copy), *_members(include, summary.skipped)]
        manifest = {
            "format": FORMAT,
            "created": now.isoformat(),
            "version": version,
            "flat": flat,
            "state_dir": str(state_dir.absolute()),
            "files": {
                name: {"size": p.stat().st_size, "sha256": _sha256(p)} for name, p in members
            },
        }
        partial = target.with_name(target.name + ".partial")
        args = [exe, "--encrypt", "--output", str(partial)]
        for r in recipients:
            args += ["--recipient", r]
        with subprocess.Popen(  # noqa: S603 (our own argument list, no shell)
            args, stdin=subprocess.PIPE, stderr=subprocess.PIPE
        ) as proc:
            if proc.stdin is None or proc.stderr is None:  # (never: both are pipes)
                raise BackupError("age could not be started")
            try:
                with tarfile.open(fileobj=proc.stdin, mode="w|") as tar:
                    body = json.dumps(manifest, indent=1, sort_keys=True).encode()
                    info = tarfile.TarInfo("MANIFEST.json")
                    info.size, info.mtime, info.mode = len(body), int(now.timestamp()), 0o600
                    tar.addfile(info, io.BytesIO(body))
                    for name, path in members:
                        tar.add(path, arcname=name, recursive=False)
                        summary.files += 1
                        summary.bytes += path.stat().st_size
            except (OSError, tarfile.TarError) as err:
                proc.kill()
                partial.unlink(missing_ok=True)
                raise BackupError(f"cannot write the backup: {err}") from err
            finally:
                proc.stdin.close()
            err_text = proc.stderr.read().decode(errors="replace")
            if proc.wait() != 0:
                partial.unlink(missing_ok=True)
                raise BackupError(f"age could not encrypt the backup: {err_text.strip()}")
    os.chmod(partial, 0o600)
    partial.replace(target)
    summary.removed = prune(out_dir, flat, keep)
    return summary


def backups(out_dir: Path, flat: str | None = None) -> list[Path]:
    """The backups in ``out_dir``, oldest first (their names sort by time)."""
    pattern = f"thuisplus-{flat}-*{SUFFIX}" if flat else f"thuisplus-*{SUFFIX}"
    return sorted(out_dir.glob(pattern)) if out_dir.is_dir() else []


def prune(out_dir: Path, flat: str, keep: int) -> list[Path]:
    old = backups(out_dir, flat)[:-keep] if keep > 0 else []
    for p in old:
        p.unlink()
    return old


def _decrypt(backup: Path, identity: Path, into: Path) -> dict[str, Any]:
    """Decrypt and unpack ``backup`` into ``into``; the manifest, every file checked."""
    if not backup.is_file():
        raise BackupError(f"{backup}: no such backup")
    if not identity.is_file():
        raise BackupError(f"{identity}: no such identity (the age private key file)")
    args = [age_binary(), "--decrypt", "--identity", str(identity), str(backup)]
    names: list[str] = []
    with subprocess.Popen(  # noqa: S603 (our own argument list, no shell)
        args, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as proc:
        if proc.stdout is None or proc.stderr is None:  # (never: both are pipes)
            raise BackupError("age could not be started")
        try:
            with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
                for member in tar:
                    name = PurePosixPath(member.name)
                    if not member.isfile() or name.is_absolute() or ".." in name.parts:
                        raise BackupError(f"{backup}: an unexpected entry {member.name!r}")
                    tar.extract(member, into, filter="data")
                    names.append(member.name)
        except (tarfile.TarError, OSError) as err:
            proc.kill()
            proc.wait()
            why = proc.stderr.read().decode(errors="replace").strip()
            raise BackupError(f"{backup}: cannot be read ({why or err})") from err
        why = proc.stderr.read().decode(errors="replace").strip()
        if proc.wait() != 0:
            raise BackupError(f"{backup}: age could not decrypt it: {why}")
    try:
        manifest = json.loads((into / "MANIFEST.json").read_text())
    except (OSError, ValueError) as err:
        raise BackupError(f"{backup}: no readable manifest") from err
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{backup}: format {manifest.get('format')!r}, this hub reads {FORMAT}")
    files = manifest.get("files", {})
    if set(files) != set(names) - {"MANIFEST.json"}:
        raise BackupError(f"{backup}: its files do not match its manifest")
    for name, meta in files.items():
        if _sha256(into / name) != meta["sha256"]:
            raise BackupError(f"{backup}: {name} is damaged (its checksum differs)")
    return dict(manifest)


def restore(
    backup: Path, identity: Path, state_dir: Path, root: Path, force: bool = False
) -> dict[str, Any]:
    """Restore ``backup``: the store into ``state_dir``, the files under ``root``.

    Everything is decrypted and checked first; nothing is written when a check fails.
    """
    store = state_dir / DB_NAME
    if store.exists() and not force:
        raise BackupError(f"{store} exists: restore over it only with --force")
    with tempfile.TemporaryDirectory(prefix="thuisplus-restore-") as tmp:
        unpacked = Path(tmp)
        manifest = _decrypt(backup, identity, unpacked)
        state_dir.mkdir(parents=True, exist_ok=True)
        for suffix in ("-wal", "-shm"):
            Path(f"{store}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(unpacked / STORE_MEMBER, store)
        os.chmod(store, 0o600)
        written = 0
        for name in manifest["files"]:
            if not name.startswith("files/"):
                continue
            dest = root / name.removeprefix("files/")
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(unpacked / name, dest)
            written += 1
    restored = {
        "backup": backup.name,
        "created": manifest["created"],
        "restored": datetime.now(UTC).isoformat(),
        "store_sha256": manifest["files"][STORE_MEMBER]["sha256"],
        "files": written,
    }
    (state_dir / RESTORED).write_text(json.dumps(restored, indent=1, sort_keys=True))
    return restored


def check_restored(state_dir: Path) -> tuple[bool, str] | None:
    """For ``doctor``: ``None`` when this store was not restored; else whether the store
    is intact and still the restored one or its continuation (SQLite's integrity check,
    the saved state readable)."""
    marker = state_dir / RESTORED
    if not marker.is_file():
        return None
    try:
        meta = json.loads(marker.read_text())
        db = sqlite3.connect(f"{(state_dir / DB_NAME).resolve().as_uri()}?mode=ro", uri=True)
        try:
            ok = db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            for (body,) in db.execute("SELECT body FROM saved_state"):
                json.loads(body)
            signals = db.execute("SELECT count(*) FROM signals").fetchone()[0]
        finally:
            db.close()
    except (OSError, ValueError, sqlite3.Error) as err:
        return False, f"restored from a backup, but the store cannot be read: {err}"
    if not ok:
        return False, f"restored from {meta.get('backup')}: the store fails SQLite's check"
    return True, (
        f"restored from {meta.get('backup')} (made {meta.get('created', '?')[:16]}): "
        f"store intact, saved state readable, {signals} signal(s) in the register"
    )
