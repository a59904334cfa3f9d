"""Writing an export to disk: private (0600), all or nothing, and never over a file by accident.

A transcript is whole conversations, so the file is readable by its owner only. It is written to a temporary
file beside the target and moved into place, so a failure (full disk, bad text, a kill) leaves any earlier file
untouched. An existing file is only replaced when asked (``replace=True``: ``--force``, or a confirmation).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from ..text_safety import repair


class ExportError(Exception):
    """Why an export was not written, in one line."""


class ExportExists(ExportError):
    """The target exists and replacing it was not asked for."""

    def __init__(self, path: Path) -> None:
        super().__init__(f"{path} already exists")
        self.path = path  # where the export would have gone: a confirmation can ask about it


def write_export(path: Path, text: str, *, replace: bool = False) -> None:
    path = path.expanduser()
    if path.is_dir():
        raise ExportError(f"cannot write {path}: it is a directory")
    if not replace and os.path.lexists(path):
        raise ExportExists(path)
    data = repair(text).encode("utf-8")
    try:
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")  # mode 0600
    except OSError as exc:
        raise ExportError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        if replace:
            os.replace(temp, path)
        else:
            _link_new(temp, path)
    except OSError as exc:
        raise ExportError(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)


def _link_new(temp: str, path: Path) -> None:
    """Move ``temp`` to ``path`` only if nothing is there, without a window for another writer to race."""
    try:
        os.link(temp, path)  # fails with EEXIST if the file appeared meanwhile
    except FileExistsError:
        raise ExportExists(path) from None
    except OSError:  # a file system without hard links: check, then move
        if os.path.lexists(path):
            raise ExportExists(path) from None
        os.replace(temp, path)
