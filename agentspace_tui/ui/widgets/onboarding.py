"""The empty chat's panel: which model answers, what it costs, its window, and the keys that matter.

Shown by ``ConversationView`` while it holds no message; the app passes the values (``show``) and the keys from
its live bindings, so a remapped key is shown as it is bound. Every value is shown as plain ``Text``.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from ...formatting import one_line

GREETING = "Type a message below and press Enter to send it."


def onboarding_text(model_id: str, price_text: str, window_text: str, keys: list[tuple[str, str]]) -> Text:
    text = Text(GREETING, style="bold")
    if model_id:
        text.append("\n\n")
        text.append("model   ", style="dim")
        text.append(one_line(model_id), style="bold")
        if price_text:
            text.append("\nprice   ", style="dim")
            text.append(one_line(price_text))
        if window_text:
            text.append("\nwindow  ", style="dim")
            text.append(one_line(window_text))
    if keys:
        width = max(len(one_line(label)) for label, _ in keys)
        text.append("\n")
        for label, what in keys:
            text.append("\n")
            text.append(one_line(label).ljust(width), style="bold")
            text.append("  ")
            text.append(one_line(what), style="dim")
    return text


class OnboardingPanel(Static):
    """A short, calm panel for a chat with no message yet."""

    DEFAULT_CLASSES = "onboarding"

    def __init__(self, **kwargs) -> None:
        super().__init__(onboarding_text("", "", "", []), markup=False, **kwargs)
        self.values: tuple[str, str, str, list[tuple[str, str]]] = ("", "", "", [])

    def show(self, model_id: str, price_text: str, window_text: str, keys: list[tuple[str, str]]) -> None:
        """``keys``: (key label, what it does) pairs, e.g. ("Enter", "send")."""
        self.values = (model_id, price_text, window_text, list(keys))
        self.update(onboarding_text(model_id, price_text, window_text, keys))
