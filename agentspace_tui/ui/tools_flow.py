"""The MCP servers over the app's life: the tools screen (F3, ``/tools``), starting the servers a shown session
uses (so the inspector counts their tools before the first send), and stopping every server at exit.

All server I/O runs in async workers on the app's loop (the hub's servers belong to it); storing choices runs in
a worker thread under the conversation's lock. A slow server never blocks a keystroke.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from textual import work

from .app_base import AppBase
from .messages import ConversationChanged

if TYPE_CHECKING:
    from ..services.chat_session import ChatSession
    from .screens.tools import ToolsScreen


class ToolsFlow(AppBase):
    def __init__(self) -> None:
        super().__init__()
        self._servers_starting: set[str] = set()  # started for the shown session, not answered yet

    def action_tools(self) -> None:
        """F3 / ``/tools``: the tools screen (F3 again, or Esc, closes it)."""
        from ..services.session_tools import NO_SERVERS
        from .screens.tools import ToolsScreen

        if isinstance(self.screen, ToolsScreen):
            self.screen.dismiss(None)
            return
        if not self.ready or self.conversation is None:
            return
        if not self.core_services.tools.configured:
            self.notice(NO_SERVERS, "warning")
            return
        conversation = self.conversation
        screen: ToolsScreen | None = None

        def changed(_choices: dict) -> None:
            if screen is not None:
                self._store_tool_choices(conversation, screen)

        def closed(_result: None) -> None:
            if self.conversation is conversation:
                self.refresh_all()

        screen = ToolsScreen(conversation, changed)
        self.push_screen(screen, closed)

    @work(thread=True, group="session-edit", exit_on_error=False, description="store tool choices")
    def _store_tool_choices(self, conversation: ChatSession, screen: ToolsScreen) -> None:
        from ..services.chat_session import Outcome
        from ..services.session_tools import store_choices

        with conversation.lock:  # the screen's latest choices: of several quick toggles, the last one is stored
            store_choices(conversation, screen.choices)
        self.post_message(ConversationChanged(conversation, Outcome()))

    # -- starting the shown session's servers -----------------------------------------------------------------
    def refresh_all(self) -> None:
        super().refresh_all()
        self.start_session_servers()

    def start_session_servers(self) -> None:
        """Start (in a worker) the servers the shown session uses that are not listed, failed or starting."""
        conversation = self.conversation
        if conversation is None or self.services is None or not self.services.tools.configured:
            return
        from ..services.session_tools import unstarted_in_use

        wanted = [n for n in unstarted_in_use(self.services, conversation.session) if n not in self._servers_starting]
        if wanted:
            self._servers_starting.update(wanted)
            self._start_servers(wanted)

    @work(group="tool-servers", exit_on_error=False, description="start MCP servers")
    async def _start_servers(self, names: list[str]) -> None:
        from ..services.session_tools import start_server

        services = self.core_services
        try:
            errors = await asyncio.gather(*(start_server(services, name) for name in names))
        finally:
            self._servers_starting.difference_update(names)
        self.refresh_inspector()
        for error in errors:
            if error:
                self.notice(error, "warning")

    # -- exit -------------------------------------------------------------------------------------------------
    async def on_unmount(self) -> None:
        """No MCP server outlives the app: stop (and reap) every one that was started."""
        if self.services is not None:
            await self.services.tools.close()
