"""What every message of the conversation shares: keyboard focus and the actions on a focused message.

``MessageBlock`` is the base of ``UserBlock`` (a ``Static``) and ``ReplyBlock`` (a ``Vertical``, see
reply_block.py). A focused block offers its keys in the footer; ``check_action`` hides the ones that do not
apply (regenerate on a user message, edit on a reply, alternatives on a message that has none, anything but
restore and details on a hidden one). Copying and the details screen are done here; what changes the session
(regenerate, retry with another model, edit, delete, restore, paging alternatives) is asked of the app with a
``MessageBlock.ActionRequested`` message, which bubbles up to it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal, get_args

from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Static

from ...formatting import one_line
from ...text_safety import for_terminal

Action = Literal[
    "regenerate", "retry_other", "edit", "delete", "restore", "previous_alternative", "next_alternative"
]
ACTIONS: tuple[str, ...] = get_args(Action)
USER_PREVIEW_LINES = 40  # a long user message (a pasted log) shows its head; all of it was sent
HIDDEN_PREVIEW = 60  # characters of a hidden message shown on its one line

FENCE_RE = re.compile(r"^(```|~~~)([^\n]*)\n(.*?)^\1\s*$", re.S | re.M)


def code_blocks(text: str) -> list[str]:
    """The bodies of the fenced code blocks of ``text``, in order."""
    return [m.group(3) for m in FENCE_RE.finditer(text)]


def fenced_code(text: str) -> list[tuple[str, str]]:
    """(language, body) of each fenced code block of ``text``; language "" when the fence names none."""
    return [(m.group(2).strip().split(" ")[0], m.group(3)) for m in FENCE_RE.finditer(text)]


def code_label(language: str, code: str) -> str:
    """``python, 14 lines``: how a code block is named in toasts and the chooser."""
    lines = len(code.splitlines())
    return f"{one_line(language) or 'text'}, {lines} line{'s' if lines != 1 else ''}"


def user_text(content: str) -> Text:
    content = for_terminal(content)
    lines = content.split("\n", USER_PREVIEW_LINES)
    if len(lines) <= USER_PREVIEW_LINES:
        return Text(content)
    rest = lines.pop()
    text = Text("\n".join(lines))
    more = rest.count("\n") + 1
    text.append(f"\n… {more:,} more lines ({len(content.encode()):,} bytes in all were sent)", style="dim italic")
    return text


def hidden_text(message: Mapping[str, Any]) -> Text:
    """The one line a message hidden from the context shows instead of its body."""
    content = str(message.get("content") or message.get("refusal") or "")
    preview = " ".join(one_line(content).split())  # one line: runs of blank space (paragraphs) as one space
    if len(preview) > HIDDEN_PREVIEW:
        preview = preview[: HIDDEN_PREVIEW - 1] + "…"
    return Text(f"hidden from the context: {preview}", style="dim italic")


def alternative_text(alternative: tuple[int, int] | None) -> Text:
    """``‹ 2/3 ›`` (dim) for a message that has alternatives, else empty."""
    if alternative is None:
        return Text("")
    position, count = alternative
    return Text(f"‹ {position}/{count} ›", style="dim")


class MessageBlock(Widget, can_focus=True):
    """A stored message shown in the conversation; subclasses set ``message`` before they are mounted."""

    BINDINGS = [
        Binding("c", "copy", "Copy"),
        Binding("y", "copy_code", "Code"),
        Binding("enter,d", "details", "Details"),
        Binding("r", "request('regenerate')", "Regen"),
        Binding("m", "request('retry_other')", "Other model"),
        Binding("e", "request('edit')", "Edit"),
        Binding("x", "request('delete')", "Delete"),
        Binding("x", "request('restore')", "Restore"),  # the same key on a hidden message
        Binding("left_square_bracket", "request('previous_alternative')", "Prev", key_display="["),
        Binding("right_square_bracket", "request('next_alternative')", "Next", key_display="]"),
    ]

    message: Mapping[str, Any]
    alternative: tuple[int, int] | None = None  # (position from 1, count) when the message has siblings

    class ActionRequested(Message):
        """The user asked for ``action`` on the message ``message_id`` (shown by ``block``): the app does it."""

        def __init__(self, block: MessageBlock, action: Action, message_id: str) -> None:
            super().__init__()
            self.block = block
            self.action = action
            self.message_id = message_id

        @property
        def control(self) -> MessageBlock:
            return self.block

    # -- state --------------------------------------------------------------------------------------------
    @property
    def role(self) -> str:
        return str(self.message.get("role") or "assistant")

    @property
    def hidden(self) -> bool:
        return bool(self.message.get("hidden"))

    @property
    def busy(self) -> bool:
        """A reply still streaming: nothing may change it yet."""
        return bool(getattr(self, "streaming", False))

    @property
    def text(self) -> str:
        return str(self.message.get("content") or "")

    def can(self, action: str) -> bool:
        """Whether ``action`` (an ``Action`` or copy/copy_code/details) applies to this message now."""
        if action == "details":
            return True
        if self.hidden:
            return action == "restore"
        if action == "copy":
            return bool(self.text)
        if action == "copy_code":
            return bool(code_blocks(self.text))
        if self.busy or action == "restore":
            return False
        if action in ("regenerate", "retry_other"):
            return self.role == "assistant"
        if action == "edit":
            return self.role == "user"
        if action == "delete":
            return True
        if self.alternative is None:
            return False
        position, count = self.alternative
        return position > 1 if action == "previous_alternative" else position < count

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "request":
            return self.can(str(parameters[0])) if parameters else False
        if action in ("copy", "copy_code", "details"):
            return self.can(action)
        return True

    def why_not(self, action: str) -> str:
        """Why ``action`` does not apply to this message now (one line, for a toast)."""
        if self.busy:
            return "the reply is still streaming: wait, or press Esc to cancel it"
        if self.hidden:
            return "this message is hidden from the context: x puts it back first"
        if action in ("regenerate", "retry_other"):
            return "regenerating applies to a reply: focus the answer to this message"
        if action == "edit":
            return "only your own messages can be edited and resent"
        if action in ("previous_alternative", "next_alternative"):
            return "this message has no other version" if self.alternative is None else "no other version that way"
        return "nothing to copy here" if action in ("copy", "copy_code") else "not available on this message"

    def on_key(self, event: events.Key) -> None:
        """A key of this message that does not apply here (r on your own message, e on a reply, [ with no
        alternative, any change while streaming) is answered here: otherwise the screen would type it into the
        prompt as if it were text."""
        actions = [action for key, action in _KEY_ACTIONS if key == event.key]
        if actions and not any(self.can(action) for action in actions):
            event.stop()
            event.prevent_default()
            self.notify(self.why_not(actions[0]), severity="warning", markup=False)

    def on_focus(self, event: events.Focus) -> None:
        self.add_class("-focused")

    def on_blur(self, event: events.Blur) -> None:
        self.remove_class("-focused")

    # -- actions ----------------------------------------------------------------------------------------
    def action_request(self, action: str) -> None:
        if action in ACTIONS and self.can(action):
            self.post_message(self.ActionRequested(self, action, str(self.message.get("id") or "")))  # type: ignore[arg-type]

    def action_copy(self) -> None:
        text = self.text
        if not text:
            return
        self.app.copy_to_clipboard(for_terminal(text))  # what the screen shows: no live control sequence
        what = "the reply" if self.role == "assistant" else "your message"
        self.notify(f"copied {what} ({len(text):,} characters)", markup=False)

    def action_copy_code(self) -> None:
        blocks = fenced_code(self.text)
        if len(blocks) == 1:
            language, code = blocks[0]
            self.app.copy_to_clipboard(for_terminal(code))
            self.notify(f"copied the code block ({code_label(language, code)})", markup=False)
        elif blocks:
            from ..screens.code_chooser import CodeChooserScreen

            def chosen(index: int | None) -> None:
                if index is None:
                    return
                language, code = blocks[index]
                self.app.copy_to_clipboard(for_terminal(code))
                self.app.notify(f"copied code block {index + 1} of {len(blocks)} ({code_label(language, code)})",
                                markup=False)

            self.app.push_screen(CodeChooserScreen(blocks), chosen)

    def action_details(self) -> None:
        from ..screens.message_details import MessageDetailsScreen

        self.app.push_screen(MessageDetailsScreen(self.message))


def _key_actions() -> tuple[tuple[str, str], ...]:
    """(key, action) for each key bound on a message, ``request('edit')`` given as ``edit``."""
    out: list[tuple[str, str]] = []
    for binding in MessageBlock.BINDINGS:
        if not isinstance(binding, Binding):
            continue
        action = binding.action.removeprefix("request('").removesuffix("')")
        out += [(key.strip(), action) for key in binding.key.split(",")]
    return tuple(out)


_KEY_ACTIONS = _key_actions()


class UserBlock(MessageBlock, Static):
    """A user turn: shown verbatim (no markup, no Markdown), or as one line when hidden from the context."""

    def __init__(self, message: Mapping[str, Any], alternative: tuple[int, int] | None = None) -> None:
        self.message = message
        self.alternative = alternative
        hidden = bool(message.get("hidden"))
        body = hidden_text(message) if hidden else user_text(message.get("content", ""))
        super().__init__(body, classes="user-message message" + (" -hidden" if hidden else ""))
        title = Text("You")
        if alternative is not None:
            title = Text.assemble(alternative_text(alternative), "  ", title)
        self.border_title = title
