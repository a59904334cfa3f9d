"""What the app's parts share: its state, the main screen's widgets, and showing that state (title, footer,
inspector, notices). ``AgentspaceApp`` combines this with the conversation and session flows.

State flows one way: the open ``ChatSession`` (services/) is the truth; widgets are given what to show.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from textual import work
from textual.app import App
from textual.worker import Worker

from ..formatting import one_line
from .budget_view import crossings, footer_budget
from .chat_screen import ChatScreen
from .help import title_bar_text
from .messages import InspectionReady, UsageRefreshed
from .widgets.conversation import NoticeBlock, ReplyBlock

if TYPE_CHECKING:  # the core loads in the startup worker, after the first paint
    from ..services.api import BudgetStatus, Inspection, MessageRecord, ModelInfo, SessionRecord
    from ..services.chat import ChatService
    from ..services.chat_session import ChatSession
    from ..services.core import Services

BIG_DRAFT = 20_000  # characters from which the draft is measured in a worker, not per keystroke

_T = TypeVar("_T")


def _set_up(value: _T | None, what: str) -> _T:
    if value is None:
        raise RuntimeError(f"{what} used before the app finished starting up")
    return value


class AppBase(App[int]):
    main_screen: ChatScreen

    def __init__(self) -> None:
        super().__init__()
        self.services: Services | None = None
        self.conversation: ChatSession | None = None  # the open conversation; replaced whole when another opens
        self.last_inspection: Inspection | None = None
        self.reply_worker: Worker[None] | None = None
        self.current_reply: ReplyBlock | None = None
        self.session_usage: dict | None = None
        self.today: dict | None = None
        self.ready = False  # a conversation is open and the prompt usable
        self.measured = False  # the history has been counted: the inspector can update per keystroke
        self._last_input_at = 0.0
        self.budget_statuses: list[BudgetStatus] | None = None  # read by the usage worker; None: not yet
        self._budget_toasts: dict[str, str] = {}  # budget name -> the state last toasted (budget_view.crossings)
        self._budgets_asked = False

    # -- the open conversation (None until the startup worker has run) ---------------------------------------
    @property
    def core_services(self) -> Services:
        return _set_up(self.services, "the services")

    @property
    def chat_session(self) -> ChatSession:
        return _set_up(self.conversation, "the conversation")

    @property
    def session(self) -> SessionRecord | None:
        return self.conversation.session if self.conversation else None

    @property
    def history(self) -> list[MessageRecord]:
        """The messages of the branch on screen."""
        return self.conversation.path if self.conversation else []

    @property
    def model(self) -> ModelInfo | None:
        return self.conversation.model if self.conversation else None

    @property
    def active_model(self) -> ModelInfo:
        return self.chat_session.model

    @property
    def chat(self) -> ChatService:
        return self.chat_session.chat

    @chat.setter
    def chat(self, chat: ChatService) -> None:  # tests stand in a scripted service
        self.chat_session.chat = chat

    @property
    def streaming(self) -> bool:
        return self.reply_worker is not None and self.reply_worker.is_running

    def refuse_while_streaming(self) -> bool:
        """True (and says so) while a reply streams or is about to."""
        if self.reply_worker is not None and not self.reply_worker.is_finished:
            self.notify("a reply is still streaming: wait, or press Esc to cancel it", severity="warning")
            return True
        return False

    # -- provided by the parts AgentspaceApp combines (declared here so each part can call the others) ------
    def run_slash_command(self, line: str) -> None:
        raise NotImplementedError  # SessionFlow

    def open_switcher(self, chosen: Callable[[str], None], heading: str = "Model for the next request") -> None:
        raise NotImplementedError  # SessionFlow

    def set_model(self, model_id: str) -> bool:
        raise NotImplementedError  # SessionFlow

    def action_regenerate(self, message_id: str | None = None, model_id: str | None = None) -> None:
        raise NotImplementedError  # ConversationFlow

    def action_retry(self) -> None:
        raise NotImplementedError  # ConversationFlow

    def action_tools(self) -> None:
        raise NotImplementedError  # ToolsFlow

    def _collect_when_idle(self, full: bool = False) -> None:
        raise NotImplementedError  # ConversationFlow

    def help_text(self) -> str:
        raise NotImplementedError  # AgentspaceApp

    def remember(self, **values: object) -> None:
        raise NotImplementedError  # AgentspaceApp

    # -- showing the state -----------------------------------------------------------------------------------
    def notice(self, text: str, kind: str = "info") -> None:
        self.main_screen.conversation.add(NoticeBlock(text, kind))

    def update_title(self) -> None:
        conversation = self.conversation
        title = one_line(conversation.title) if conversation else "New chat"
        model = one_line(conversation.model.id) if conversation else "loading…"
        no_key = conversation is not None and not self.core_services.key_configured(conversation.model.provider)
        self.main_screen.title_bar.update(title_bar_text(title, model, no_key, self.size.width - 2))

    def refresh_footer(self) -> None:
        last = self.conversation.last_reply() if self.conversation else None
        budget = footer_budget(self.budget_statuses, self.model.provider if self.model else None)
        self.main_screen.cost_footer.show(last, self.session_usage, self.today, budget)
        if self.budget_statuses is None and self.services is not None and not self._budgets_asked:
            self._budgets_asked = True  # read once at start-up, then with the usage after each reply
            self.refresh_usage()

    def refresh_inspector(self, draft: str | None = None) -> None:
        conversation = self.conversation
        if not self.measured or conversation is None:
            return
        if draft is None:
            draft = self.main_screen.prompt.expanded_text()
        if len(draft) > BIG_DRAFT:
            self._inspect_in_worker(conversation, draft)
            return
        self._show_inspection(conversation, conversation.inspect(draft))

    @work(thread=True, group="inspect", exclusive=True, exit_on_error=False, description="measure draft")
    def _inspect_in_worker(self, conversation: ChatSession, draft: str) -> None:
        self.post_message(InspectionReady(conversation, conversation.inspect(draft)))

    def on_inspection_ready(self, message: InspectionReady) -> None:
        self._show_inspection(message.conversation, message.inspection)

    def _show_inspection(self, conversation: ChatSession, inspection: Inspection) -> None:
        if conversation is not self.conversation:  # measured for a conversation no longer shown
            return
        self.last_inspection = inspection
        params = conversation.params
        from ..services.api import make_forecast

        model = conversation.model
        forecast = make_forecast(inspection, model, self.core_services.price_for(model), conversation.messages,
                                 params.max_tokens) if inspection.model == model.id else None
        self.main_screen.sidebar.show(inspection, conversation.attachments, params.describe(), forecast)

    def show_conversation(self) -> None:
        """Rebuild the conversation view from the open conversation's branch (opening, branching)."""
        conversation = self.chat_session
        self.main_screen.conversation.show_messages(conversation.path, conversation.alternatives())
        self.refresh_all()

    def refresh_all(self) -> None:
        self.update_title()
        self.refresh_footer()
        self.refresh_inspector()

    @work(thread=True, group="usage", exclusive=True, exit_on_error=False, description="refresh usage")
    def refresh_usage(self) -> None:
        store = self.core_services.store
        session_id = self.conversation.session_id if self.conversation else None
        session_usage = store.usage(session_id) if session_id else None
        today = store.usage(day=time.strftime("%Y-%m-%d"))
        from ..services.api import budget_statuses

        budgets = budget_statuses(self.core_services.settings, store)
        self.post_message(UsageRefreshed(session_id, session_usage, today, budgets))

    def on_usage_refreshed(self, message: UsageRefreshed) -> None:
        self.today = message.today
        if self.conversation is not None and message.session_id == self.conversation.session_id:
            self.session_usage = message.session_usage
        if message.budgets is not None:
            self.budget_statuses = message.budgets
            for text, severity in crossings(message.budgets, self._budget_toasts):
                self.notify(text, severity="error" if severity == "error" else "warning", markup=False, timeout=8)
        self.refresh_footer()
