"""Crash-safe TinyDB storage: whole-file atomic replace, parse cache, corruption recovery."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from tinydb.storages import Storage

from .encoding import IncrementalEncoder
from .errors import StorageError
from .lock import FileLock
from .salvage import salvage

SCHEMA_VERSION = 1
TEMP_SUFFIX = ".tmp"

Tables = dict[str, dict[str, Any]]
# (path, moved_aside_to, salvaged tables) -> tables to write back in place of the damaged file
RecoverHook = Callable[[Path, Path, Tables], Tables]


def fsync_dir(path: Path) -> None:
    """Make a rename in ``path`` durable (about 0.1 ms on ext4 here)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(
    path: Path,
    data: bytes | Iterable[bytes],
    *,
    durable: bool = True,
    sync_dir: Callable[[Path], None] = fsync_dir,
) -> os.stat_result:
    """Write ``data`` to ``path`` whole or not at all; return the new file's stat.

    Temp file in the same dir (so ``os.replace`` is a rename, atomic on POSIX), flushed and fsynced before
    the rename; then ``sync_dir`` (an fsync of the dir, or a caller's deferral of it) makes the rename survive
    a power cut. The temp name carries the pid so writers never collide; one left by a killed process is
    harmless and removed later under the lock.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(3)}{TEMP_SUFFIX}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        with os.fdopen(fd, "wb", buffering=1 << 20) as handle:
            handle.writelines([data] if isinstance(data, bytes) else data)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
            stat = os.fstat(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if durable:
        sync_dir(path.parent)
    return stat


def is_tables(data: Any) -> bool:
    """Whether ``data`` has TinyDB's shape: {table: {"<digits>": {record}}}."""
    if not isinstance(data, dict):
        return False
    for table in data.values():
        if not isinstance(table, dict):
            return False
        for doc_id, doc in table.items():
            if not isinstance(doc, dict) or not doc_id.isdigit():
                return False
    return True


def parse_tables(raw: bytes) -> Tables | None:
    """The file's tables, or None when it is not a well-formed TinyDB document."""
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    return data if is_tables(data) else None


def file_schema(data: Tables | None) -> int:
    meta = (data or {}).get("meta") or {}
    versions = [doc.get("schema") for doc in meta.values() if isinstance(doc, dict)]
    return max((v for v in versions if isinstance(v, int)), default=0)


def aside_name(path: Path) -> Path:
    stamp = time.strftime("%Y%m%dT%H%M%S")
    candidate = path.with_name(f"{path.name}.corrupt-{stamp}")
    n = 1
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
    return candidate


def keep_aside(path: Path, aside: Path) -> None:
    """Keep the damaged bytes under ``aside`` while ``path`` stays in place until its repair replaces it."""
    try:
        os.link(path, aside)
    except OSError:  # no hard links here (some network or FAT file systems)
        shutil.copyfile(path, aside)


class AtomicJSONStorage(Storage):
    """A TinyDB ``Storage`` for one JSON file, safe against crashes and shared between processes.

    - ``write`` replaces the file atomically (see ``atomic_write``) and refuses files of a newer schema.
    - ``read`` re-parses only when the file changed on disk: parsed data is cached under the file's
      (inode, mtime_ns, size). ``os.replace`` always brings a new inode, so other processes' writes are seen.
    - A file that does not parse is moved aside and rebuilt from what ``salvage`` recovers, through ``recover``.
    The caller holds ``lock`` around read-modify-write; reads may go without it (they see old or new, never half).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        tables: Iterable[str] = ("meta",),
        lock: FileLock | None = None,
        recover: RecoverHook | None = None,
        durable: bool = True,
        sync_dir: Callable[[Path], None] = fsync_dir,
        label: str | None = None,
    ) -> None:
        super().__init__()
        self.path = Path(path)
        self.label = label or self.path.name
        self._tables = tuple(tables)
        self._lock = lock
        self._recover_hook = recover
        self._durable = durable
        self._sync_dir = sync_dir
        self._key: tuple[int, int, int] | None = None
        self._data: Tables | None = None
        self._disk_schema = 0
        self._dir_ready = False
        self._encoder = IncrementalEncoder()

    # -- Storage API -------------------------------------------------------------------------------------
    def read(self) -> Tables | None:
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            self.invalidate()
            return None
        except OSError as exc:
            raise StorageError(f"could not read {self.label}: {exc.strerror or exc}") from exc
        if _key(stat) == self._key:
            return self._data
        loaded = self._load()
        if loaded is None:
            return None
        data = self._decode(loaded[0])
        if data is None:
            return self._recover()
        self._remember(data, loaded[1])
        return data

    def write(self, data: Tables) -> None:
        try:
            if self._disk_schema > SCHEMA_VERSION:
                raise StorageError(self._newer_message())
            if not data.get("meta"):  # first in the file, so even a badly truncated copy keeps it
                data = {"meta": {"1": {"schema": SCHEMA_VERSION}}, **{k: v for k, v in data.items() if k != "meta"}}
            if not self._dir_ready:
                self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                self._dir_ready = True
            try:
                stat = atomic_write(
                    self.path, self._encoder.encode(data), durable=self._durable, sync_dir=self._sync_dir
                )
            except OSError as exc:
                raise StorageError(f"could not save {self.label}: {exc.strerror or exc}") from exc
        except BaseException:
            # TinyDB mutated our cached dicts before calling write: they no longer match the disk.
            self.invalidate()
            raise
        self._remember(data, _key(stat))

    # -- helpers -----------------------------------------------------------------------------------------
    def ensure_writable(self) -> None:
        """Raise ``StorageError`` now, before a multi-file change starts, if ``write`` would refuse."""
        self.read()
        if self._disk_schema > SCHEMA_VERSION:
            raise StorageError(self._newer_message())

    def invalidate(self) -> None:
        self._key = None
        self._data = None
        self._disk_schema = 0
        self._encoder.reset()

    def _newer_message(self) -> str:
        return (
            f"{self.label} was written by a newer agentspace-tui (schema {self._disk_schema}, "
            f"this one knows {SCHEMA_VERSION}); refusing to change it - please upgrade"
        )

    def _remember(self, data: Tables, key: tuple[int, int, int]) -> None:
        self._data, self._key = data, key
        self._disk_schema = file_schema(data)

    def _decode(self, raw: bytes) -> Tables | None:
        data = self._encoder.decode(raw)
        return data if is_tables(data) else None

    def _load(self) -> tuple[bytes, tuple[int, int, int]] | None:
        """(content, key of that content), or None if the file is gone."""
        try:
            with open(self.path, "rb") as handle:
                key = _key(os.fstat(handle.fileno()))
                return handle.read(), key
        except FileNotFoundError:
            self.invalidate()
            return None
        except OSError as exc:
            raise StorageError(f"could not read {self.label}: {exc.strerror or exc}") from exc

    def _recover(self) -> Tables | None:
        with self._lock if self._lock is not None else contextlib.nullcontext():
            # Another process (or thread) may have repaired or replaced it while we waited for the lock.
            loaded = self._load()
            if loaded is None:
                return None
            raw, key = loaded
            data = self._decode(raw)
            if data is not None:
                self._remember(data, key)
                return data
            found = salvage(raw.decode("utf-8", errors="replace"), self._tables)
            if file_schema(found) > SCHEMA_VERSION:
                self.invalidate()
                raise StorageError(f"{self.label} is damaged and was written by a newer agentspace-tui; left as is")
            aside = aside_name(self.path)
            keep_aside(self.path, aside)
            self.invalidate()
            data = self._recover_hook(self.path, aside, found) if self._recover_hook else found
            self.write(data)  # replaces the damaged file atomically: readers never find it missing
            return data


def _key(stat: os.stat_result) -> tuple[int, int, int]:
    return (stat.st_ino, stat.st_mtime_ns, stat.st_size)
