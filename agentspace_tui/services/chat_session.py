"""The open conversation, without any UI: its session, branch, model, parameters, attachments and commands.

The app and the CLI both drive a ``ChatSession``. Its blocking methods (storage, files) are meant for a
worker thread; ``send`` is a coroutine. It holds a snapshot of the session's messages that it keeps current
with what it does itself; ``reload`` re-reads what other processes wrote.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any, Unpack

from ..catalog.models import ModelInfo
from ..config.settings import ConfigError
from ..context import ContextInspector, Inspection, failed_before_text
from ..domain import Attachment, MessageRecord, SessionRecord, SessionUpdate
from .branches import Tree
from .cache_forecast import CacheForecaster
from .chat import ChatEvent, ChatService, Fork, Placement, Regenerate, ReplyFinished, ReplyStarted
from .core import Services
from .params import PARAM_HELP, ModelParams, check_for_model, parse_set_command
from .slash_commands import COMMANDS as COMMANDS
from .slash_commands import NoticeKind as NoticeKind
from .slash_commands import Outcome as Outcome
from .slash_commands import UiRequest as UiRequest
from .tool_loop import Approve


def default_export_name(session: Mapping[str, Any]) -> str:
    slug = "".join(ch if ch.isalnum() else "-" for ch in (session.get("title") or "session").lower()).strip("-")
    return f"{slug[:40] or 'session'}-{session['id']}.md"


class ChatSession:
    def __init__(
        self,
        services: Services,
        model: ModelInfo,
        *,
        session: SessionRecord | None = None,
        messages: list[MessageRecord] | None = None,
        chat: ChatService | None = None,
        inspector: ContextInspector | None = None,
    ) -> None:
        self.services = services
        self.chat = chat or ChatService(services)
        self.inspector = inspector or ContextInspector()
        self.model = model
        self.session = session
        self._messages: list[MessageRecord] = list(messages or [])
        self._tree: Tree[MessageRecord] | None = None
        self._path: list[MessageRecord] | None = None
        self._cache = CacheForecaster()  # the prompt cache's likely part of the next request, per history
        self.streaming_reply_id: str | None = None  # the reply being streamed by this process, if any
        # the blocking edits (commands, parameters, branches) read, then write: callers in worker threads hold this
        # so two quick ones (`/set temperature`, then `/set top-p`) cannot lose each other's change
        self.lock = threading.Lock()

    # -- opening ---------------------------------------------------------------------------------------------
    @classmethod
    def open(
        cls, services: Services, session_id: str, *, chat: ChatService | None = None,
        inspector: ContextInspector | None = None, fallback_model: ModelInfo | None = None,
    ) -> tuple[ChatSession, str | None]:
        """Load a stored session (blocking). Returns it and, when its model cannot be used here, why (the
        session then uses ``fallback_model``, or the default model). Raises NotFoundError, StorageError."""
        session = services.session(session_id)
        messages = services.messages(session["id"])
        model_error = None
        try:
            model = services.resolve_model(session.get("model") or services.settings.default_model)
        except ConfigError as exc:
            model_error = str(exc).splitlines()[0]
            model = fallback_model or services.resolve_model(services.settings.default_model)
        return cls(services, model, session=session, messages=messages, chat=chat, inspector=inspector), model_error

    def reload(self) -> None:
        """Re-read the session and its messages (other processes may have written)."""
        if self.session is not None:
            self.session = self.services.session(self.session["id"])
            self._set_messages(self.services.messages(self.session["id"]))

    # -- what is shown and sent ------------------------------------------------------------------------------
    @property
    def session_id(self) -> str | None:
        return None if self.session is None else str(self.session["id"])

    @property
    def messages(self) -> list[MessageRecord]:
        """Every stored message of the session, all branches, in the order they were stored."""
        return self._messages

    @property
    def tree(self) -> Tree[MessageRecord]:
        if self._tree is None:
            self._tree = Tree.of(self._messages)
        return self._tree

    @property
    def path(self) -> list[MessageRecord]:
        """The branch the conversation is on: what is shown, and (minus hidden and failed turns) sent."""
        if self._path is None:
            self._path = [m.copy() for m in self.tree.active_path()]
        return self._path

    def alternatives(self) -> dict[str, tuple[int, int]]:
        return self.tree.alternatives(self.path)

    def history_for_request(self) -> list[MessageRecord]:
        """The branch without the reply still streaming (it is not part of the next request yet)."""
        return [m for m in self.path if m.get("id") != self.streaming_reply_id]

    def message(self, message_id: str) -> MessageRecord | None:
        found = self.tree.by_id.get(message_id)
        return found.copy() if found is not None else None

    def last_reply(self) -> MessageRecord | None:
        return next((m for m in reversed(self.path) if m.get("role") == "assistant"), None)

    @property
    def params(self) -> ModelParams:
        return ModelParams.from_stored(self.session.get("params") if self.session else None)

    @property
    def attachments(self) -> list[Attachment]:
        return list(self.session.get("attachments") or []) if self.session else []

    @property
    def system_prompt(self) -> str:
        return self.services.session_system_prompt(self.session)

    @property
    def title(self) -> str:
        return str((self.session.get("title") if self.session else None) or "New chat")

    def inspect(self, draft: str = "") -> Inspection:
        history = self.history_for_request()
        inspection = self.services.inspect(
            self.session, history, self.model, draft, self.inspector, max_output_tokens=self.params.max_tokens,
        )
        # what the provider's prompt cache likely holds of it (services/cache_forecast.py)
        inspection.cache = self._cache.forecast(self.services, self.session, self.messages, history, self.model, inspection)
        return inspection

    def _set_messages(self, messages: list[MessageRecord]) -> None:
        self._messages, self._tree, self._path = messages, None, None

    def _put(self, message: MessageRecord) -> None:
        """Add or replace one message in the snapshot."""
        messages = list(self._messages)
        for i, stored in enumerate(messages):
            if stored.get("id") == message.get("id"):
                messages[i] = message.copy()
                break
        else:
            messages.append(message.copy())
        self._set_messages(messages)

    # -- sending ---------------------------------------------------------------------------------------------
    async def send(
        self, text: str, place: Placement = None, *, model_id: str | None = None, system_prompt: str | None = None,
        params: ModelParams | None = None, approve: Approve | None = None,
    ) -> AsyncIterator[ChatEvent]:
        """Stream a turn (see ChatService.send) and keep the snapshot current: the new messages are in
        ``messages`` once ReplyStarted is yielded, the final reply once ReplyFinished is, and after a cancel
        the saved partial reply is there before CancelledError reaches the caller. ``system_prompt`` is stored
        with the session; ``params`` apply to this request only (default: the session's)."""
        model = self.services.resolve_model(model_id) if model_id else self.model
        try:
            async for event in self.chat.send(
                text, session_id=self.session_id, model_id=model.id, system_prompt=system_prompt,
                inspector=self.inspector, place=place, params=(params or self.params).as_dict(), approve=approve,
            ):
                if isinstance(event, ReplyStarted):
                    self.session, self.model = event.session, event.model or self.model
                    if event.user_message and event.user_message.get("id") not in self.tree.by_id:
                        self._put(event.user_message)
                    self._put(event.reply)
                    self.streaming_reply_id = str(event.reply["id"])
                elif isinstance(event, ReplyFinished):
                    self._put(event.reply)
                    self.streaming_reply_id = None
                yield event
        except asyncio.CancelledError:
            sid = self.session_id
            if self.streaming_reply_id is not None and sid is not None:
                final = await self.chat.cancelled_reply(sid)
                if final is not None:
                    self._put(final)
            raise
        finally:
            self.streaming_reply_id = None

    def last_user_message(self) -> MessageRecord | None:
        return next((m for m in reversed(self.path) if m.get("role") == "user"), None)

    def regenerate_target(self, message_id: str | None = None) -> Regenerate:
        """What regenerating ``message_id`` (a reply; default the last) answers again. Raises ConfigError."""
        path = self.path
        ids = [m.get("id") for m in path]
        if message_id is None:
            user = self.last_user_message()
        elif message_id in ids:
            at = ids.index(message_id)
            message = path[at]
            user = message if message.get("role") == "user" else (path[at - 1] if at > 0 else None)
        else:
            user = None
        if user is None or user.get("role") != "user":
            raise ConfigError("nothing to regenerate: no message of yours to answer again")
        return Regenerate(str(user["id"]))

    def retry_target(self) -> Regenerate:
        """The last turn again, if its reply failed before any text (F5, /retry). Raises ConfigError."""
        path = self.path
        if len(path) >= 2 and failed_before_text(path[-1]) and path[-2].get("role") == "user":
            return Regenerate(str(path[-2]["id"]))
        raise ConfigError("nothing to retry: the last message did not fail")

    def fork_at(self, message_id: str) -> Fork:
        """Editing the user message ``message_id``: the new text follows the same parent, as a new branch."""
        message = self.tree.by_id.get(message_id)
        if message is None or message.get("role") != "user":
            raise ConfigError("only your own messages can be edited and resent")
        return Fork(self.tree.parent[message_id])

    # -- branches and the context (blocking) -----------------------------------------------------------------
    def choose_alternative(self, message_id: str, step: int) -> str | None:
        """Show the alternative ``step`` places from ``message_id`` (stamped as chosen, so it stays the active
        branch in every process). Returns its id, or None at either end."""
        other = self.tree.neighbour(message_id, step)
        sid = self.session_id
        if other is None or sid is None:
            return None
        import time

        self._put(self.services.store.update_message(sid, other, chosen_at=time.time()))
        return other

    def set_hidden(self, message_id: str, hidden: bool = True) -> int:
        """Leave a message pair out of (or put it back into) the context. It stays stored, its cost counted."""
        sid = self.session_id
        if sid is None:
            return 0
        ids = self.tree.pair_of(message_id)
        for mid in ids:
            self._put(self.services.store.update_message(sid, mid, hidden=hidden))
        return len(ids)

    # -- settings of the session (blocking) ------------------------------------------------------------------
    def _ensure_session(self, title: str = "New chat") -> SessionRecord:
        if self.session is None:
            self.session = self.services.store.create_session(title=title, model=self.model.id)
        return self.session

    def _update(self, **fields: Unpack[SessionUpdate]) -> SessionRecord:
        session = self._ensure_session()
        self.session = self.services.store.update_session(session["id"], **fields)
        return self.session

    def set_model(self, model_id: str) -> ModelInfo:
        """Resolve and use ``model_id`` for the next request (stored with the session). Raises ConfigError."""
        info = self.services.resolve_model(model_id)
        self.model = info
        if self.session is not None:
            self.session = self.services.store.update_session(self.session["id"], model=info.id)
        return info

    def set_params(self, params: ModelParams) -> str:
        check_for_model(params, self.model.max_output)
        self._update(params=params.as_dict() or None)
        return f"parameters: {params.describe()}"

    def set_param(self, arg: str) -> str:
        name, value = parse_set_command(arg)
        return self.set_params(self.params.with_value(name, value))

    def set_system(self, text: str) -> str:
        self._update(system_prompt=text)
        return f"system prompt set for this session ({len(text)} characters)"

    def rename(self, title: str) -> str:
        if self.session is None:
            self._ensure_session(title)
        else:
            self._update(title=title)
        return f"renamed to {title!r}"

    def attach(self, path: str) -> str:
        from .attachments import read_attachment

        attachment = read_attachment(path)  # regular files only, bounded in size and time; AttachmentError
        kept = [a for a in self.attachments if a.get("path") != attachment["path"]]
        self._update(attachments=[*kept, attachment])
        return f"attached {attachment['name']} ({attachment['bytes']} bytes): it is sent with every request"

    def detach(self, name: str) -> str:
        attachments = self.attachments
        keep = [a for a in attachments if name and a.get("name") != name and a.get("path") != name]
        self._update(attachments=keep)
        return f"detached {len(attachments) - len(keep)} attachment(s)"

    def export(self, path: str, *, replace: bool = False) -> Path:
        """Write the session as Markdown (ExportExists when ``path`` exists and not ``replace``)."""
        from .export import to_markdown
        from .export_file import write_export

        if self.session is None:
            raise ConfigError("nothing to export yet: send a message first")
        session = self.services.session(self.session["id"])
        target = Path(path).expanduser() if path else Path.cwd() / default_export_name(session)
        write_export(target, to_markdown(session, self.services.messages(session["id"])), replace=replace)
        return target

    # -- slash commands (blocking): services/slash_commands.py ---------------------------------------------
    def execute(self, line: str) -> Outcome:
        """Run a slash command; errors become an error Outcome (one line), never an exception."""
        from .slash_commands import execute

        return execute(self, line)


__all__ = ["COMMANDS", "PARAM_HELP", "ChatSession", "Outcome", "default_export_name"]
