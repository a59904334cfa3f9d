"""``/compare MODEL`` (and Ctrl+S in the model switcher): the next prompt goes to the current model and MODEL at
once, shown side by side (screens/compare.py); the answer kept becomes the branch the conversation continues on,
and its model the session's. One-shot: armed for the next prompt only; ``/compare off`` disarms."""

from __future__ import annotations

from typing import TYPE_CHECKING
from weakref import WeakKeyDictionary

from textual.app import App

if TYPE_CHECKING:
    from .app import AgentspaceApp

_armed: WeakKeyDictionary[App[int], str] = WeakKeyDictionary()


def armed(app: App[int]) -> str | None:
    return _armed.get(app)


def arm(app: AgentspaceApp, model_id: str) -> None:
    """Arm (``model_id``) or disarm (empty) a comparison for the next prompt, and say so in one line."""
    if not model_id:
        _armed.pop(app, None)
        app.notice("compare off: the next prompt goes to the current model only")
        return
    _armed[app] = model_id
    app.notice(f"next prompt goes to {app.chat_session.model.id} and {model_id}, side by side "
               "(/compare off to cancel)")


def start(app: AgentspaceApp, text: str) -> None:
    """Send ``text`` to both models (the comparison armed before) in the compare screen."""
    from ..services.compare import CompareService
    from .screens.compare import CompareScreen

    other = _armed.pop(app, None)
    if other is None:
        return
    conversation = app.chat_session
    service = CompareService(conversation.chat)
    screen = CompareScreen(conversation, service, text, other)

    def done(reply_id: str | None) -> None:
        if screen.error is not None:  # refused before anything was stored: the draft comes back
            app._restore_draft()
            app.notice(screen.error, "error")
            return
        _after(app, conversation, service, reply_id)

    app.push_screen(screen, done)


def _after(app: AgentspaceApp, conversation, service, reply_id: str | None) -> None:  # noqa: ANN001
    def work() -> None:
        from ..services.api import ConfigError
        from ..services.chat_session import Outcome
        from .messages import ConversationChanged

        text = ""
        with conversation.lock:
            sid = service.session_id
            try:
                if reply_id is not None and sid is not None:
                    info = service.keep(sid, reply_id)
                    conversation.model = info
                    kept = "the current model's" if reply_id == service.lanes[0].reply_id else "the other"
                    text = (f"kept {kept} answer: the conversation continues on it, with {info.id} "
                            "(the other answer stays as an alternative: [ and ] on the reply)")
                if sid is not None and conversation.session is None:  # a new chat: the compare created it
                    conversation.session = service.services.session(sid)
                conversation.reload()
            except ConfigError as exc:
                text = str(exc).splitlines()[0]
        app.post_message(ConversationChanged(conversation, Outcome(text), redraw=True))

    app.run_worker(work, thread=True, group="branch", exit_on_error=False, description="keep compared answer")
