"""Sending and streaming, and what can be done to the messages: retry, regenerate, retry with another model,
edit and resend, delete from the context, page through alternatives, copy."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from textual import on, work

from ..text_safety import for_terminal
from . import compare_flow, gc_policy
from .messages import ConversationChanged
from .spending_flow import SpendingFlow
from .widgets.conversation import ConversationView, ReplyBlock, UserBlock, code_blocks
from .widgets.message_block import MessageBlock
from .widgets.prompt import PromptInput

if TYPE_CHECKING:
    from collections.abc import Callable

    from ..services.chat import Placement, Regenerate, ReplyStarted
    from ..services.chat_session import ChatSession, Outcome
    from .screens.tool_confirm import Decision

IDLE_GC_DELAY = 1.5  # seconds without typing before garbage is collected after a reply


class ConversationFlow(SpendingFlow):
    def __init__(self) -> None:
        super().__init__()
        self._sent_draft: tuple[str, dict[int, str]] | None = None  # given back if the send is refused
        self._oversize_confirmed: str | None = None  # a draft sent although it cannot fit: warned about once
        self._editing: str | None = None  # the user message being edited: the next send forks there
        self._refocus_at: int | None = None  # after a branch change from a focused message: its place in the branch

    # -- sending ---------------------------------------------------------------------------------------------
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

    def send(self, text: str) -> None:
        """Send the prompt's draft as a new turn (or, editing, as the new version of an earlier message)."""
        from ..services.chat import Fork

        if not self._can_send():
            return
        if self._too_big_to_send(text):
            return
        if self.held_by_gate(text, None, lambda: self.send(text)):  # a used-up budget or a costly forecast asks
            return
        place: Placement = None
        if self._editing is not None and self.chat_session.message(self._editing) is None:
            self._editing = None  # begun in a conversation no longer open (Ctrl+N, another session): a new message
        if self._editing is not None:
            place = self._edit_place(self._editing)
            if place is None:
                return
            self._editing = None
        prompt = self.main_screen.prompt
        prompt.remember()
        self._sent_draft = (prompt.text, dict(prompt.pastes))
        prompt.clear_draft()
        if place is None and compare_flow.armed(self):  # /compare MODEL: two models answer side by side
            return compare_flow.start(self, text)  # type: ignore[arg-type]
        self._start(text, place, redraw=isinstance(place, Fork))

    def _can_send(self) -> bool:
        if not self.ready or self.conversation is None:
            self.notify("still opening the session…", severity="warning")
            return False
        return not self.refuse_while_streaming()

    def _edit_place(self, message_id: str) -> Placement:
        from ..services.api import ConfigError

        try:
            return self.chat_session.fork_at(message_id)
        except ConfigError as exc:
            self.notice(str(exc), "error")
            return None

    def _start(self, text: str, place: Placement, *, model_id: str | None = None, redraw: bool = False) -> None:
        self.reply_worker = self._stream_reply(self.chat_session, text, place, model_id, redraw)

    def _too_big_to_send(self, text: str) -> bool:
        """Warn once before sending a request that cannot fit the model's window even with all history left
        out (the provider would reject it, or bill for a truncated prompt); Enter again sends it anyway."""
        inspection = self.last_inspection
        if inspection is None or (inspection.used_fraction or 0) <= 1 or self._oversize_confirmed == text:
            return False
        self._oversize_confirmed = text
        self.notice(
            f"this request is {inspection.used_fraction:.0%} of {self.active_model.id}'s window and cannot fit: "
            "shorten it or switch to a model with a larger window (Ctrl+O); press Enter again to send it anyway",
            "warning",
        )
        return True

    def action_retry(self) -> None:
        """F5, /retry: answer the last message again if its reply failed before any text (the failed reply
        stays stored as an alternative, never sent)."""
        self._answer_again(lambda c: c.retry_target())

    def action_regenerate(self, message_id: str | None = None, model_id: str | None = None) -> None:
        """A new reply to the last message (or to the one ``message_id`` answers); the earlier one stays as an
        alternative. ``model_id``: ask another model (the new reply records its own model and price)."""
        self._answer_again(lambda c: c.regenerate_target(message_id), model_id)

    def _answer_again(self, target: Callable[[ChatSession], Regenerate], model_id: str | None = None) -> None:
        from ..services.api import ConfigError

        if not self._can_send():
            return
        try:
            place = target(self.chat_session)
        except ConfigError as exc:
            self.notice(str(exc))
            return
        if self.held_by_gate("", model_id, lambda: self._answer_again(target, model_id)):
            return
        self._sent_draft = None  # the draft being typed is not involved
        self._start("", place, model_id=model_id, redraw=True)

    @work(group="chat", exclusive=False, exit_on_error=False, description="stream reply")
    async def _stream_reply(
        self, conversation: ChatSession, text: str, place: Placement, model_id: str | None, redraw: bool
    ) -> None:
        from ..services.api import (
            ConfigError,
            ParamsSent,
            ReasoningDelta,
            RefusalDelta,
            Retrying,
            TextDelta,
            ToolCallRequest,
        )
        from ..services.chat import BusyError, ReplyFinished, ReplyStarted
        from ..services.core import NotFoundError
        from ..services.failover import FailedOver
        from ..services.tool_loop import ToolCallFinished, ToolCallStarted, ToolsNotice

        view = self.main_screen.conversation
        block: ReplyBlock | None = None
        gc_policy.streaming_started()
        try:
            async for event in conversation.send(text, place, model_id=model_id, approve=self._approve_tool):
                if isinstance(event, ReplyStarted):
                    block = self._reply_started(conversation, event, view, redraw)
                elif block is None:  # ChatService.send yields ReplyStarted before any other event
                    raise RuntimeError(f"{type(event).__name__} arrived before ReplyStarted")
                elif isinstance(event, TextDelta | RefusalDelta):  # a refusal is the reply's text
                    block.append(event.text)
                elif isinstance(event, ReasoningDelta):
                    block.append_reasoning(event.text)
                elif isinstance(event, Retrying):
                    block.note(event.message)
                elif isinstance(event, ParamsSent) and event.dropped:
                    block.note(f"not sent: {', '.join(event.dropped)} ({conversation.model.id} does not take it)")
                elif isinstance(event, FailedOver):  # [failover]: another model answers; the header says so
                    block.failed_over(event.from_model, event.to_model, event.kind)
                elif isinstance(event, ToolCallStarted | ToolCallFinished):  # shown in the reply, where it came
                    block.tool_call(event.call)
                elif isinstance(event, ToolsNotice):
                    block.note(event.message)
                    self.notice(event.message, "warning")
                elif isinstance(event, ToolCallRequest):  # no tools were offered: listed when it ends, never run
                    block.note(f"⚙ the model asks to call {event.name} (no tools are enabled in this chat: /tools)")
                elif isinstance(event, ReplyFinished):
                    self._reply_done(block, event.reply)
        except (ConfigError, NotFoundError, BusyError) as exc:
            self._restore_draft()  # nothing was sent or stored: give the draft back
            self.notice(str(exc), "error")
        except asyncio.CancelledError:
            if block is not None and block.streaming:
                final = conversation.message(str(block.message.get("id")))  # saved by ChatSession.send
                if final is not None and final.get("status") != "streaming":
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

    async def _approve_tool(self, call: Mapping[str, Any]) -> Decision:
        """Asked by the tool loop before a call runs (the reply shows the call, waiting): the answer is the
        user's; Escape declines."""
        from .screens.tool_confirm import ToolConfirmScreen

        decision = await self.push_screen(ToolConfirmScreen(call), wait_for_dismiss=True)
        return decision or "deny"

    def _reply_started(
        self, conversation: ChatSession, event: ReplyStarted, view: ConversationView, redraw: bool
    ) -> ReplyBlock:
        if redraw:  # a new branch: the view shows it from the top, with the reply streaming at the end
            keep_focus = isinstance(self.main_screen.focused, MessageBlock)  # r on a message: stay on the new one
            view.show_messages(conversation.path[:-1], conversation.alternatives())
            block = ReplyBlock(event.reply, streaming=True)
            view.add(block)
            if keep_focus:
                view.focus_message(block)
        else:
            block = ReplyBlock(event.reply, streaming=True)
            view.add(UserBlock(event.user_message), block)
        self.current_reply = block
        self.update_title()
        self.refresh_inspector()
        return block

    def _reply_done(self, block: ReplyBlock, reply: Mapping[str, Any]) -> None:
        block.alternative = self.chat_session.alternatives().get(str(reply.get("id")))  # shown by finish
        block.finish(reply)
        self.current_reply = None
        self.refresh_footer()
        self.refresh_inspector()
        self.refresh_usage()

    def _collect_when_idle(self, full: bool = False) -> None:
        """Garbage-collect once nobody is typing: a full collection is a ~0.1-0.3 s pause."""
        if time.monotonic() - self._last_input_at < IDLE_GC_DELAY:
            self.set_timer(IDLE_GC_DELAY, lambda: self._collect_when_idle(full))
            return
        gc_policy.collect(full=full)

    def _restore_draft(self) -> None:
        if self._sent_draft is None:  # regenerating: the draft was never taken
            return
        prompt = self.main_screen.prompt
        if not prompt.text:
            prompt.set_draft(*self._sent_draft)

    def action_cancel(self) -> None:
        if self.reply_worker is not None and self.reply_worker.is_running:
            self.reply_worker.cancel()

    # -- actions on a focused message ------------------------------------------------------------------------
    @on(MessageBlock.ActionRequested)
    def _message_action(self, event: MessageBlock.ActionRequested) -> None:
        event.stop()
        action, message_id = event.action, event.message_id
        if action == "regenerate":
            self.action_regenerate(message_id)
        elif action == "retry_other":
            self.open_switcher(lambda model_id: self.action_regenerate(message_id, model_id),
                               "Answer again with another model (the current reply is kept)")
        elif action == "edit":
            self._begin_edit(message_id)
        elif action in ("delete", "restore"):
            self._branch_change(lambda c: _hide(c, message_id, action == "delete"), message_id)
        elif action in ("previous_alternative", "next_alternative"):
            step = -1 if action == "previous_alternative" else 1
            self._branch_change(lambda c: _choose(c, message_id, step), message_id)

    def _begin_edit(self, message_id: str) -> None:
        message = self.conversation.message(message_id) if self.conversation else None
        if message is None or message.get("role") != "user":
            return
        prompt = self.main_screen.prompt
        kept = bool(prompt.text.strip())
        prompt.remember()  # a draft being typed is not lost: Up in the prompt brings it back
        prompt.set_draft(str(message.get("content") or ""))
        prompt.focus()
        self._editing = message_id
        self.notice("editing an earlier message: Enter sends it as a new branch (the old one is kept; "
                    "[ and ] on the message page between them); Esc in the prompt keeps the conversation as is"
                    + ("; the draft you were typing is in the input history (Up)" if kept else ""))

    def _branch_change(self, change: Callable[[ChatSession], Outcome], message_id: str) -> None:
        if self.refuse_while_streaming() or self.conversation is None:
            return
        ids = [str(m.get("id")) for m in self.conversation.path]
        self._refocus_at = ids.index(message_id) if message_id in ids else None
        self._change_in_worker(self.conversation, change)

    def show_conversation(self) -> None:
        super().show_conversation()
        at, self._refocus_at = self._refocus_at, None
        view, focused = self.main_screen.conversation, self.main_screen.focused
        # the focused message's block was replaced: focus its successor at the same place (unless the user
        # has gone to the prompt meanwhile)
        if at is not None and (focused is None or focused is view or isinstance(focused, MessageBlock)):
            view.focus_at(at)

    @work(thread=True, group="branch", exclusive=True, exit_on_error=False, description="change branch")
    def _change_in_worker(self, conversation: ChatSession, change: Callable[[ChatSession], Outcome]) -> None:
        with conversation.lock:  # one edit at a time (see ChatSession.lock)
            outcome = change(conversation)
        self.post_message(ConversationChanged(conversation, outcome, redraw=True))

    # -- copies ----------------------------------------------------------------------------------------------
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


def _hide(conversation: ChatSession, message_id: str, hidden: bool) -> Outcome:
    from ..services.chat_session import Outcome

    count = conversation.set_hidden(message_id, hidden)
    if hidden:
        return Outcome(f"{count} message(s) left out of the context (still stored, their cost still counted; "
                       "x on them puts them back)")
    return Outcome(f"{count} message(s) back in the context")


def _choose(conversation: ChatSession, message_id: str, step: int) -> Outcome:
    from ..services.chat_session import Outcome

    chosen = conversation.choose_alternative(message_id, step)
    if chosen is None:
        return Outcome("no other answer that way" if step > 0 else "this is the first one")
    return Outcome()
