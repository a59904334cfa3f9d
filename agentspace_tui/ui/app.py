"""The full-screen app: conversation, prompt, model switcher, context inspector, cost footer, sessions.

The UI talks to the core only through ``Services`` and ``ChatService``. Storage, keyring and network calls run
in workers; litellm is imported in a background thread after the first paint.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar, cast

from rich.text import Text
from textual import events, on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Static
from textual.worker import Worker, WorkerState

if TYPE_CHECKING:  # the services load in the startup worker, after the first paint
    from ..catalog.models import ModelInfo
    from ..context import ContextInspector, Inspection
    from ..services.chat import ChatService
    from ..services.core import Services

from ..config.settings import ConfigError
from ..text_safety import for_terminal
from . import gc_policy
from .messages import UsageRefreshed
from .widgets.conversation import ConversationView, NoticeBlock, ReplyBlock, UserBlock, code_blocks
from .widgets.cost_footer import CostFooter
from .widgets.inspector import InspectorSidebar
from .widgets.prompt import PromptInput
from .widgets.thinking import ThinkingBlock

WIDE_ENOUGH = 110  # columns from which the inspector is shown by default
NARROW = 100  # below this the inspector collapses even if it was chosen (it would leave the conversation ~50)
BIG_DRAFT = 20_000  # characters from which the draft is measured in a worker, not per keystroke
MEASURE_DELAY = 0.3  # seconds between the session appearing and the history being counted
IDLE_GC_DELAY = 1.5  # seconds without typing before garbage is collected after a reply

STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)

_T = TypeVar("_T")

# what each remappable binding does, in the order /help lists them (keys come from the live bindings)
BINDING_HELP = {
    "switch_model": "switch model", "toggle_inspector": "toggle inspector", "sessions": "sessions",
    "new_session": "new session", "cancel": "cancel the streaming reply", "retry": "re-send a failed message",
    "copy_reply": "copy last reply", "copy_code": "copy last code block", "keys": "providers and keys",
    "toggle_thinking": "show/hide the model's thinking (the newest reply's, or the focused one)", "quit": "quit",
}
HELP_FIXED = """\
Prompt: Enter send · Ctrl+J newline · Up/Down input history · Tab moves focus · Ctrl+P command palette
Commands: /model ID · /new · /system TEXT · /attach PATH · /detach [NAME] · /export [PATH] · /rename TITLE
· /retry · /help
Keys can be remapped in config.toml under [keybindings] by binding id: {ids}."""


class ChatScreen(Screen):
    """The main screen."""

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
        (keys bound there, such as Space on a Thinking block, keep their meaning)."""
        if (
            event.is_printable
            and event.character
            and isinstance(self.focused, ConversationView | InspectorSidebar)
            and event.key not in self.app.active_bindings
        ):
            prompt = self.query_one(PromptInput)
            prompt.focus()
            prompt.insert(event.character)
            event.stop()


class AgentspaceApp(App):
    CSS_PATH = Path(__file__).with_name("app.tcss")  # absolute: subclasses may live elsewhere
    TITLE = "agentspace-tui"
    ENABLE_COMMAND_PALETTE = True
    BINDINGS = [
        Binding("ctrl+o", "switch_model", "Model", id="switch_model"),
        Binding("ctrl+b", "toggle_inspector", "Inspector", id="toggle_inspector"),
        Binding("ctrl+r", "sessions", "Sessions", id="sessions"),
        Binding("ctrl+n", "new_session", "New", id="new_session"),
        # shown (and cancelling) while a reply streams; otherwise Esc falls through to focusing the prompt
        Binding("escape", "cancel", "Cancel", id="cancel"),
        Binding("escape", "focus_prompt", "Prompt", show=False),
        Binding("f5", "retry", "Retry", id="retry", show=False),
        Binding("ctrl+y", "copy_reply", "Copy reply", id="copy_reply", show=False),
        Binding("ctrl+g", "copy_code", "Copy code", id="copy_code", show=False),
        # shown only while the conversation has a reply with thinking (see check_action)
        Binding("ctrl+t", "toggle_thinking", "Thinking", id="toggle_thinking"),
        Binding("ctrl+k", "keys", "Keys", id="keys", show=False),
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
        self.chat: ChatService | None = None
        self.session: dict | None = None
        self.history: list[dict] = []
        self.model: ModelInfo | None = None
        self.inspector: ContextInspector | None = None  # created with the services
        self.last_inspection: Inspection | None = None
        self.reply_worker: Worker | None = None
        self.current_reply: ReplyBlock | None = None
        self.session_usage: dict | None = None
        self.today: dict | None = None
        self.ready = False  # the session is open and the prompt usable
        self.measured = False  # the history has been counted: the inspector can update per keystroke
        self._inspector_forced: bool | None = None  # set once the user toggles the sidebar
        self._sent_draft: tuple[str, dict[int, str]] | None = None  # given back if the send is refused
        self._last_input_at = 0.0
        self._stopping = False  # a stop signal arrived: saving, then exiting
        self._oversize_confirmed: str | None = None  # a draft sent although it cannot fit: warned about once

    # -- set up by the startup worker ----------------------------------------------------------------
    # The attributes above are None until the startup worker has run; these accessors give them non-None
    # to code that only runs after it (and fail clearly if that assumption is ever broken).
    @property
    def core_services(self) -> Services:
        return _set_up(self.services, "the services")

    @property
    def chat_service(self) -> ChatService:
        return _set_up(self.chat, "the chat service")

    @property
    def active_model(self) -> ModelInfo:
        return _set_up(self.model, "the model")

    @property
    def context_inspector(self) -> ContextInspector:
        return _set_up(self.inspector, "the context inspector")

    # -- lifecycle ----------------------------------------------------------------------------------
    def get_default_screen(self) -> Screen:
        self.main_screen = ChatScreen()
        return self.main_screen

    # widgets of the main screen (App.query_one would search whatever modal is on top)
    def w(self, widget_type, selector: str | None = None):
        if selector:
            return self.main_screen.query_one(selector, widget_type)
        return self.main_screen.query_one(widget_type)

    def main_screen_mounted(self) -> None:
        self.w(PromptInput).focus()
        self._update_title()
        self.w(InspectorSidebar).display = self.size.width >= WIDE_ENOUGH
        self.w(CostFooter).show(None, None, None)
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
            if self.chat is not None:
                self.chat.stop_reason = f"stopped by {signal.Signals(signum).name}"
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
        from ..context import ContextInspector
        from ..services.chat import ChatService
        from ..services.core import NotFoundError

        self.inspector = ContextInspector()
        services.overrides_ttl = float("inf")  # refreshed by workers, never read on the event loop
        services.price_overrides()
        for provider in services.settings.providers:  # keyring lookups happen here, not on the event loop
            services.key_for(provider)
        self.services = services
        self.chat = ChatService(services)
        session = None
        error = None
        prefs = services.store.preferences()
        try:
            if self._start_session:
                session = services.session(self._start_session)
            elif self._continue:
                session = services.latest_session()
            model_id = self._start_model or (session or {}).get("model") or _remembered_model(services, prefs)
            model = services.resolve_model(model_id or services.settings.default_model)
        except (ConfigError, NotFoundError) as exc:
            error = str(exc)
            model = _fallback_model(services)
        messages = services.messages(session["id"]) if session else []
        today = services.store.usage(day=time.strftime("%Y-%m-%d"))
        session_usage = services.store.usage(session["id"]) if session else None
        _warm_markdown()
        self.call_from_thread(self._apply_startup, session, messages, model, today, session_usage, error, prefs)

    @work(thread=True, group="measure", exclusive=True, exit_on_error=False, description="measure context")
    def _measure(self) -> None:
        """After the session is on screen: load the tokenizer (~0.3 s), count the history, warm litellm."""
        from ..tokens import count, encoding_for

        services, model = self.core_services, self.active_model
        count("warm up", encoding_for(model.provider, model.name))
        services.inspect(self.session, self.history, model, "", self.inspector)
        self.call_from_thread(self._measured)
        services.catalog.discover_ollama(timeout=1.0)  # local models for the switcher
        if self._warm_litellm:
            from ..providers.stream import warm_up

            warm_up()

    def _measured(self) -> None:
        self.measured = True
        self.refresh_inspector()

    def _apply_startup(self, session, messages, model, today, session_usage, error, prefs) -> None:
        self.session, self.history, self.model = session, messages, model
        self.today, self.session_usage = today, session_usage
        self.ready = True
        services = self.core_services
        self._apply_preferences(prefs)
        if services.settings.keybindings:  # checked when config.toml was loaded; ctrl+q stays on quit
            self.set_keymap(services.settings.keymap())
        self.w(ConversationView).show_messages(messages)
        for warning in services.store.warnings:
            self._notice(f"storage: {warning}", "warning")
        if error:
            self._notice(error, "error")
        self._update_title()
        self._refresh_footer()
        # counting waits until the session is on screen and a first keystroke would be served: loading the
        # tokenizer holds the GIL for ~0.3 s
        self.call_after_refresh(lambda: self.set_timer(MEASURE_DELAY, self._measure))
        if self._check_providers:
            self._check_usable()

    def _apply_preferences(self, prefs: dict) -> None:
        """What the last run remembered: theme and whether the inspector was shown (values checked, not trusted)."""
        theme = prefs.get("theme")
        if isinstance(theme, str) and theme in self.available_themes:
            self.theme = theme
        shown = prefs.get("inspector")
        if isinstance(shown, bool):
            self._inspector_forced = shown
            self.w(InspectorSidebar).display = shown
        self.watch(self, "theme", self._theme_changed, init=False)

    def _theme_changed(self, theme: str) -> None:
        self._remember(theme=theme)

    @work(thread=True, group="prefs", exit_on_error=False, description="save preferences")
    def _remember(self, **values: object) -> None:
        self.core_services.store.set_preferences(**values)

    @work(thread=True, group="providers", exclusive=True, exit_on_error=False, description="check providers")
    def _check_usable(self) -> None:
        """No key anywhere: a machine with Ollama starts on a local model; one without opens the keys screen."""
        services = self.core_services
        statuses = services.provider_statuses()
        if any(s.key_source not in ("none", "not needed") for s in statuses):
            return
        models = services.catalog.discover_ollama(timeout=1.0)
        if not models:
            self.call_from_thread(self.action_keys, True)
            return
        model = self.model
        chosen = self._start_model is not None or (self.session or {}).get("model") is not None
        if model is not None and not chosen and not services.key_configured(model.provider):
            self.call_from_thread(self._use_local_model, f"ollama:{models[0].name}", model)

    def _use_local_model(self, model_id: str, instead_of: ModelInfo) -> None:
        if self.model is not instead_of:  # the user chose a model meanwhile
            return
        if self.set_model(model_id):
            self._notice(f"no API key is set, so this chat uses the local model {self.active_model.id} found in Ollama; "
                         "Ctrl+O chooses another, Ctrl+K sets keys")

    # -- title, footer, inspector -------------------------------------------------------------------
    def _update_title(self) -> None:
        from ..formatting import one_line  # titles and ids are user/model text: one line, controls visible

        title = one_line((self.session or {}).get("title") or "New chat")
        model = one_line(self.model.id) if self.model else "loading…"
        no_key = bool(self.model) and not self.core_services.key_configured(self.active_model.provider)
        self.w(Static, "#title-bar").update(title_bar_text(title, model, no_key, self.size.width - 2))

    def _refresh_footer(self) -> None:
        last = next((m for m in reversed(self.history) if m.get("role") == "assistant"), None)
        self.w(CostFooter).show(last, self.session_usage, self.today)

    def _history_for_request(self) -> list[dict]:
        if self.current_reply is not None:  # the reply being streamed is not part of the next request yet
            return [m for m in self.history if m.get("status") != "streaming"]
        return self.history

    def refresh_inspector(self, draft: str | None = None) -> None:
        if not self.measured or self.model is None:
            return
        if draft is None:
            draft = self.w(PromptInput).expanded_text()
        if len(draft) > BIG_DRAFT:
            self._inspect_in_worker(draft)
            return
        self._show_inspection(self._inspect(draft))

    def _inspect(self, draft: str) -> Inspection:
        return self.core_services.inspect(
            self.session, self._history_for_request(), self.active_model, draft, self.inspector
        )

    @work(thread=True, group="inspect", exclusive=True, exit_on_error=False, description="measure draft")
    def _inspect_in_worker(self, draft: str) -> None:
        inspection = self._inspect(draft)
        self.call_from_thread(self._show_inspection, inspection)

    def _show_inspection(self, inspection: Inspection) -> None:
        self.last_inspection = inspection
        self.w(InspectorSidebar).show(inspection, (self.session or {}).get("attachments"))

    @on(PromptInput.Changed)
    def _draft_changed(self, event: PromptInput.Changed) -> None:
        self._last_input_at = time.monotonic()
        if isinstance(event.text_area, PromptInput):  # the app's only text area
            self.refresh_inspector(event.text_area.expanded_text())

    def on_resize(self, event) -> None:
        if not self.main_screen.is_mounted:
            return
        if event.size.width < NARROW:  # the conversation needs the room, whatever was chosen (Ctrl+B still opens it)
            self.w(InspectorSidebar).display = False
        elif self._inspector_forced is None:
            self.w(InspectorSidebar).display = event.size.width >= WIDE_ENOUGH
        else:
            self.w(InspectorSidebar).display = self._inspector_forced
        self._update_title()

    # -- sending ------------------------------------------------------------------------------------
    @on(PromptInput.Submitted)
    def _submitted(self, event: PromptInput.Submitted) -> None:
        text = event.text
        if text.startswith("/") and not text.startswith("//"):
            event.prompt.remember()
            event.prompt.clear_draft()
            self.run_slash_command(text.strip())
            return
        if text.startswith("//"):
            text = text[1:]
        self.send(text)

    def send(self, text: str, *, retry: bool = False) -> None:
        """Send ``text`` as a new turn: the prompt's draft, or with ``retry`` a failed message again (the draft
        being typed is left alone)."""
        if not self.ready:
            self.notify("still opening the session…", severity="warning")
            return
        if self.reply_worker is not None and self.reply_worker.is_running:
            self.notify("a reply is still streaming: wait, or press Esc to cancel it", severity="warning")
            return
        if not retry and self._too_big_to_send(text):
            return
        if retry:
            self._sent_draft = None  # nothing to give back if it is refused: the message is still shown
        else:
            prompt = self.w(PromptInput)
            prompt.remember()
            self._sent_draft = (prompt.text, dict(prompt.pastes))
            prompt.clear_draft()
        self.reply_worker = self._stream_reply(text, self.active_model.id)

    def _too_big_to_send(self, text: str) -> bool:
        """Warn once before sending a request that cannot fit the model's window even with all history left
        out (the provider would reject it, or bill for a truncated prompt); Enter again sends it anyway."""
        inspection = self.last_inspection
        if inspection is None or (inspection.used_fraction or 0) <= 1 or self._oversize_confirmed == text:
            return False
        self._oversize_confirmed = text
        self._notice(
            f"this request is {inspection.used_fraction:.0%} of {self.active_model.id}'s window and cannot fit: "
            "shorten it or switch to a model with a larger window (Ctrl+O); press Enter again to send it anyway",
            "warning",
        )
        return True

    def action_retry(self) -> None:
        """Send the newest message again, as a new turn, if its reply failed before any text; the failed turn
        stays stored and shown, but is left out of requests (see context.sendable_history)."""
        from ..context import failed_before_text

        if not self.ready:
            return
        history = self.history
        if len(history) >= 2 and failed_before_text(history[-1]) and history[-2].get("role") == "user":
            self.send(history[-2].get("content") or "", retry=True)
        else:
            self._notice("nothing to retry: the last message did not fail")

    @work(group="chat", exclusive=False, exit_on_error=False, description="stream reply")
    async def _stream_reply(self, text: str, model_id: str) -> None:
        from ..providers.events import ReasoningDelta, RefusalDelta, Retrying, TextDelta, ToolCallRequest
        from ..services.chat import BusyError, ReplyFinished, ReplyStarted
        from ..services.core import NotFoundError

        conversation = self.w(ConversationView)
        chat = self.chat_service
        block: ReplyBlock | None = None
        gc_policy.streaming_started()
        try:
            async for event in chat.send(
                text, session_id=(self.session or {}).get("id"), model_id=model_id, inspector=self.inspector
            ):
                if isinstance(event, ReplyStarted):
                    self.session = event.session
                    self.history.extend([event.user_message, event.reply])
                    block = ReplyBlock(event.reply, streaming=True)
                    self.current_reply = block
                    conversation.add(UserBlock(event.user_message), block)
                    self._update_title()
                    self.refresh_inspector()
                elif block is None:  # ChatService.send yields ReplyStarted before any other event
                    raise RuntimeError(f"{type(event).__name__} arrived before ReplyStarted")
                elif isinstance(event, TextDelta):
                    block.append(event.text)
                elif isinstance(event, ReasoningDelta):
                    block.append_reasoning(event.text)
                elif isinstance(event, RefusalDelta):  # a refusal is the reply's text (marked when it ends)
                    block.append(event.text)
                elif isinstance(event, Retrying):
                    block.note(event.message)
                elif isinstance(event, ToolCallRequest):  # listed in the reply when it ends; nothing is run
                    block.note(f"⚙ the model asks to call {event.name} (tools are not enabled in this app)")
                elif isinstance(event, ReplyFinished):
                    self._reply_done(block, event.reply)
        except (ConfigError, NotFoundError, BusyError) as exc:
            # nothing was sent or stored: give the draft back
            self._restore_draft(text)
            self._notice(str(exc), "error")
        except asyncio.CancelledError:
            if block is not None and self.session:
                final = await chat.cancelled_reply(self.session["id"])
                if final is not None:
                    self._reply_done(block, final)
            raise
        except Exception as exc:  # e.g. the session was deleted from another terminal mid-reply
            if block is not None and block.streaming:
                block.finish({**block.message, "content": block.text, "reasoning": block.reasoning or None,
                              "status": "error", "error": f"the reply could not be saved: {exc}"})
            raise
        finally:
            self.current_reply = None
            gc_policy.streaming_finished()
            self.set_timer(IDLE_GC_DELAY, self._collect_when_idle)

    def _reply_done(self, block: ReplyBlock, reply: dict) -> None:
        block.finish(reply)
        for i in range(len(self.history) - 1, -1, -1):
            if self.history[i].get("id") == reply.get("id"):
                self.history[i] = reply
                break
        self.current_reply = None
        self._refresh_footer()
        self.refresh_inspector()
        self._refresh_usage()

    def _collect_when_idle(self, full: bool = False) -> None:
        """Garbage-collect once nobody is typing: a full collection is a ~0.1-0.3 s pause."""
        if time.monotonic() - self._last_input_at < IDLE_GC_DELAY:
            self.set_timer(IDLE_GC_DELAY, lambda: self._collect_when_idle(full))
            return
        gc_policy.collect(full=full)

    def _restore_draft(self, text: str) -> None:
        if self._sent_draft is None:  # a retry: the message is still in the conversation, the draft untouched
            return
        prompt = self.w(PromptInput)
        if not prompt.text:
            prompt.set_draft(*self._sent_draft)

    @work(thread=True, group="usage", exclusive=True, exit_on_error=False, description="refresh usage")
    def _refresh_usage(self) -> None:
        store = self.core_services.store
        session_id = self.session["id"] if self.session else None
        session_usage = store.usage(session_id) if session_id else None
        today = store.usage(day=time.strftime("%Y-%m-%d"))
        self.post_message(UsageRefreshed(session_id, session_usage, today))

    def on_usage_refreshed(self, message: UsageRefreshed) -> None:
        self.today = message.today
        if message.session_id == (self.session or {}).get("id"):
            self.session_usage = message.session_usage
        self._refresh_footer()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """One place where an unexpected worker failure becomes a message instead of a crash."""
        if event.worker.group == "chat":  # Esc (cancel) is offered in the footer only while a reply streams
            self.refresh_bindings()
        if event.state == WorkerState.ERROR:
            error = event.worker.error
            self._notice(f"{event.worker.description or 'background task'} failed: {type(error).__name__}: "
                         f"{str(error).splitlines()[0] if str(error) else ''}", "error")
            if event.worker.group == "chat" and self.current_reply is not None:
                self.current_reply = None

    def _notice(self, text: str, kind: str = "info") -> None:
        self.w(ConversationView).add(NoticeBlock(text, kind))

    # -- actions ------------------------------------------------------------------------------------
    def action_cancel(self) -> None:
        if self.reply_worker is not None and self.reply_worker.is_running:
            self.reply_worker.cancel()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "toggle_thinking":  # hidden from the footer (and inert) until a reply has thinking
            return self._thinking_target() is not None
        if action == "cancel":
            return self.streaming
        return super().check_action(action, parameters)

    @property
    def streaming(self) -> bool:
        return self.reply_worker is not None and self.reply_worker.is_running

    def action_page_conversation(self, direction: int) -> None:
        """PageUp / PageDown from the prompt scroll the conversation (the prompt keeps focus)."""
        conversation = self.w(ConversationView)
        if direction < 0:
            conversation.scroll_page_up()
        else:
            conversation.scroll_page_down()

    def action_focus_prompt(self) -> None:
        if isinstance(self.screen, ChatScreen):
            self.w(PromptInput).focus()

    def help_text(self) -> str:
        """/help from the binding registry: the keys as bound now (config.toml remaps included)."""
        keys: dict[str, list[str]] = {}
        for binding in self.BINDINGS:
            if isinstance(binding, Binding) and binding.id:
                keys.setdefault(binding.id, []).append(binding.key)
        if self.services is not None:
            for binding_id, remapped in self.core_services.settings.keymap().items():
                keys[binding_id] = remapped.split(",")
        shown = [
            f"{' / '.join(key_label(k) for k in keys[binding_id])} {what}"
            for binding_id, what in BINDING_HELP.items() if binding_id in keys
        ]
        return "Keys: " + " · ".join(shown) + "\n" + HELP_FIXED.format(ids=", ".join(BINDING_HELP))

    def _thinking_target(self) -> ThinkingBlock | None:
        """The focused Thinking block, else the newest shown one."""
        if not getattr(self, "main_screen", None) or not self.main_screen.is_mounted:
            return None
        focused = self.main_screen.focused
        if isinstance(focused, ThinkingBlock):
            return focused
        for child in reversed(self.w(ConversationView).children):
            if isinstance(child, ReplyBlock) and child.thinking is not None and child.thinking.display:
                return child.thinking
        return None

    def action_toggle_thinking(self) -> None:
        thinking = self._thinking_target()
        if thinking is None:
            return
        thinking.toggle()

    def action_toggle_inspector(self) -> None:
        sidebar = self.w(InspectorSidebar)
        sidebar.display = not sidebar.display
        self._inspector_forced = sidebar.display
        if self.ready:
            self._remember(inspector=sidebar.display)

    def action_new_session(self) -> None:
        if self.reply_worker is not None and not self.reply_worker.is_finished:
            self.notify("a reply is still streaming: wait, or press Esc to cancel it", severity="warning")
            return
        if getattr(self, "_pending_open", None) is not None:  # a session still loading is not shown after all
            self._pending_open: int | None = None
            self.ready = True
        self.session, self.history = None, []
        self.session_usage = None
        self.w(ConversationView).clear()
        self._update_title()
        self._refresh_footer()
        self.refresh_inspector()

    def action_switch_model(self) -> None:
        if not self.ready:
            return
        from .screens.model_switcher import ModelSwitcherScreen

        draft = self.w(PromptInput).expanded_text()
        choices = self.core_services.model_choices()
        estimate = self._estimator(draft)
        self.push_screen(
            ModelSwitcherScreen(choices, estimate, self.model.id if self.model else None), self._model_chosen
        )

    def _estimator(self, draft: str):
        """Cost of the next request and window share for any model, from cached per-encoding counts."""
        from ..tokens import encoding_for, is_exact

        services, session, history = self.core_services, self.session, self._history_for_request()
        inspector = self.context_inspector
        system = services.session_system_prompt(session)
        cache: dict[str, Inspection] = {}

        def estimate(choice):
            info = choice.info
            enc = encoding_for(info.provider, info.name)
            key = f"{enc}:{info.context_window}"
            insp = cache.get(key)
            if insp is None:
                insp = inspector.inspect(
                    model_id=info.id, encoding=enc, exact=is_exact(info.provider, info.name),
                    context_window=info.context_window, price=None, system_prompt=system,
                    attachments=(session or {}).get("attachments") or [], history=history, draft=draft,
                )
                cache[key] = insp
            cost = insp.total.tokens * choice.price.input_per_mtok / 1e6 if choice.price else None
            return cost, insp.used_fraction, insp.excluded_messages

        return estimate

    def _model_chosen(self, model_id: str | None) -> None:
        if model_id:
            self.set_model(model_id)

    def set_model(self, model_id: str) -> bool:
        try:
            info = self.core_services.resolve_model(model_id)
        except ConfigError as exc:
            self._notice(str(exc), "error")
            return False
        self.model = info
        self._update_title()
        self.refresh_inspector()
        streaming = self.reply_worker is not None and self.reply_worker.is_running
        note = " (applies to the next request)" if streaming else ""
        self.notify(f"model: {info.id}{note}", markup=False)  # an id is text, never markup
        self._remember(model=info.id)  # the next new chat starts with it
        if self.session:
            self._save_session(self.session["id"], model=info.id)
        return True

    @work(thread=True, group="session-save", exit_on_error=False, description="save session")
    def _save_session(self, session_id: str, **fields) -> None:
        updated = self.core_services.store.update_session(session_id, **fields)
        self.call_from_thread(self._session_saved, updated)

    def _session_saved(self, session: dict) -> None:
        if self.session and session.get("id") == self.session.get("id"):
            self.session = session
            self._update_title()
            self.refresh_inspector()

    def action_sessions(self) -> None:
        if not self.ready:
            return
        from .screens.sessions import SessionsScreen

        self.push_screen(
            SessionsScreen(
                self.core_services, (self.session or {}).get("id"), is_streaming=self.chat_service.is_streaming
            ),
            self._session_action,
        )

    def _session_action(self, action) -> None:
        if action is None:
            return
        if self.session and self.session["id"] in action.deleted_ids:
            self.action_new_session()  # the open session was deleted: never keep showing (or sending to) it
            if action.kind != "open":
                return
        if action.kind == "new":
            self.action_new_session()
        elif action.kind == "open" and action.session_id:
            self.open_session(action.session_id)

    def open_session(self, session_id: str) -> None:
        """Load a session in a worker, then show it: the app's session, model and history change together with
        the view, in one step (``_session_opened``). Until then ``ready`` is False, so nothing can be sent to
        the session still on screen, nor to the one not shown yet; a failed open changes nothing."""
        if self.reply_worker is not None and not self.reply_worker.is_finished:  # streaming, or about to
            self.notify("a reply is still streaming: wait, or press Esc to cancel it", severity="warning")
            return
        token = self._open_token = getattr(self, "_open_token", 0) + 1
        self._pending_open = token
        self.ready = False  # send() answers "still opening the session…"
        self._load_session(session_id, token)

    @work(thread=True, group="load-session", exclusive=True, exit_on_error=False, description="open session")
    def _load_session(self, session_id: str, token: int) -> None:
        services = self.core_services
        try:
            session = services.session(session_id)
            messages = services.messages(session["id"])
            model, model_error = None, None
            if session.get("model"):
                try:
                    model = services.resolve_model(session["model"])
                except ConfigError as exc:
                    model_error = str(exc)
            usage = services.store.usage(session["id"])
        except Exception as exc:  # not found (deleted elsewhere), storage errors: nothing changes
            self.call_from_thread(self._session_opened, token, None, str(exc) or type(exc).__name__)
            return
        self.call_from_thread(self._session_opened, token, (session, messages, model, usage), model_error)

    def _session_opened(self, token: int, opened: tuple | None, error: str | None = None) -> None:
        """The loaded session replaces the shown one, or (``opened`` None) the open failed: a one-line notice."""
        if token != getattr(self, "_pending_open", None):
            return  # superseded by a newer open or a new chat
        self._pending_open = None
        self.ready = True
        if opened is None:
            first_line = (error or "").splitlines()[0] if error else "unknown error"
            self.notify(f"could not open the session: {first_line}", severity="error", markup=False)
            return
        session, messages, model, usage = opened
        model = model or self.model  # the session's model is unknown here: the shown model stays
        try:
            self.w(ConversationView).show_messages(messages)  # builds the page first: on failure, unchanged
        except Exception as exc:
            self.notify(f"could not open the session: {type(exc).__name__}: {exc}".splitlines()[0],
                        severity="error", markup=False)
            return
        self.session, self.history, self.model, self.session_usage = session, messages, model, usage
        self.set_timer(IDLE_GC_DELAY, lambda: self._collect_when_idle(full=True))  # the old session's widgets
        self._update_title()
        self._refresh_footer()
        self._refresh_usage()  # today too: read at start-up, it lacks what other terminals spent since
        self.refresh_inspector()
        if error and self.model is not None:
            self.notify(f"this session's model is not available ({error.splitlines()[0]}): using "
                        f"{self.model.id}", severity="warning", markup=False)

    def action_keys(self, first_run: bool = False) -> None:
        from .screens.first_run import KeysScreen

        if self.services is None:  # Ctrl+K during the first moments, before the startup worker has run
            self.notify("still opening the session…", severity="warning")
            return

        def done(_result) -> None:
            self._refresh_keys()

        self.push_screen(KeysScreen(self.services, first_run=first_run), done)

    @work(thread=True, group="keys", exclusive=True, exit_on_error=False, description="check keys")
    def _refresh_keys(self) -> None:
        services = self.core_services
        services.forget_keys()
        for provider in services.settings.providers:
            services.key_for(provider)
        self.call_from_thread(self._update_title)

    def action_copy_reply(self) -> None:
        last = next((m for m in reversed(self.history) if m.get("role") == "assistant" and m.get("content")), None)
        if last is None:
            self.notify("no reply to copy yet", severity="warning")
            return
        # what the screen shows: a raw ESC [ 2 0 1 ~ in a copied reply would end a shell's bracketed paste early
        self.copy_to_clipboard(for_terminal(last["content"]))
        self.notify(f"copied the last reply ({len(last['content'])} characters)", markup=False)

    def action_copy_code(self) -> None:
        for msg in reversed(self.history):
            if msg.get("role") == "assistant":
                blocks = code_blocks(msg.get("content", ""))
                if blocks:
                    self.copy_to_clipboard(for_terminal(blocks[-1]))
                    self.notify(f"copied a code block ({blocks[-1].count(chr(10))} lines)", markup=False)
                    return
        self.notify("no code block in the replies yet", severity="warning")

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Switch model", "Choose the model for the next request", self.action_switch_model)
        yield SystemCommand("Toggle context inspector", "Show or hide the sidebar", self.action_toggle_inspector)
        yield SystemCommand("Sessions", "Switch, rename, delete or search sessions", self.action_sessions)
        yield SystemCommand("New session", "Start an empty conversation", self.action_new_session)
        yield SystemCommand("Cancel reply", "Stop the streaming reply (partial kept)", self.action_cancel)
        yield SystemCommand("Copy last reply", "Copy the last reply to the clipboard", self.action_copy_reply)
        yield SystemCommand("Copy last code block", "Copy the last code block of the replies", self.action_copy_code)
        yield SystemCommand("Show/hide thinking", "The model's reasoning in the newest reply that has some",
                            self.action_toggle_thinking)
        yield SystemCommand("API keys", "Provider keys and local models", self.action_keys)
        yield SystemCommand("Export session", "Write the session as Markdown", lambda: self.run_slash_command("/export"))
        yield SystemCommand("Help", "Keys and slash commands", lambda: self.run_slash_command("/help"))

    # -- slash commands -----------------------------------------------------------------------------
    def run_slash_command(self, line: str) -> None:
        name, _, arg = line.partition(" ")
        arg = arg.strip()
        if name == "/help":
            self._notice(self.help_text())
        elif name == "/model":
            if arg:
                self.set_model(arg)
            else:
                self.action_switch_model()
        elif name == "/new":
            self.action_new_session()
        elif name == "/system":
            self._session_edit("system", arg)
        elif name == "/attach":
            if not arg:
                self._notice("usage: /attach PATH (a text file pinned into the context)", "error")
            else:
                self._session_edit("attach", arg)
        elif name == "/detach":
            self._session_edit("detach", arg)
        elif name == "/rename":
            if not arg:
                self._notice("usage: /rename TITLE", "error")
            else:
                self._session_edit("rename", arg)
        elif name == "/retry":
            self.action_retry()
        elif name == "/export":
            if not self.session:
                self._notice("nothing to export yet: send a message first", "error")
            else:
                self._export(self.session["id"], arg)
        else:
            self._notice(f"unknown command {name}; /help lists them", "error")

    @work(thread=True, group="session-edit", exit_on_error=False, description="edit session")
    def _session_edit(self, what: str, arg: str) -> None:
        services = self.core_services
        store = services.store
        session = self.session
        if session is None:
            model_id = self.model.id if self.model else None
            title = "New chat" if what != "rename" else arg
            session = store.create_session(title=title, model=model_id)
        if what == "system":
            if not arg:
                current = services.session_system_prompt(session)
                self.call_from_thread(self._notice, f"system prompt: {current or '(none)'}")
                return
            session = store.update_session(session["id"], system_prompt=arg)
            message = f"system prompt set for this session ({len(arg)} characters)"
        elif what == "rename":
            session = store.update_session(session["id"], title=arg)
            message = f"renamed to {arg!r}"
        elif what == "attach":
            from ..services.attachments import AttachmentError, read_attachment

            try:
                attachment = read_attachment(arg)  # regular files only, bounded in size and time
            except AttachmentError as exc:
                self.call_from_thread(self._notice, str(exc), "error")
                return
            attachments = [a for a in session.get("attachments") or [] if a.get("path") != attachment["path"]]
            attachments.append(attachment)
            session = store.update_session(session["id"], attachments=attachments)
            message = f"attached {attachment['name']} ({attachment['bytes']} bytes): it is sent with every request"
        else:  # detach
            attachments = session.get("attachments") or []
            keep = [a for a in attachments if arg and a.get("name") != arg and a.get("path") != arg]
            session = store.update_session(session["id"], attachments=keep)
            message = f"detached {len(attachments) - len(keep)} attachment(s)"
        self.call_from_thread(self._session_edited, session, message)

    def _session_edited(self, session: dict, message: str) -> None:
        if self.session is not None and self.session.get("id") != session.get("id"):
            self._notice(f"{message} (in session {session.get('id')}, no longer open)")  # another was opened since
            return
        self.session = session
        self._update_title()
        self.refresh_inspector()
        self._notice(message)

    @work(thread=True, group="export", exit_on_error=False, description="export session")
    def _export(self, session_id: str, arg: str, replace: bool = False) -> None:
        from ..services.export import to_markdown
        from ..services.export_file import ExportError, ExportExists, write_export

        services = self.core_services
        session = services.session(session_id)
        path = Path(arg).expanduser() if arg else Path.cwd() / default_export_name(session)
        try:
            write_export(path, to_markdown(session, services.messages(session["id"])), replace=replace)
        except ExportExists:
            self.call_from_thread(self._confirm_replace_export, session_id, path)
            return
        except ExportError as exc:
            self.call_from_thread(self._notice, str(exc), "error")
            return
        self.call_from_thread(self._notice, f"exported to {path}")

    def _confirm_replace_export(self, session_id: str, path: Path) -> None:
        from .screens.sessions import ConfirmScreen

        def answered(yes: bool | None) -> None:
            if yes:
                self._export(session_id, str(path), replace=True)
            else:
                self._notice(f"not exported: {path} was left as it was")

        self.push_screen(ConfirmScreen(f"{path} already exists. Replace it with this export? (y / n)"), answered)


def _warm_markdown() -> None:
    """Import rich.markdown and a code lexer in a worker thread so the first render on the loop is cheap."""
    from rich.console import Console

    from .widgets.markdown_view import markdown

    console = Console(width=80, file=open(os.devnull, "w"))  # noqa: SIM115 - closed below
    try:
        console.print(markdown("# warm\n\n- a\n\n```python\nx = 1\n```\n\n| a |\n|---|\n| 1 |"))
    finally:
        console.file.close()


def default_export_name(session: dict) -> str:
    slug = "".join(ch if ch.isalnum() else "-" for ch in (session.get("title") or "session").lower()).strip("-")
    return f"{slug[:40] or 'session'}-{session['id']}.md"


def _set_up(value: _T | None, what: str) -> _T:
    if value is None:
        raise RuntimeError(f"{what} used before the app finished starting up")
    return value


_KEY_NAMES = {"escape": "Esc", "pageup": "PgUp", "pagedown": "PgDn", "delete": "Del", "backspace": "Backspace"}


def key_label(key: str) -> str:
    """A Textual key name as people write it: ``ctrl+shift+up`` -> ``Ctrl+Shift+Up``, ``escape`` -> ``Esc``."""
    return "+".join(_KEY_NAMES.get(part, part.capitalize()) for part in key.strip().split("+"))


BRAND, SEPARATOR, NO_KEY = "agentspace-tui", "  │  ", "  (no key: Ctrl+K)"


def title_bar_text(title: str, model: str, no_key: bool, width: int) -> Text:
    """The title bar within ``width`` cells: the app's name goes first, then the session title shrinks, and the
    model id (what the next message goes to) is the last thing dropped."""
    right = model + (NO_KEY if no_key else "")
    room = width - len(right)
    text = Text()
    if room >= len(BRAND) + 2 * len(SEPARATOR) + 12:
        text.append(BRAND, style="bold")
        text.append(SEPARATOR, style="dim")
        room -= len(BRAND) + len(SEPARATOR)
    if room >= len(SEPARATOR) + 4:
        shown = room - len(SEPARATOR)
        text.append(title if len(title) <= shown else title[: shown - 1] + "…")
        text.append(SEPARATOR, style="dim")
    elif no_key and width < len(right):  # not even the whole right side fits: keep the model, shorten the note
        right, no_key = model, False
    text.append(right if len(right) <= width else right[: max(1, width - 1)] + "…", style="bold")
    if no_key:  # still there: the whole right side fits
        text.stylize("bold red", len(text) - len(NO_KEY), len(text))
    return text


def _remembered_model(services: Services, prefs: dict) -> str | None:
    """The model last chosen in the app, if it still resolves (a provider may have gone from config.toml)."""
    model_id = prefs.get("model")
    if not isinstance(model_id, str):
        return None
    try:
        return services.resolve_model(model_id).id
    except ConfigError:
        return None


def _fallback_model(services: Services) -> ModelInfo:
    from ..config.settings import DEFAULT_MODEL

    try:
        return services.resolve_model(services.settings.default_model)
    except ConfigError:
        return services.resolve_model(DEFAULT_MODEL)
