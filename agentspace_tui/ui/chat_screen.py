"""The main screen: title bar, conversation, prompt, inspector, cost footer and key bar."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from textual import events, getters
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Static

from .widgets.conversation import ConversationView
from .widgets.cost_footer import CostFooter
from .widgets.inspector import InspectorSidebar
from .widgets.message_block import MessageBlock
from .widgets.prompt import PromptInput

if TYPE_CHECKING:
    from .app import AgentspaceApp


class ChatScreen(Screen[None]):
    """The main screen. Its widgets are reached through these typed getters (the app's code and tests use
    them instead of querying by hand)."""

    title_bar = getters.query_one("#title-bar", Static)
    conversation = getters.query_one(ConversationView)
    prompt = getters.query_one(PromptInput)
    sidebar = getters.query_one(InspectorSidebar)
    cost_footer = getters.query_one(CostFooter)

    def compose(self) -> ComposeResult:
        yield Static(id="title-bar")
        with Horizontal(id="main"):
            with Vertical(id="chat"):
                yield ConversationView(id="conversation")
                yield PromptInput(id="prompt")
            yield InspectorSidebar(id="inspector")
        yield CostFooter(id="cost-footer")
        yield Footer()

    def on_mount(self) -> None:
        cast("AgentspaceApp", self.app).main_screen_mounted()  # only AgentspaceApp makes this screen

    def on_key(self, event: events.Key) -> None:
        """Typing while the conversation or the inspector has focus goes to the prompt instead of being lost
        (keys bound there, such as Space on a Thinking block or c on a focused message, keep their meaning)."""
        if (
            event.is_printable
            and event.character
            and isinstance(self.focused, ConversationView | InspectorSidebar | MessageBlock)
            and event.key not in self.app.active_bindings
        ):
            self.prompt.focus()
            self.prompt.insert(event.character)
            event.stop()
