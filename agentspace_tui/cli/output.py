"""Writing to stdout and stderr from subcommands: JSON, one-line notes, and surviving a reader that left."""

from __future__ import annotations

import contextlib
import os
import sys

from ..formatting import json_text


def print_json(obj: object) -> None:
    sys.stdout.write(json_text(obj) + "\n")


def silence_stdout() -> None:
    """Point stdout at /dev/null so nothing (not even the interpreter's final flush) writes to a dead pipe."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def say(line: str) -> None:
    """One line to stderr; a terminal that is gone (SIGHUP) must not turn the save into a traceback."""
    with contextlib.suppress(OSError, ValueError):
        print(line, file=sys.stderr)
