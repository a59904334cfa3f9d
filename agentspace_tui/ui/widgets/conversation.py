"""The conversation pane: user turns, streaming replies, notices and error blocks, and moving between them.

Messages are ``MessageBlock`` widgets (``UserBlock``, ``ReplyBlock``: see message_block.py and reply_block.py);
a focused one offers the keys that act on it. In the view, Up/Down (k/j) move the focus from message to message
(notices are skipped), Home/End go to the first and last, and Esc or i asks the app to go back to the prompt
(``LeaveRequested``). Model text is untrusted: it is never parsed as Rich markup, and every piece of it goes
through ``text_safety.for_terminal`` before it is shown.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Button, Static

from ...text_safety import for_terminal
from .message_block import (  # noqa: F401 - re-exported: the app and tests import them from here
    MessageBlock,
    UserBlock,
    code_blocks,
    fenced_code,
    user_text,
)
from .onboarding import OnboardingPanel
from .reply_block import (  # noqa: F401 - re-exported
    FAST_STREAM,
    RENDER_BUDGET,
    RENDER_INTERVAL,
    ReplyBlock,
    outcome,
    tool_calls_text,
)

PAGE = 10  # messages mounted per "load earlier" step
FIRST_PAGE_CHARS = 3000  # opening a session mounts the newest messages up to about this much text (min 2)

Alternatives = Mapping[str, tuple[int, int]]


class NoticeBlock(Static):
    """An app notice in the conversation (help, errors that are not replies, results of slash commands)."""

    def __init__(self, text: str, kind: str = "info") -> None:
        super().__init__(Text(for_terminal(text)), classes=f"notice notice-{kind}")


class ConversationView(VerticalScroll):
    """Scrolls with the newest message at the bottom, following it unless the user scrolled up.

    The "load earlier" button is one widget for the life of the view: it stays first, hidden while there is
    nothing earlier to load. Replacing the content never removes and re-mounts it, so a new session's page can
    be mounted at once while the old one's widgets are still being removed (no duplicate ids, nothing to await).
    The onboarding panel is kept the same way, shown while there is no message.
    """

    BINDINGS = [
        Binding("up,k", "focus_message(-1)", "Previous message", show=False),
        Binding("down,j", "focus_message(1)", "Next message", show=False),
        Binding("home", "focus_end(0)", "First message", show=False),
        Binding("end", "focus_end(1)", "Last message", show=False),
        Binding("escape", "leave('escape')", "Prompt"),
        Binding("i", "leave('i')", "Prompt", show=False),  # also on the view itself (a bound key is not typed)
    ]

    class LeaveRequested(Message):
        """Esc or i on a focused message: the user wants the prompt back (the app moves the focus)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._earlier: list[Mapping[str, Any]] = []
        self._alternatives: dict[str, tuple[int, int]] = {}
        self._earlier_button = Button("", id="load-earlier", classes="load-earlier")
        self._earlier_button.display = False
        self._onboarding = OnboardingPanel()

    def compose(self) -> ComposeResult:
        yield self._onboarding
        yield self._earlier_button

    @property
    def onboarding(self) -> OnboardingPanel:
        return self._onboarding

    def set_onboarding(self, model_id: str, price_text: str, window_text: str, keys: list[tuple[str, str]]) -> None:
        """What the empty chat's panel shows (kept, and shown whenever the view has no message)."""
        self._onboarding.show(model_id, price_text, window_text, keys)

    # -- content ------------------------------------------------------------------------------------------
    def clear(self) -> None:
        self._earlier = []
        self._alternatives = {}
        self._show_earlier_button()
        kept = (self._earlier_button, self._onboarding)
        leaving = [child for child in self.children if child not in kept]
        for child in leaving:  # removal completes later: keys must not move the focus onto them meanwhile
            child.add_class("-leaving")
        self.remove_children(leaving)
        self._onboarding.display = True

    def show_messages(
        self, messages: Sequence[Mapping[str, Any]], alternatives: Alternatives | None = None
    ) -> None:
        """Mount the newest page of a session; older pages mount on demand (long sessions open fast).

        ``alternatives``: message id -> (position from 1, count) for the messages that have siblings.
        The new page's widgets are built before anything is removed: if building fails, the view is unchanged.
        """
        take, chars = 0, 0
        for msg in reversed(messages):  # enough to fill the screen; the rest mounts when scrolled to
            if take >= 2 and (chars >= FIRST_PAGE_CHARS or take >= PAGE):
                break
            take += 1
            chars += len(msg.get("content") or "")
        page = messages[len(messages) - take :]
        alternatives = dict(alternatives or {})
        widgets = [block_for(m, alternatives.get(str(m.get("id")))) for m in page]
        self.clear()
        self._alternatives = alternatives
        self._earlier = list(messages[: len(messages) - take])
        self._show_earlier_button()
        if widgets:
            self._mount_after_button(widgets)
        self._onboarding.display = not widgets
        self.anchor()

    def _show_earlier_button(self) -> None:
        button = self._earlier_button
        if self._earlier:
            button.label = f"▲ {len(self._earlier)} earlier messages (click or Enter to load)"
        if button.has_focus and not self._earlier:
            self.focus()  # a hidden button keeps no focus
        button.display = bool(self._earlier)

    def _mount_after_button(self, widgets: list) -> None:
        if self._earlier_button.parent is self:
            self.mount_all(widgets, after=self._earlier_button)
        else:  # not composed yet (the view is not mounted): the button is mounted first, with the page
            self.mount_all(widgets)

    def load_earlier(self) -> None:
        if not self._earlier:
            return
        page, self._earlier = self._earlier[-PAGE:], self._earlier[:-PAGE]
        self._mount_after_button([block_for(m, self._alternatives.get(str(m.get("id")))) for m in page])
        self._show_earlier_button()

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        if new <= 0 < old and self._earlier:  # scrolled to the top: bring in the previous page
            self.call_after_refresh(self.load_earlier)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button is self._earlier_button:
            event.stop()
            self.load_earlier()

    def add(self, *widgets) -> None:
        self.mount_all(widgets)
        if any(isinstance(w, MessageBlock) for w in widgets):
            self._onboarding.display = False
        self.anchor()

    # -- focus ----------------------------------------------------------------------------------------------
    def message_blocks(self) -> list[MessageBlock]:
        """The messages shown, oldest first (not the ones being removed)."""
        return [w for w in self.children if isinstance(w, MessageBlock) and not w.has_class("-leaving")]

    def focused_message(self) -> MessageBlock | None:
        """The focused message, or the one holding the focus (its Thinking block)."""
        node: Widget | None = self.screen.focused if self.is_attached else None
        while node is not None and node is not self:
            if isinstance(node, MessageBlock):
                return node
            node = node.parent if isinstance(node.parent, Widget) else None
        return None

    def focus_message(self, block: MessageBlock, *, top: bool = False) -> None:
        """Focus ``block`` and scroll it into view (its first line, with ``top``, when it is taller than the view)."""
        block.focus(scroll_visible=False)

        def reveal() -> None:
            tall = block.outer_size.height > self.scrollable_content_region.height
            self.scroll_to_widget(block, animate=False, top=top and tall)

        self.call_after_refresh(reveal)

    def focus_last_message(self) -> bool:
        """Focus the newest message (the app's "enter the conversation" key). False when there is none."""
        blocks = self.message_blocks()
        if not blocks:
            return False
        self.focus_message(blocks[-1])
        return True

    def focus_at(self, index: int) -> None:
        """Focus the message at ``index`` of the branch shown (or the nearest mounted one), once it is mounted:
        after a redraw, the keys go on acting where the user was ([ again, x again)."""

        def focus() -> None:
            blocks = self.message_blocks()
            if blocks:
                self.focus_message(blocks[max(0, min(len(blocks) - 1, index - len(self._earlier)))])

        self.call_after_refresh(focus)

    def _in_view(self, blocks: list[MessageBlock]) -> list[MessageBlock]:
        top, bottom = self.scroll_y, self.scroll_y + self.scrollable_content_region.height
        return [b for b in blocks if b.virtual_region.y < bottom and b.virtual_region.bottom > top]

    def action_focus_message(self, step: int) -> None:
        blocks = self.message_blocks()
        if not blocks:
            self.scroll_up() if step < 0 else self.scroll_down()
            return
        current = self.focused_message()
        if current is None or current not in blocks:  # from the view itself: start from what is on screen
            shown = self._in_view(blocks) or blocks
            self.focus_message(shown[-1] if step < 0 else shown[0])
            return
        index = blocks.index(current) + step
        if index < 0:
            if self._earlier:  # the top of what is mounted: bring the previous page in, then go on
                self.load_earlier()
                self.call_after_refresh(self.action_focus_message, step)
            else:
                self.scroll_home(animate=False)
            return
        if index >= len(blocks):
            self.scroll_end(animate=False)
            return
        self.focus_message(blocks[index], top=step < 0)

    def action_focus_end(self, last: int) -> None:
        blocks = self.message_blocks()
        if not blocks:
            self.scroll_end(animate=False) if last else self.scroll_home(animate=False)
        elif last:
            self.focus_message(blocks[-1])
        else:
            self.focus_message(blocks[0], top=True)

    def action_leave(self, key: str) -> None:
        self.post_message(self.LeaveRequested())

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "leave" and parameters and parameters[0] == "escape":
            # on the view itself Esc is the app's; while a reply streams, Esc is the app's "cancel" anywhere
            return self.focused_message() is not None and not self._streaming()
        return super().check_action(action, parameters)

    def _streaming(self) -> bool:
        return any(isinstance(b, ReplyBlock) and b.streaming for b in self.message_blocks()[-2:])


def block_for(message: Mapping[str, Any], alternative: tuple[int, int] | None = None) -> MessageBlock:
    if message.get("role") == "user":
        return UserBlock(message, alternative)
    return ReplyBlock(message, alternative=alternative)
