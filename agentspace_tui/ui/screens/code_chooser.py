"""Which code block to copy, when a message has several: each listed by its language, size and first line.

``CodeChooserScreen`` dismisses with the chosen block's index (Enter or a click) or None (Esc). Code is model
or user text: every line shown is plain ``Text``, on one line, with control characters made visible.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from ...formatting import one_line

FIRST_LINE = 70  # characters of a block's first line shown in its row


def block_prompt(index: int, language: str, code: str) -> Text:
    lines = code.splitlines()
    first = next((line.strip() for line in lines if line.strip()), "(empty)")
    first = one_line(first)
    if len(first) > FIRST_LINE:
        first = first[: FIRST_LINE - 1] + "…"
    size = f"{len(lines)} line{'s' if len(lines) != 1 else ''}"
    text = Text.assemble((f"{index + 1}. ", "bold"), (one_line(language) or "text", "bold"), f" · {size}\n   ")
    text.append(first, style="dim")
    return text


class CodeChooserScreen(ModalScreen[int | None]):
    """A list of a message's code blocks: Enter copies the highlighted one, Esc cancels."""

    CSS_PATH = "code_chooser.tcss"
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, blocks: list[tuple[str, str]]) -> None:
        """``blocks``: (language, code) of each fenced block, in order."""
        super().__init__()
        self.blocks = blocks

    def compose(self) -> ComposeResult:
        with Vertical(id="code-chooser-dialog"):
            yield Static(Text(f"Copy which code block? ({len(self.blocks)} in this message)", style="bold"),
                         id="code-chooser-title")
            yield OptionList(
                *(Option(block_prompt(i, lang, code), id=str(i)) for i, (lang, code) in enumerate(self.blocks)),
                id="code-chooser-list",
            )
            yield Static(Text("↑↓ choose · Enter copy · Esc cancel"), id="code-chooser-keys")

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        options.highlighted = 0
        options.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option_index)

    def action_cancel(self) -> None:
        self.dismiss(None)
