"""The full-screen app: conversation, prompt, model switcher, context inspector, cost footer, sessions.

``AgentspaceApp`` is the lifecycle (start-up, layout, focus) plus three parts: ``ConversationFlow`` (sending,
streaming, acting on messages), ``SessionFlow`` (which conversation is open and how it is set up) and
``SetupFlow`` (preferences, keys, the empty chat's onboarding).
The open conversation is a ``ChatSession`` (services/): the UI reaches the core only through ``services``.
Storage, keyring and network calls run in workers, which report back with typed messages (ui/messages.py);
litellm is imported in a background thread after the first paint.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from textual import events, on, work
from textual.app import SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.worker import Worker, WorkerState

from .chat_screen import ChatScreen
from .conversation_flow import ConversationFlow
from .help import bound_keys, help_text
from .messages import Measured, StartedUp
from .session_flow import SessionFlow
from .setup_flow import SetupFlow
from .tools_flow import ToolsFlow
from .widgets.conversation import ConversationView
from .widgets.prompt import PromptInput
from .widgets.thinking import ThinkingBlock

if TYPE_CHECKING:
    from collections.abc import Callable

    from ..services.api import ModelInfo
    from ..services.core import Services

WIDE_ENOUGH = 110  # columns from which the inspector is shown by default
NARROW = 100  # below this the inspector collapses even if it was chosen (it would leave the conversation ~50)
MEASURE_DELAY = 0.3  # seconds between the session appearing and the history being counted
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)

__all__ = ["AgentspaceApp", "ChatScreen"]


class AgentspaceApp(ConversationFlow, SessionFlow, SetupFlow, ToolsFlow):
    CSS_PATH = Path(__file__).with_name("app.tcss")  # absolute: subclasses may live elsewhere
    TITLE = "agentspace-tui"
    ENABLE_COMMAND_PALETTE = True
    BINDINGS = [
        Binding("ctrl+o", "switch_model", "Model", id="switch_model"),
        Binding("ctrl+b", "toggle_inspector", "Inspector", id="toggle_inspector"),
        Binding("ctrl+r", "sessions", "Sessions", id="sessions"),
        Binding("ctrl+n", "new_session", "New", id="new_session"),
        Binding("ctrl+up,alt+up", "focus_conversation", "Messages", id="focus_conversation", show=False),
        # shown (and cancelling) while a reply streams; otherwise Esc falls through to focusing the prompt
        Binding("escape", "cancel", "Cancel", id="cancel"),
        Binding("escape", "focus_prompt", "Prompt", show=False),
        Binding("f5", "retry", "Retry", id="retry", show=False),
        Binding("f4", "regenerate", "Regenerate", id="regenerate", show=False),  # Ctrl+E: end of line in the prompt
        Binding("f2", "params", "Parameters", id="params", show=False),  # F6, F7: the prompt selects text
        Binding("f3", "tools", "Tools", id="tools", show=False),
        Binding("ctrl+y", "copy_reply", "Copy reply", id="copy_reply", show=False),
        Binding("ctrl+g", "copy_code", "Copy code", id="copy_code", show=False),
        # shown only while the conversation has a reply with thinking (see check_action)
        Binding("ctrl+t", "toggle_thinking", "Thinking", id="toggle_thinking"),
        Binding("ctrl+k", "keys", "Keys", id="keys", show=False),
        Binding("ctrl+l", "usage", "Usage", id="usage"),
        Binding("f9", "stats", "Provider stats", id="stats", show=False),
        Binding("ctrl+q", "quit", "Quit", id="quit", priority=True),
    ]

    def __init__(
        self,
        services: Services | None = None,
        *,
        services_factory: Callable[[], Services] | None = None,
        model: str | None = None,
        session: str | None = None,
        cont: bool = False,
        warm_litellm: bool = True,
        check_providers: bool = True,
    ) -> None:
        super().__init__()
        self.services = services
        self._services_factory = services_factory
        self._start_model = model
        self._start_session = session
        self._continue = cont
        self._warm_litellm = warm_litellm
        self._check_providers = check_providers
        self._stopping = False  # a stop signal arrived: saving, then exiting

    # -- lifecycle -------------------------------------------------------------------------------------------
    def get_default_screen(self) -> Screen:
        self.main_screen = ChatScreen()
        return self.main_screen

    def main_screen_mounted(self) -> None:
        screen = self.main_screen
        screen.prompt.focus()
        self.update_title()
        screen.sidebar.display = self.size.width >= WIDE_ENOUGH
        screen.cost_footer.show(None, None, None)
        self.call_after_refresh(self._startup)  # paint first, then open the session
        if not self.is_headless:  # a real terminal (tests run headless in pytest's own loop)
            self._watch_stop_signals()

    def _watch_stop_signals(self) -> None:
        """SIGTERM and SIGHUP (the terminal was closed) save a streaming reply as Esc does, then quit."""
        loop = asyncio.get_running_loop()
        for signum in STOP_SIGNALS:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(signum, self._stop_signal, signum)

    def _stop_signal(self, signum: int) -> None:
        if not self._stopping:
            self._stopping = True
            self.run_worker(self._stop_for_signal(signum), group="stop", exit_on_error=False)

    async def _stop_for_signal(self, signum: int) -> None:
        worker = self.reply_worker
        if worker is not None and worker.is_running:
            if self.conversation is not None:
                self.conversation.chat.stop_reason = f"stopped by {signal.Signals(signum).name}"
            worker.cancel()
            with contextlib.suppress(Exception):  # WorkerCancelled: the reply and its usage are saved by now
                await worker.wait()
        self.exit(return_code=128 + signum)

    @work(thread=True, group="startup", exclusive=True, exit_on_error=False, description="open session")
    def _startup(self) -> None:
        services = self.services or (self._services_factory() if self._services_factory else None)
        if services is None:
            from ..services.core import build_services

            services = build_services()
        from ..services.api import ConfigError
        from ..services.chat_session import ChatSession
        from ..services.core import NotFoundError

        services.overrides_ttl = float("inf")  # refreshed by workers, never read on the event loop
        services.price_overrides()
        for provider in services.settings.providers:  # keyring lookups happen here, not on the event loop
            services.key_for(provider)
        prefs = services.store.preferences()
        error, session = None, None
        try:
            if self._start_session:
                session = services.session(self._start_session)
            elif self._continue:
                session = services.latest_session()
            stored_model = session.get("model") if session else None
            model_id = self._start_model or stored_model or _remembered_model(services, prefs)
            model = services.resolve_model(model_id or services.settings.default_model)
        except (ConfigError, NotFoundError) as exc:  # the session opens with the default model
            error = str(exc)
            model = _fallback_model(services)
        messages = services.messages(session["id"]) if session else []
        conversation = ChatSession(services, model, session=session, messages=messages)
        conversation.path  # noqa: B018 - the branch is worked out here, off the event loop
        today = services.store.usage(day=time.strftime("%Y-%m-%d"))
        session_usage = services.store.usage(session["id"]) if session else None
        _warm_markdown()
        self.post_message(StartedUp(services, conversation, today, session_usage, error, prefs))

    def on_started_up(self, message: StartedUp) -> None:
        self.services, self.conversation, self.today = message.services, message.conversation, message.today
        self.session_usage = message.session_usage
        self.ready = True
        services = self.core_services
        self._apply_preferences(message.preferences)
        if services.settings.keybindings:  # checked when config.toml was loaded; ctrl+q stays on quit
            self.set_keymap(services.settings.keymap())
        self.show_conversation()
        self._show_onboarding()
        for warning in services.store.warnings:
            self.notice(f"storage: {warning}", "warning")
        if message.error:
            self.notice(message.error, "error")
        # counting waits until the session is on screen and a first keystroke would be served: loading the
        # tokenizer holds the GIL for ~0.3 s
        self.call_after_refresh(lambda: self.set_timer(MEASURE_DELAY, self._measure))
        if self._check_providers:
            self._check_usable()

    @work(thread=True, group="measure", exclusive=True, exit_on_error=False, description="measure context")
    def _measure(self) -> None:
        """After the session is on screen: load the tokenizer (~0.3 s), count the history, warm litellm."""
        from ..services.api import count, encoding_for, warm_up

        conversation = self.chat_session
        model = conversation.model
        count("warm up", encoding_for(model.provider, model.name))
        conversation.inspect("")
        self.post_message(Measured())
        self.core_services.catalog.discover_ollama(timeout=1.0)  # local models for the switcher
        if self._warm_litellm:
            warm_up()

    def on_measured(self, _message: Measured) -> None:
        self.measured = True
        self.refresh_inspector()

    def help_text(self) -> str:
        """/help from the binding registry: the keys as bound now (config.toml remaps included)."""
        from ..services.chat_session import COMMANDS

        keymap = self.core_services.settings.keymap() if self.services is not None else {}
        return help_text(bound_keys(self.BINDINGS, keymap), COMMANDS)

    # -- focus, layout, small actions ------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "toggle_thinking":  # hidden from the footer (and inert) until a reply has thinking
            return self._thinking_target() is not None
        if action == "cancel":
            return self.streaming
        return super().check_action(action, parameters)

    def action_page_conversation(self, direction: int) -> None:
        """PageUp / PageDown from the prompt scroll the conversation (the prompt keeps focus)."""
        view = self.main_screen.conversation
        if direction < 0:
            view.scroll_page_up()
        else:
            view.scroll_page_down()

    def action_focus_prompt(self) -> None:
        if not isinstance(self.screen, ChatScreen):
            return
        prompt = self.main_screen.prompt
        if prompt.has_focus and self._editing is not None:  # Esc in the prompt ends an edit, keeping the draft
            self._editing = None
            self.notify("no longer editing: Enter sends the draft as a new message", markup=False)
        prompt.focus()

    def action_focus_conversation(self) -> None:
        if not self.main_screen.conversation.focus_last_message():
            self.notify("no messages yet", severity="warning")

    @on(ConversationView.LeaveRequested)
    def _leave_conversation(self, event: ConversationView.LeaveRequested) -> None:
        event.stop()
        self.main_screen.prompt.focus()

    def _thinking_target(self) -> ThinkingBlock | None:
        """The focused Thinking block, else the newest shown one."""
        if not getattr(self, "main_screen", None) or not self.main_screen.is_mounted:
            return None
        focused = self.main_screen.focused
        if isinstance(focused, ThinkingBlock):
            return focused
        from .widgets.conversation import ReplyBlock

        for child in reversed(self.main_screen.conversation.children):
            if isinstance(child, ReplyBlock) and child.thinking is not None and child.thinking.display:
                return child.thinking
        return None

    def action_toggle_thinking(self) -> None:
        thinking = self._thinking_target()
        if thinking is not None:
            thinking.toggle()

    def action_usage(self) -> None:
        """Ctrl+L: the usage screen (Ctrl+L again, or Esc, closes it)."""
        from .screens.usage import UsageScreen

        if isinstance(self.screen, UsageScreen):
            self.screen.dismiss(None)
        elif self.services is not None:
            self.push_screen(UsageScreen(self.services))

    def action_stats(self) -> None:
        """F9: provider stats (F9 again, or Esc, closes them)."""
        from .screens.stats import StatsScreen

        if isinstance(self.screen, StatsScreen):
            self.screen.dismiss(None)
        elif self.services is not None:
            self.push_screen(StatsScreen(self.services))

    def action_toggle_inspector(self) -> None:
        sidebar = self.main_screen.sidebar
        sidebar.display = not sidebar.display
        self._inspector_forced = sidebar.display
        if self.ready:
            self.remember(inspector=sidebar.display)

    @on(PromptInput.Changed)
    def _draft_changed(self, event: PromptInput.Changed) -> None:
        self._last_input_at = time.monotonic()
        if isinstance(event.text_area, PromptInput):  # the app's only text area
            self.refresh_inspector(event.text_area.expanded_text())

    def on_resize(self, event: events.Resize) -> None:
        if not self.main_screen.is_mounted:
            return
        sidebar = self.main_screen.sidebar
        if event.size.width < NARROW:  # the conversation needs the room, whatever was chosen (Ctrl+B still opens it)
            sidebar.display = False
        elif self._inspector_forced is None:
            sidebar.display = event.size.width >= WIDE_ENOUGH
        else:
            sidebar.display = self._inspector_forced
        self.update_title()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """One place where an unexpected worker failure becomes a message instead of a crash."""
        if event.worker.group == "chat":  # Esc (cancel) is offered in the footer only while a reply streams
            self.refresh_bindings()
        if event.state == WorkerState.ERROR:
            error = event.worker.error
            self.notice(f"{event.worker.description or 'background task'} failed: {type(error).__name__}: "
                        f"{str(error).splitlines()[0] if str(error) else ''}", "error")
            if event.worker.group == "chat":
                self.current_reply = None

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Switch model", "Choose the model for the next request", self.action_switch_model)
        yield SystemCommand("Model parameters", "Temperature, top-p, max output tokens", self.action_params)
        yield SystemCommand("Tools", "The MCP tools of this chat: on/off, always allow", self.action_tools)
        yield SystemCommand("Toggle context inspector", "Show or hide the sidebar", self.action_toggle_inspector)
        yield SystemCommand("Sessions", "Switch, rename, delete or search sessions", self.action_sessions)
        yield SystemCommand("New session", "Start an empty conversation", self.action_new_session)
        yield SystemCommand("Cancel reply", "Stop the streaming reply (partial kept)", self.action_cancel)
        yield SystemCommand("Regenerate", "Answer the last message again (the old reply is kept)",
                            self.action_regenerate)
        yield SystemCommand("Copy last reply", "Copy the last reply to the clipboard", self.action_copy_reply)
        yield SystemCommand("Copy last code block", "Copy the last code block of the replies", self.action_copy_code)
        yield SystemCommand("Show/hide thinking", "The model's reasoning in the newest reply that has some",
                            self.action_toggle_thinking)
        yield SystemCommand("API keys", "Provider keys and local models", self.action_keys)
        yield SystemCommand("Usage", "Spend per day, model and provider; tokens, cache savings, budgets",
                            self.action_usage)
        yield SystemCommand("Provider stats", "Time to first token, speed, error and rate-limit rates per model",
                            self.action_stats)
        yield SystemCommand("Export session", "Write the session as Markdown", lambda: self.run_slash_command("/export"))
        yield SystemCommand("Help", "Keys and slash commands", lambda: self.run_slash_command("/help"))


def _warm_markdown() -> None:
    """Import rich.markdown and a code lexer in a worker thread so the first render on the loop is cheap."""
    from rich.console import Console

    from .widgets.markdown_view import markdown

    console = Console(width=80, file=open(os.devnull, "w"))  # noqa: SIM115 - closed below
    try:
        console.print(markdown("# warm\n\n- a\n\n```python\nx = 1\n```\n\n| a |\n|---|\n| 1 |"))
    finally:
        console.file.close()


def _remembered_model(services: Services, prefs: dict) -> str | None:
    """The model last chosen in the app, if it still resolves (a provider may have gone from config.toml)."""
    from ..services.api import ConfigError

    model_id = prefs.get("model")
    if not isinstance(model_id, str):
        return None
    try:
        return services.resolve_model(model_id).id
    except ConfigError:
        return None


def _fallback_model(services: Services) -> ModelInfo:
    from ..services.api import DEFAULT_MODEL, ConfigError

    try:
        return services.resolve_model(services.settings.default_model)
    except ConfigError:
        return services.resolve_model(DEFAULT_MODEL)
