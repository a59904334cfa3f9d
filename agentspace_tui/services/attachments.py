"""Files pinned into a session's context (``/attach PATH``): regular UTF-8 text files only, read with limits.

A path can name things that are not files: a FIFO blocks ``open()`` until a writer appears, ``/dev/zero``
never ends, and ``/proc`` or ``/sys`` files report ``st_size`` 0 whatever their length (some of them, like
``/proc/kmsg``, block on read). So:

* the path is ``stat``-ed first and anything but a regular file is refused without being opened (opening a
  device can have effects of its own);
* it is opened with ``O_NONBLOCK`` (a FIFO swapped in after the ``stat`` cannot block the open) and the opened
  descriptor is ``fstat``-ed again: only ``S_ISREG`` is read;
* at most ``limit + 1`` bytes are ever read, whatever ``st_size`` says;
* the read runs in a daemon thread and is given up after ``timeout`` seconds (a hung network or FUSE file
  system): the caller gets a refusal, never a hang.

Every refusal is an ``AttachmentError`` (a ``ValueError``) with a one-line message naming the file and why.
"""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

from ..domain import Attachment

MAX_ATTACHMENT = 256 * 1024  # bytes
READ_TIMEOUT = 3.0  # seconds
_BINARY_PROBE = 8192  # a NUL byte in the first this-many bytes marks a binary file
_CHUNK = 64 * 1024


class AttachmentError(ValueError):
    """A file that cannot be attached, with a one-line reason."""


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _limit_text(limit: int) -> str:
    return f"{limit // 1024} KB" if limit >= 1024 else f"{limit} bytes"


def _read_limited(fd: int, limit: int) -> bytes:
    """Up to ``limit + 1`` bytes from ``fd`` (one more than allowed tells "too big" from "exactly the limit")."""
    chunks: list[bytes] = []
    remaining = limit + 1
    while remaining > 0:
        chunk = os.read(fd, min(_CHUNK, remaining))
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def _read_with_timeout(fd: int, limit: int, timeout: float, name: str) -> bytes:
    """``_read_limited`` in a daemon thread; the descriptor is closed by whoever finishes last."""
    data: list[bytes] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    state = {"abandoned": False, "finished": False}

    def run() -> None:
        try:
            data.append(_read_limited(fd, limit))
        except BaseException as exc:  # handed to the caller
            errors.append(exc)
        with lock:
            state["finished"] = True
            if state["abandoned"]:  # the caller gave up and left the descriptor to us
                os.close(fd)

    thread = threading.Thread(target=run, name=f"attach {name}", daemon=True)
    thread.start()
    thread.join(timeout)
    with lock:
        if not state["finished"]:
            state["abandoned"] = True
            raise AttachmentError(
                f"cannot attach {name}: reading it did not finish within {timeout:g} s; only regular files that "
                "read promptly can be attached"
            )
    os.close(fd)
    if errors:
        error = errors[0]
        if isinstance(error, BlockingIOError):  # O_NONBLOCK honoured: a stream like /proc/kmsg with nothing ready
            raise AttachmentError(f"cannot attach {name}: it does not read like a regular file (no data ready)")
        if isinstance(error, OSError):
            raise AttachmentError(f"cannot attach {name}: {error.strerror or error}")
        raise error
    return data[0]


def read_attachment(path_text: str, *, limit: int = MAX_ATTACHMENT, timeout: float = READ_TIMEOUT) -> Attachment:
    """A text file to pin into the context: ``{"path", "name", "content", "bytes"}``, or ``AttachmentError``."""
    path = Path(path_text).expanduser()
    name = path.name or path_text
    only = "only regular files can be attached"
    try:
        st = path.stat()  # follows symlinks: a link to a FIFO is a FIFO
    except OSError as exc:
        raise AttachmentError(f"cannot attach {path_text}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(st.st_mode):
        raise AttachmentError(f"cannot attach {name}: it is {_kind(st.st_mode)}, {only}")
    if st.st_size > limit:
        raise AttachmentError(
            f"cannot attach {name}: {-(-st.st_size // 1024)} KB is over the {_limit_text(limit)} limit for pinned files"
        )
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    flags |= getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise AttachmentError(f"cannot attach {name}: {exc.strerror or exc}") from None
    try:
        mode = os.fstat(fd).st_mode  # the file actually opened, not the one stat-ed a moment ago
    except OSError as exc:
        os.close(fd)
        raise AttachmentError(f"cannot attach {name}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise AttachmentError(f"cannot attach {name}: it is {_kind(mode)}, {only}")
    data = _read_with_timeout(fd, limit, timeout, name)  # closes fd
    if len(data) > limit:  # st_size said otherwise: /proc and /sys files report 0
        raise AttachmentError(f"cannot attach {name}: it is over the {_limit_text(limit)} limit for pinned files")
    if b"\0" in data[:_BINARY_PROBE]:
        raise AttachmentError(f"cannot attach {name}: it looks like a binary file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise AttachmentError(f"cannot attach {name}: it is not UTF-8 text") from None
    return {"path": str(path.resolve()), "name": path.name, "content": text, "bytes": len(data)}
