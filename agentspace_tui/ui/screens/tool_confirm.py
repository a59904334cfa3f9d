"""Asked before a tool runs: which tool, which server, the arguments in full. Run once, always allow this tool in
this chat, or decline (the model is told it was declined). Escape declines: nothing runs without a yes."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from ...formatting import one_line
from ...text_safety import for_terminal

Decision = Literal["run", "always", "deny"]
ARGUMENTS_SHOWN = 20_000


def pretty_arguments(arguments: str) -> str:
    try:
        return json.dumps(json.loads(arguments or "{}"), indent=2, ensure_ascii=False)[:ARGUMENTS_SHOWN]
    except ValueError:
        return (arguments or "")[:ARGUMENTS_SHOWN]


class ToolConfirmScreen(ModalScreen[Decision]):
    DEFAULT_CSS = """
    ToolConfirmScreen { align: center middle; }
    ToolConfirmScreen > Vertical {
        width: 84; max-width: 95%; height: auto; max-height: 90%; padding: 1 2; border: round $warning;
        background: $surface;
    }
    ToolConfirmScreen #tool-args { height: auto; max-height: 16; margin: 1 0 0 0; background: $boost; }
    ToolConfirmScreen #tool-buttons { height: auto; margin: 1 0 0 0; align: center middle; }
    ToolConfirmScreen #tool-buttons Button { margin: 0 1; }
    ToolConfirmScreen #tool-keys { color: $text-muted; height: auto; }
    """
    BINDINGS = [
        Binding("y", "answer('run')", "Run", show=False),
        Binding("a", "answer('always')", "Always", show=False),
        Binding("n", "answer('deny')", "Decline", show=False),
        Binding("escape", "answer('deny')", "Decline"),
    ]

    def __init__(self, call: Mapping[str, Any]) -> None:
        super().__init__()
        self.call = dict(call)

    def compose(self) -> ComposeResult:
        call = self.call
        name = for_terminal(one_line(str(call.get("tool") or call.get("name") or "?")))
        server = for_terminal(one_line(str(call.get("server") or "?")))
        with Vertical():
            question = Text("Run the tool ")
            question.append(name, style="bold")
            question.append(f" of the MCP server {server}?")
            yield Static(question, id="tool-question")
            with VerticalScroll(id="tool-args"):
                yield Static(Text(for_terminal(pretty_arguments(str(call.get("arguments") or "")))), markup=False)
            with Horizontal(id="tool-buttons"):
                yield Button("Run", id="tool-run", variant="primary")
                yield Button("Always allow in this chat", id="tool-always")
                yield Button("Decline", id="tool-deny", variant="error")
            yield Static("y run · a always allow this tool in this chat · n / Esc decline", id="tool-keys")

    def on_mount(self) -> None:
        self.query_one("#tool-run", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        answers: dict[str | None, Decision] = {"tool-run": "run", "tool-always": "always", "tool-deny": "deny"}
        self.dismiss(answers.get(event.button.id, "deny"))

    def action_answer(self, decision: Decision) -> None:
        self.dismiss(decision)
