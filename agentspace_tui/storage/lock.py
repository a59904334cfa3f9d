"""One exclusive lock for the data dir: reentrant across this process's threads, flock across processes."""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import StorageError


class FileLock:
    """``with lock:`` holds an exclusive ``flock`` on ``path``; nesting in one thread is free.

    The lock file's descriptor stays open between uses. It is reopened after a fork, because a forked
    child shares the parent's open file description and would otherwise "share" the parent's lock.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._thread_lock = threading.RLock()
        self._depth = 0
        self._fd: int | None = None
        self._pid = 0

    def __enter__(self) -> FileLock:
        self._thread_lock.acquire()
        try:
            if self._depth == 0:
                fcntl.flock(self._descriptor(), fcntl.LOCK_EX)
        except BaseException:
            self._thread_lock.release()
            raise
        self._depth += 1
        return self

    def __exit__(self, *exc: object) -> None:
        self._depth -= 1
        try:
            if self._depth == 0 and self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._thread_lock.release()

    @contextmanager
    def thread_only(self) -> Iterator[None]:
        """Keep other threads of this process out (they mutate cached data) without taking the flock."""
        with self._thread_lock:
            yield

    def close(self) -> None:
        with self._thread_lock:
            if self._fd is not None and self._pid == os.getpid():
                os.close(self._fd)
            self._fd = None

    def _descriptor(self) -> int:
        if self._fd is None or self._pid != os.getpid():
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            except OSError as exc:
                raise StorageError(f"cannot use the data folder {self.path.parent}: {exc.strerror or exc}") from exc
            self._pid = os.getpid()
        return self._fd
