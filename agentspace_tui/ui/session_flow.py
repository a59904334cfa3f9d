"""Which conversation is open and how it is set up: new, open (atomic), sessions screen, model switcher,
parameters, and slash commands (run by ChatSession in a worker; the UI applies the outcome)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from textual import work

from .app_base import AppBase
from .messages import ConversationChanged, SessionOpened

if TYPE_CHECKING:
    from ..services.api import Inspection, ModelInfo
    from ..services.chat_session import ChatSession, Outcome
    from ..services.core import ModelChoice
    from ..services.params import ModelParams
    from .screens.sessions import SessionAction

IDLE_GC_DELAY = 1.5


class SessionFlow(AppBase):
    def __init__(self) -> None:
        super().__init__()
        self._open_token = 0
        self._pending_open: int | None = None  # the open in flight; a newer one or a new chat supersedes it

    # -- new and open ----------------------------------------------------------------------------------------
    def action_new_session(self) -> None:
        from ..services.chat_session import ChatSession

        if self.refuse_while_streaming() or self.conversation is None:
            return
        if self._pending_open is not None:  # a session still loading is not shown after all
            self._pending_open = None
            self.ready = True
        old = self.conversation
        self.conversation = ChatSession(old.services, old.model, chat=old.chat, inspector=old.inspector)
        self.session_usage = None
        self.show_conversation()

    def action_sessions(self) -> None:
        if not self.ready:
            return
        from .screens.sessions import SessionsScreen

        conversation = self.chat_session
        self.push_screen(
            SessionsScreen(self.core_services, conversation.session_id, is_streaming=conversation.chat.is_streaming),
            self._session_action,
        )

    def _session_action(self, action: SessionAction | None) -> None:
        if action is None:
            return
        shown = self.conversation.session_id if self.conversation else None
        if shown and shown in action.deleted_ids:
            self.action_new_session()  # the open session was deleted: never keep showing (or sending to) it
            if action.kind != "open":
                return
        if action.kind == "new":
            self.action_new_session()
        elif action.kind == "open" and action.session_id:
            self.open_session(action.session_id)

    def open_session(self, session_id: str) -> None:
        """Load a session in a worker, then show it: the conversation (session, branch, model) and the view
        change together, in one step (``on_session_opened``). Until then ``ready`` is False, so nothing can be
        sent to the session still on screen, nor to the one not shown yet; a failed open changes nothing."""
        if self.refuse_while_streaming():
            return
        self._open_token += 1
        self._pending_open = self._open_token
        self.ready = False  # send() answers "still opening the session…"
        self._load_session(session_id, self._open_token)

    @work(thread=True, group="load-session", exclusive=True, exit_on_error=False, description="open session")
    def _load_session(self, session_id: str, token: int) -> None:
        from ..services.chat_session import ChatSession

        current = self.chat_session
        try:
            opened, model_error = ChatSession.open(
                self.core_services, session_id, chat=current.chat, inspector=current.inspector,
                fallback_model=current.model,
            )
        except Exception as exc:  # not found (deleted elsewhere), storage errors: nothing changes
            self.post_message(SessionOpened(token, None, str(exc) or type(exc).__name__))
            return
        self.post_message(SessionOpened(token, opened, model_error=model_error))

    def on_session_opened(self, message: SessionOpened) -> None:
        """The loaded session replaces the shown one, or (``conversation`` None) the open failed: one line."""
        if message.token != self._pending_open:
            return  # superseded by a newer open or a new chat
        self._pending_open = None
        self.ready = True
        opened = message.conversation
        if opened is None:
            first_line = (message.error or "").splitlines()[0] if message.error else "unknown error"
            self.notify(f"could not open the session: {first_line}", severity="error", markup=False)
            return
        try:  # builds the page first: on failure, the shown conversation is unchanged
            self.main_screen.conversation.show_messages(opened.path, opened.alternatives())
        except Exception as exc:
            self.notify(f"could not open the session: {type(exc).__name__}: {exc}".splitlines()[0],
                        severity="error", markup=False)
            return
        self.conversation, self.session_usage = opened, None
        self.set_timer(IDLE_GC_DELAY, lambda: self._collect_when_idle(full=True))  # the old session's widgets
        self.refresh_all()
        self.refresh_usage()  # today too: read at start-up, it lacks what other terminals spent since
        if message.model_error:
            self.notify(f"this session's model is not available ({message.model_error}): using "
                        f"{opened.model.id}", severity="warning", markup=False)

    # -- model and parameters --------------------------------------------------------------------------------
    def action_switch_model(self) -> None:
        self.open_switcher(self._model_chosen)

    def open_switcher(self, chosen: Callable[[str], None], heading: str = "Model for the next request") -> None:
        if not self.ready:
            return
        from ..services.stats import latency_lookup
        from .screens.model_switcher import ModelSwitcherScreen

        conversation = self.chat_session
        estimate = self._estimator(self.main_screen.prompt.expanded_text())

        def done(model_id: str | None) -> None:
            if model_id:
                chosen(model_id)

        latency = latency_lookup(self.core_services.store)  # p50 time to first token, read in the screen's worker
        self.push_screen(ModelSwitcherScreen(
            self.core_services.model_choices(), estimate, conversation.model.id, heading, latency=latency.known,
            load_latency=latency.load,
        ), done)

    def _estimator(self, draft: str) -> Callable[[ModelChoice], tuple[float | None, float | None, int]]:
        """Cost of the next request and window share for any model, from cached per-encoding counts."""
        from ..services.api import encoding_for, is_exact

        conversation = self.chat_session
        history, system, attachments = conversation.history_for_request(), conversation.system_prompt, \
            conversation.attachments
        cache: dict[str, Inspection] = {}

        def estimate(choice: ModelChoice) -> tuple[float | None, float | None, int]:
            info = choice.info
            enc = encoding_for(info.provider, info.name)
            key = f"{enc}:{info.context_window}"
            insp = cache.get(key)
            if insp is None:
                insp = conversation.inspector.inspect(
                    model_id=info.id, encoding=enc, exact=is_exact(info.provider, info.name),
                    context_window=info.context_window, price=None, system_prompt=system,
                    attachments=attachments, history=history, draft=draft,
                )
                cache[key] = insp
            cost = insp.total.tokens * choice.price.input_per_mtok / 1e6 if choice.price else None
            return cost, insp.used_fraction, insp.excluded_messages

        return estimate

    def _model_chosen(self, model_id: str) -> None:
        self.set_model(model_id)

    def set_model(self, model_id: str) -> bool:
        """Use ``model_id`` for the next request (checked on the loop: resolving reads no files)."""
        from ..services.api import ConfigError

        conversation = self.chat_session
        try:
            info = self.core_services.resolve_model(model_id)
        except ConfigError as exc:
            self.notice(str(exc), "error")
            return False
        conversation.model = info
        self._model_changed(info)
        if conversation.session_id:
            self._run_in_worker(conversation, lambda c: _stored_model(c, info.id))
        return True

    def _model_changed(self, info: ModelInfo) -> None:
        self.update_title()
        self.refresh_inspector()
        note = " (applies to the next request)" if self.streaming else ""
        self.notify(f"model: {info.id}{note}", markup=False)  # an id is text, never markup
        self.remember(model=info.id)  # the next new chat starts with it

    def action_params(self) -> None:
        if not self.ready:
            return
        from .screens.params import ParamsScreen

        conversation = self.chat_session

        def done(params: ModelParams | None) -> None:
            if params is not None and self.conversation is conversation:
                self._run_in_worker(conversation, lambda c: _set_params(c, params))

        self.push_screen(ParamsScreen(conversation.params, conversation.model.id, conversation.model.max_output), done)

    # -- slash commands --------------------------------------------------------------------------------------
    def run_slash_command(self, line: str) -> None:
        if self.conversation is None:
            self.notify("still opening the session…", severity="warning")
            return
        self._run_in_worker(self.conversation, lambda c: c.execute(line))

    @work(thread=True, group="session-edit", exit_on_error=False, description="run command")
    def _run_in_worker(self, conversation: ChatSession, command: Callable[[ChatSession], Outcome]) -> None:
        with conversation.lock:
            outcome = command(conversation)
        self.post_message(ConversationChanged(conversation, outcome))

    def on_conversation_changed(self, message: ConversationChanged) -> None:
        outcome = message.outcome
        if message.conversation is not self.conversation:  # another session was opened meanwhile
            if outcome.text:
                self.notice(f"{outcome.text} (in session {message.conversation.session_id}, no longer open)")
            return
        if message.redraw:
            self.show_conversation()
        else:
            self.refresh_all()
        if outcome.text:
            self.notice(outcome.text, outcome.kind)
        if outcome.ui is not None:
            self._ui_request(outcome)

    def _ui_request(self, outcome: Outcome) -> None:
        if outcome.ui == "help":
            self.notice(self.help_text())
        elif outcome.ui == "switch_model":
            self.action_switch_model()
        elif outcome.ui == "model_changed":
            self._model_changed(self.chat_session.model)
        elif outcome.ui == "new_session":
            self.action_new_session()
        elif outcome.ui == "retry":
            self.action_retry()
        elif outcome.ui == "regenerate":
            self.action_regenerate()
        elif outcome.ui == "params":
            self.action_params()
        elif outcome.ui == "tools":
            self.action_tools()
        elif outcome.ui == "compare":
            from . import compare_flow

            compare_flow.arm(self, outcome.arg)  # type: ignore[arg-type]
        elif outcome.ui == "confirm_export":
            self._confirm_replace_export(Path(outcome.arg))

    def _confirm_replace_export(self, path: Path) -> None:
        from .screens.sessions import ConfirmScreen

        conversation = self.chat_session

        def answered(yes: bool | None) -> None:
            if yes:
                self._run_in_worker(conversation, lambda c: _export(c, str(path)))
            else:
                self.notice(f"not exported: {path} was left as it was")

        self.push_screen(ConfirmScreen(f"{path} already exists. Replace it with this export? (y / n)"), answered)


def _stored_model(conversation: ChatSession, model_id: str) -> Outcome:
    from ..services.chat_session import Outcome

    conversation.set_model(model_id)
    return Outcome()


def _set_params(conversation: ChatSession, params: ModelParams) -> Outcome:
    from ..services.chat_session import Outcome
    from ..services.params import ParamError

    try:
        return Outcome(conversation.set_params(params))
    except ParamError as exc:
        return Outcome(str(exc), "error")


def _export(conversation: ChatSession, path: str) -> Outcome:
    from ..services.chat_session import Outcome
    from ..services.export_file import ExportError

    try:
        return Outcome(f"exported to {conversation.export(path, replace=True)}")
    except ExportError as exc:
        return Outcome(str(exc), "error")
