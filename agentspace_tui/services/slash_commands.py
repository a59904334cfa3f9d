"""Slash commands typed in the prompt (``/model``, ``/attach``, ...): each a one-line outcome for the UI, and what
the UI should do next, if anything. Blocking: the app runs them in a worker thread."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from ..config.settings import ConfigError
from .params import ParamError

if TYPE_CHECKING:
    from .chat_session import ChatSession

NoticeKind = Literal["info", "warning", "error"]
# what a slash command asks of the UI, beyond a notice
UiRequest = Literal[
    "help", "switch_model", "model_changed", "new_session", "retry", "regenerate", "params", "confirm_export",
    "compare", "tools",
]


@dataclass(frozen=True)
class Outcome:
    """The result of a slash command: a one-line notice, and what the UI should do next, if anything."""

    text: str = ""
    kind: NoticeKind = "info"
    ui: UiRequest | None = None
    arg: str = ""


COMMANDS = {
    "/help": "keys and commands",
    "/model": "[ID] switch model (no ID: the switcher)",
    "/new": "start a new chat",
    "/system": "[TEXT] show or set the system prompt",
    "/attach": "PATH pin a text file into the context",
    "/detach": "[NAME] remove attachments",
    "/set": "temperature|top-p|max-tokens VALUE (no argument: the parameters screen)",
    "/rename": "TITLE rename the chat",
    "/retry": "send a failed message again",
    "/regenerate": "answer the last message again (the earlier reply stays as an alternative)",
    "/export": "[PATH] write the chat as Markdown",
    "/tools": "[on|off NAME] the MCP tools of this chat (no argument: the tools screen)",
    "/compare": "MODEL send the next prompt to the current model and MODEL side by side (off: cancel)",
}


def execute(chat: ChatSession, line: str) -> Outcome:
    """Run a slash command; errors become an error Outcome (one line), never an exception."""
    from .attachments import AttachmentError
    from .export_file import ExportError, ExportExists

    name, _, arg = line.strip().partition(" ")
    arg = arg.strip()
    try:
        return _execute(chat, name, arg)
    except ExportExists as exc:
        return Outcome(ui="confirm_export", arg=str(exc.path))
    except (ConfigError, ParamError, AttachmentError, ExportError) as exc:
        return Outcome(str(exc).splitlines()[0] if str(exc) else type(exc).__name__, "error")

def _execute(chat: ChatSession, name: str, arg: str) -> Outcome:
    if name == "/help":
        return Outcome(ui="help")
    if name == "/model":
        if not arg:
            return Outcome(ui="switch_model")
        return Outcome(ui="model_changed", arg=chat.set_model(arg).id)
    if name == "/new":
        return Outcome(ui="new_session")
    if name in ("/retry", "/regenerate"):
        return Outcome(ui="retry" if name == "/retry" else "regenerate")
    if name == "/system":
        return Outcome(chat.set_system(arg)) if arg else Outcome(f"system prompt: {chat.system_prompt or '(none)'}")
    if name == "/attach":
        return Outcome(chat.attach(arg)) if arg else Outcome("usage: /attach PATH (a text file pinned into the context)", "error")
    if name == "/detach":
        return Outcome(chat.detach(arg))
    if name == "/rename":
        return Outcome(chat.rename(arg)) if arg else Outcome("usage: /rename TITLE", "error")
    if name == "/set":
        if not arg:
            return Outcome(ui="params")
        return Outcome(chat.set_param(arg))
    if name == "/export":
        return Outcome(f"exported to {chat.export(arg)}")
    if name == "/compare":  # the model is checked (known, with a key) before the prompt is typed
        from .compare import check_other_model

        return Outcome(ui="compare", arg="" if arg in ("", "off") else check_other_model(chat.chat, arg).id)
    if name == "/tools":
        return _tools(chat, arg)
    return Outcome(f"unknown command {name}; /help lists them", "error")


def _tools(chat: ChatSession, arg: str) -> Outcome:
    from .session_tools import NO_SERVERS, USAGE, set_on

    verb, _, target = arg.partition(" ")
    if not chat.services.tools.configured:
        return Outcome(NO_SERVERS, "warning")
    if not arg:
        return Outcome(ui="tools")
    if verb not in ("on", "off") or not target.strip():
        return Outcome(USAGE, "error")
    return Outcome(set_on(chat, target.strip(), verb == "on"))
