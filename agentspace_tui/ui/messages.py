"""Messages posted by workers to the app: results flow up as typed messages; the app applies them on its loop.

Worker threads never call the app back positionally: they ``post_message`` one of these (thread-safe).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from textual.message import Message

if TYPE_CHECKING:  # the core loads in the startup worker, after the first paint
    from ..services.api import BudgetStatus, Inspection, ModelInfo
    from ..services.chat_session import ChatSession, Outcome
    from ..services.core import Services


@dataclass
class UsageRefreshed(Message):
    session_id: str | None  # whose usage ``session_usage`` is (the app may have opened another meanwhile)
    session_usage: dict | None
    today: dict
    budgets: list[BudgetStatus] | None = None  # every budget's status (None: not read)

    def can_replace(self, message: Message) -> bool:  # a burst collapses to the newest
        return isinstance(message, UsageRefreshed)


@dataclass
class StartedUp(Message):
    """The startup worker opened the services and the first conversation."""

    services: Services
    conversation: ChatSession
    today: dict
    session_usage: dict | None
    error: str | None
    preferences: dict[str, Any] = field(default_factory=dict)


@dataclass
class Measured(Message):
    """The tokenizer is loaded and the history counted: the inspector can follow every keystroke."""


@dataclass
class InspectionReady(Message):
    """A large draft measured in a worker."""

    conversation: ChatSession
    inspection: Inspection

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, InspectionReady)


@dataclass
class SessionOpened(Message):
    """A session loaded for ``token``; ``conversation`` None: the open failed (``error`` says why)."""

    token: int
    conversation: ChatSession | None
    error: str | None = None
    model_error: str | None = None  # the session's model is not usable here: another one is used


@dataclass
class ConversationChanged(Message):
    """A worker changed the conversation (a command, a branch chosen, a pair hidden): show it again."""

    conversation: ChatSession
    outcome: Outcome
    redraw: bool = False  # the shown branch changed: rebuild the conversation view


@dataclass
class NoKeys(Message):
    """No provider has a key: ``local_model`` is an Ollama model to use instead (None: none found)."""

    local_model: str | None
    instead_of: ModelInfo | None


@dataclass
class KeysChecked(Message):
    """The keyring was read again (after the keys screen)."""
