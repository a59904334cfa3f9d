"""The one exception storage raises for conditions a user can act on."""

from __future__ import annotations


class StorageError(Exception):
    """A one-line, user-facing storage problem (unknown session, file from a newer version, ...)."""


class SessionBusy(StorageError):
    """``Store.begin_turn`` refused: the session's last reply is still being written by a live process."""
