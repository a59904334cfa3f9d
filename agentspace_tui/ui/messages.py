"""Messages posted by workers to the app (results flow up; the app applies them)."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message


@dataclass
class UsageRefreshed(Message):
    session_id: str | None  # whose usage ``session_usage`` is (the app may have opened another meanwhile)
    session_usage: dict | None
    today: dict

    def can_replace(self, message: Message) -> bool:  # a burst collapses to the newest
        return isinstance(message, UsageRefreshed)
