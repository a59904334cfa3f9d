"""Small dialogs: a yes/no question (``ConfirmScreen``) and a one-line title editor (``RenameScreen``).

Both show user text with markup off; the question passes through ``text_safety.for_terminal``.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from ...formatting import one_line
from ...text_safety import for_terminal


class RenameScreen(ModalScreen[str | None]):
    """A one-line title editor. Dismisses with the new title (stripped, non-empty) or None (Escape)."""

    DEFAULT_CSS = """
    RenameScreen { align: center middle; }
    RenameScreen > Vertical {
        width: 70; height: auto; padding: 1 2; border: round $accent; background: $surface;
    }
    RenameScreen #rename-message { color: $error; height: auto; }
    RenameScreen .keys { color: $text-muted; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str | None) -> None:
        super().__init__()
        self._initial = one_line(title or "")  # the title as shown: controls visible

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Rename session", classes="title")
            yield Input(self._initial, placeholder="Session title", id="rename-input")
            yield Static("", id="rename-message", markup=False)
            yield Static("Enter save · Esc cancel", classes="keys", markup=False)

    def on_mount(self) -> None:
        self.query_one("#rename-input", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        title = event.value.strip()
        if not title:
            self.query_one("#rename-message", Static).update("A title can't be empty.")
            return
        self.dismiss(title)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ConfirmScreen(ModalScreen[bool]):
    """A yes/no question. Dismisses True (yes) or False (no, Escape).

    Plain (``confirm`` None): ``y`` answers yes, ``n`` or Escape no.
    Destructive (``confirm`` is the button's label, e.g. "Delete"): no typed word can answer yes. The Cancel
    button has the focus, so Enter cancels; only an explicit choice confirms: Tab to the confirm button then
    Enter (or a click), or, with ``ctrl_d``, ctrl+d (the key that asked, pressed again). Letters do nothing;
    Escape cancels.
    """

    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    ConfirmScreen > Vertical {
        width: 72; max-width: 90%; height: auto; padding: 1 2; border: round $error; background: $surface;
    }
    ConfirmScreen #confirm-buttons { height: auto; margin: 1 0 0 0; align: center middle; }
    ConfirmScreen #confirm-buttons Button { margin: 0 2; }
    ConfirmScreen #confirm-keys { color: $text-muted; height: auto; }
    """
    BINDINGS = [
        Binding("y", "answer(True)", "Yes", show=False),
        Binding("n", "answer(False)", "No", show=False),
        Binding("escape", "answer(False)", "No"),
        Binding("ctrl+d", "confirm_key", "Confirm", show=False, priority=True),  # only with ctrl_d=True
    ]

    def __init__(self, question: str, *, confirm: str | None = None, ctrl_d: bool = False) -> None:
        super().__init__()
        self.question = question
        self.confirm = confirm
        self.ctrl_d = ctrl_d and confirm is not None

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(for_terminal(self.question), id="confirm-question", markup=False)
            if self.confirm:
                with Horizontal(id="confirm-buttons"):
                    yield Button("Cancel", id="confirm-cancel", variant="primary")
                    yield Button(self.confirm, id="confirm-yes", variant="error")
                keys = f"Tab, Enter: {self.confirm.lower()}"
                if self.ctrl_d:
                    keys += f" · ctrl+d again: {self.confirm.lower()}"
                keys += " · Enter alone or Esc: cancel"
                yield Static(keys, id="confirm-keys", markup=False)

    def on_mount(self) -> None:
        if self.confirm:
            self.query_one("#confirm-cancel", Button).focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "answer" and self.confirm and parameters != (False,):
            return False  # y never answers a destructive question
        if action == "confirm_key":
            return self.ctrl_d
        return super().check_action(action, parameters)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "confirm-yes")

    def action_confirm_key(self) -> None:
        self.dismiss(True)

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
