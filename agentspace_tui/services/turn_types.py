"""The shapes of a turn: where it goes in the conversation tree, what was checked before it, and the events that
open and close its reply (services/chat.py yields them; the CLI and the app read them)."""

from __future__ import annotations

from dataclasses import dataclass

from ..catalog.models import ModelInfo
from ..context import Inspection
from ..domain import MessageRecord, SessionRecord
from ..pricing import Price


class BusyError(Exception):
    """A reply is already streaming in this session."""


@dataclass(frozen=True)
class Fork:
    """Start the turn after ``parent`` (None: as the first message) instead of after the active branch's last
    message: editing and resending an earlier user message. The old branch stays stored and reachable."""

    parent: str | None


@dataclass(frozen=True)
class Regenerate:
    """Answer the stored user message ``user_message_id`` again, as a new alternative reply."""

    user_message_id: str


Placement = Fork | Regenerate | None  # None: a new turn at the end of the active branch


@dataclass
class Prepared:
    """What ``ChatService.prepare`` checked and found: everything a turn needs before anything is stored."""

    session: SessionRecord
    history: list[MessageRecord]  # the branch the request continues, oldest first
    model: ModelInfo
    text: str
    parent: str | None  # the message the new user message (or, regenerating, the reply) follows
    answering: MessageRecord | None = None  # regenerating: the stored user message answered again


@dataclass
class ReplyStarted:
    session: SessionRecord
    user_message: MessageRecord  # the new user message, or the stored one a regenerated reply answers
    reply: MessageRecord
    model: ModelInfo
    price: Price | None
    inspection: Inspection


@dataclass
class ReplyFinished:
    reply: MessageRecord  # the stored assistant message, final
    error: str | None  # one-line message for error/interrupted/cancelled replies
