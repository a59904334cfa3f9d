"""One tool call inside a reply: its name and arguments on a title line with what became of it, and the result
folded away (Enter or a click on the title opens it). Arguments and results are untrusted: rich Text only."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from rich.text import Text
from textual.content import Content
from textual.widgets import Collapsible, Static

from ...formatting import one_line
from ...text_safety import for_terminal

ARGUMENTS_SHOWN = 160  # characters of the arguments on the title line
RESULT_SHOWN = 4_000  # characters of a result shown when opened (it is stored and sent whole)

STATUS_TEXT = {
    "requested": ("⋯ waiting for your confirmation", "warning"),
    "running": ("⋯ running", "accent"),
    "ok": ("✓", "success"),
    "error": ("✗ failed", "error"),
    "denied": ("✗ declined", "warning"),
    "unavailable": ("✗ no such tool", "error"),
    "cancelled": ("✗ stopped", "warning"),
}


def arguments_text(arguments: str, limit: int = ARGUMENTS_SHOWN) -> str:
    """The arguments as ``key=value, ...`` when they are a JSON object, else as sent; one printable line."""
    try:
        value = json.loads(arguments or "{}")
    except ValueError:
        value = None
    if isinstance(value, dict):
        shown = ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in value.items())
    else:
        shown = arguments or ""
    shown = for_terminal(one_line(shown))
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


def title_text(call: Mapping[str, Any]) -> str:
    status = str(call.get("status") or "requested")
    label, _ = STATUS_TEXT.get(status, (status, ""))
    took = f" {call['duration']:.1f} s" if call.get("duration") is not None and status in ("ok", "error") else ""
    name = for_terminal(one_line(str(call.get("name") or "?")))
    return f"⚙ {name}({arguments_text(str(call.get('arguments') or ''))})  {label}{took}"


def result_text(call: Mapping[str, Any]) -> Text:
    result = call.get("result")
    if result is None:
        return Text("no result yet", style="italic")
    shown = str(result)
    more = len(shown) - RESULT_SHOWN
    text = Text(for_terminal(shown[:RESULT_SHOWN]))
    if more > 0:
        text.append(f"\n… {more:,} more characters (sent to the model in full)", style="italic")
    return text


class ToolCallView(Collapsible):
    """A tool call of a reply; ``update`` as it is confirmed, runs and finishes."""

    DEFAULT_CSS = """
    ToolCallView { margin: 0 0 0 1; padding: 0; border: none; background: transparent; }
    ToolCallView > Contents { padding: 0 0 0 3; height: auto; }
    ToolCallView.-requested CollapsibleTitle { color: $warning; text-style: bold; }
    ToolCallView.-error CollapsibleTitle, ToolCallView.-unavailable CollapsibleTitle { color: $error; }
    ToolCallView.-denied CollapsibleTitle, ToolCallView.-cancelled CollapsibleTitle { color: $text-muted; }
    ToolCallView .tool-result { color: $text-muted; }
    """

    def __init__(self, call: Mapping[str, Any]) -> None:
        self.call = dict(call)
        self._result = Static(result_text(call), classes="tool-result", markup=False)
        # Content(...), not a str: a str title would be read as markup, and arguments are the model's text
        super().__init__(self._result, title=Content(title_text(call)), collapsed=True, classes="tool-call")  # type: ignore[arg-type]
        self._apply_class()

    def update(self, call: Mapping[str, Any]) -> None:
        self.call = dict(call)
        self.title = Content(title_text(call))  # type: ignore[assignment]
        self._result.update(result_text(call))
        self._apply_class()

    def _apply_class(self) -> None:
        status = str(self.call.get("status") or "requested")
        for name in STATUS_TEXT:
            self.set_class(name == status, f"-{name}")


def segments(content: str, calls: list[Any]) -> list[str | Mapping[str, Any]]:
    """A stored reply's text cut where its tool calls came in: text pieces and calls, in order."""
    ran = [c for c in calls if isinstance(c, Mapping) and c.get("round")]
    out: list[str | Mapping[str, Any]] = []
    at = 0
    for call in ran:
        offset = max(at, min(len(content), int(call.get("offset") or 0)))
        if content[at:offset].strip():
            out.append(content[at:offset])
        out.append(call)
        at = offset
    if content[at:].strip() or not out:
        out.append(content[at:])
    return [p for p in out if not isinstance(p, str) or p]
