"""Messages posted by workers to the app (results flow up; the app applies them)."""

from __future__ import annotations

from dataclasses import dataclass, field

from textual.message import Message


@dataclass
class SessionLoaded(Message):
    session: dict | None
    messages: list[dict]
    today: dict
    warnings: list[str] = field(default_factory=list)


@dataclass
class UsageRefreshed(Message):
    session_usage: dict | None
    today: dict

    def can_replace(self, message: Message) -> bool:  # a burst collapses to the newest
        return isinstance(message, UsageRefreshed)


@dataclass
class ProvidersChecked(Message):
    usable: bool
    ollama_models: list[str]
