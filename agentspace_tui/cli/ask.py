"""``agentspace-tui ask``: send a prompt, stream the reply to stdout, a one-line summary to stderr.

A reply always ends saved, whatever stops it: Ctrl-C, SIGTERM, SIGHUP (the terminal closed), or a reader of
stdout that went away (see ``ReplyOutput``). The exit code says how it ended (exits.py).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..domain import MessageRecord, SessionRecord
from ..formatting import format_cost, reply_summary, usage_estimated
from ..text_safety import TerminalText, for_terminal
from .app_services import open_services
from .exits import EXIT_BROKEN_PIPE, EXIT_INTERRUPTED, EXIT_OK, EXIT_PROVIDER, EXIT_USAGE, CliError
from .output import print_json, say, silence_stdout

if TYPE_CHECKING:
    from ..services.chat_session import ChatSession
    from ..services.core import Services
    from ..services.params import ModelParams

STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


def read_prompt(arg: str | None) -> str:
    """The prompt: the argument, or stdin for ``-`` (or no argument with a pipe)."""
    stdin = sys.stdin  # None when the process was started with stdin closed (`ask - <&-`)
    if arg == "-" or (arg is None and stdin is not None and not stdin.isatty()):
        if stdin is None:
            raise CliError("no prompt: stdin is closed; give the prompt as an argument or pipe it in", EXIT_USAGE)
        try:
            text = stdin.read()
            text.encode("utf-8")  # undecodable bytes arrive as lone surrogates (surrogateescape) and fail here
        except (UnicodeDecodeError, UnicodeEncodeError):
            raise CliError("the prompt on stdin is not UTF-8 text", EXIT_USAGE) from None
        except OSError as exc:
            raise CliError(f"cannot read the prompt from stdin: {exc.strerror or exc}", EXIT_USAGE) from None
        return text
    if arg is None:
        raise CliError("no prompt given: `agentspace-tui ask \"your question\"` or pipe it in with `-`", EXIT_USAGE)
    return arg


def ask_json(session_id: str, reply: MessageRecord) -> dict[str, Any]:
    """The ``ask --json`` contract: one object describing the reply and how it ended."""
    usage: Mapping[str, Any] = reply.get("usage") or {}
    status = reply.get("status")
    return {
        "session_id": session_id,
        "message_id": reply["id"],
        "model": reply.get("model"),
        "text": reply.get("content", ""),
        "reasoning": reply.get("reasoning") or None,
        "finish": (reply.get("finish_reason") or "stop") if status == "complete" else status,
        "tool_calls": reply.get("tool_calls") or [],  # with status, result, round when tools ran
        "rounds": reply.get("rounds") or [],  # a reply that called tools: each request's usage and cost
        "usage": {
            "input_tokens": usage.get("input_tokens", 0),
            "output_tokens": usage.get("output_tokens", 0),
            "reasoning_tokens": usage.get("reasoning_tokens", 0),
            "cache_read_tokens": usage.get("cache_read_tokens", 0),
            "cache_write_tokens": usage.get("cache_write_tokens", 0),
            "source": ("estimated" if usage_estimated(reply) else "provider") if usage else None,
        },
        "cost": reply.get("cost"),
        "cost_source": reply.get("cost_source"),
        "cache_savings": reply.get("cache_savings"),  # USD against the uncached price; None: price unknown
        "error": reply.get("error"),
        # failover (services/failover.py): the model that answered, the one asked for, and each that failed first
        "answered_by": reply.get("model"),
        "requested_model": reply.get("requested_model") or reply.get("model"),
        "failover": [{"model": f.get("model"), "error": f.get("error"), "kind": f.get("kind")}
                     for f in reply.get("failover") or [] if isinstance(f, dict)],
    }


class ReplyOutput:
    """Where ``ask`` streams the reply: stdout, made safe for a terminal unless ``--raw``.

    A reader that goes away (``ask ... | head -c 30``) must not cost the reply: writing stops, the stream is
    still read to its end and saved, and the exit code says the output was cut (never 0).
    """

    def __init__(self, raw: bool) -> None:
        self.raw = raw
        self.broken = False
        self.wrote_any = False
        self.ends_with_newline = True
        self._terminal = TerminalText()

    def write(self, text: str) -> None:
        if not self.raw:
            text = self._terminal.feed(text)
        self._emit(text)

    def finish(self) -> None:
        if not self.raw:
            self._emit(self._terminal.flush())
        if self.wrote_any and not self.ends_with_newline:
            self._emit("\n")

    def _emit(self, text: str) -> None:
        if not text or self.broken:
            return
        try:
            sys.stdout.write(text)
            sys.stdout.flush()
        except (BrokenPipeError, OSError):  # EPIPE, or EIO once the terminal is gone
            self.broken = True
            silence_stdout()
            return
        self.wrote_any = True
        self.ends_with_newline = text.endswith("\n")


@dataclass
class _AskState:
    """What the streaming loop leaves for the summary: the session and reply, and what stopped it."""

    session: SessionRecord | None = None
    reply: MessageRecord | None = None
    reasoning_shown: bool = False
    signal: int | None = None


def _request_params(args: argparse.Namespace, session_params: ModelParams) -> ModelParams:
    """The session's parameters with this request's --temperature / --top-p / --max-tokens on top."""
    from ..services.params import ParamError

    params = session_params
    try:
        for name in ("temperature", "top_p", "max_tokens"):
            value = getattr(args, name, None)
            if value is not None:
                params = params.with_value(name, value)
    except ParamError as exc:
        raise CliError(str(exc), EXIT_USAGE) from None
    return params


def _conversation(args: argparse.Namespace, services: Services) -> ChatSession:
    from ..services.chat_session import ChatSession

    session_id: str | None = args.ask_session
    if args.ask_cont:
        latest = services.latest_session()
        if latest is None:
            raise CliError("no session to continue yet; ask without -c to start one")
        session_id = latest["id"]
    if session_id is not None:
        conversation, model_error = ChatSession.open(services, session_id)
        if model_error and not args.ask_model:  # the app falls back to another model; a script is told
            from ..services.api import ConfigError

            raise ConfigError(model_error)
        return conversation
    if args.regenerate:
        raise CliError("--regenerate answers a session's last message again: give -s SESSION or -c", EXIT_USAGE)
    model = services.resolve_model(args.ask_model) if args.ask_model else services.session_model(None)
    return ChatSession(services, model)


def cmd_ask(args: argparse.Namespace) -> int:
    from ..formatting import outcome_notice
    from ..providers.events import ParamsSent, ReasoningDelta, RefusalDelta, Retrying, TextDelta
    from ..services.api import ConfigError
    from ..services.chat import ReplyFinished, ReplyStarted
    from ..services.failover import FailedOver, short_error
    from ..services.tool_loop import ToolCallFinished, ToolCallStarted, ToolsNotice
    from . import ask_tools

    prompt = "" if args.regenerate else read_prompt(args.prompt)
    services = open_services()
    conversation = _conversation(args, services)
    place = None
    if args.regenerate:
        try:
            place = conversation.regenerate_target()
        except ConfigError as exc:
            raise CliError(str(exc), EXIT_USAGE) from None
    params = _request_params(args, conversation.params)
    from .spending import preflight

    forecast = preflight(args, conversation, prompt, params)  # refused (exit 5) before anything is stored
    if getattr(args, "compare", None):  # two models at once: cli/ask_compare.py
        from .ask_compare import ask_compare

        return ask_compare(args, conversation, prompt, params)
    chat = conversation.chat
    state = _AskState()
    json_out: bool = args.json
    raw: bool = args.raw
    show_reasoning: bool = args.show_reasoning
    out = ReplyOutput(raw=raw)
    thinking = TerminalText()

    async def run() -> None:
        # SIGTERM and SIGHUP (the terminal closed) end the reply the way Ctrl-C does: saved, usage recorded
        loop = asyncio.get_running_loop()
        main = asyncio.current_task()

        def stop(signum: int) -> None:
            if state.signal is None and main is not None:
                state.signal = signum
                chat.stop_reason = f"stopped by {signal.Signals(signum).name}"
                main.cancel()

        for signum in STOP_SIGNALS:
            loop.add_signal_handler(signum, stop, signum)
        async for event in conversation.send(
            prompt, place, model_id=args.ask_model, system_prompt=args.system, params=params,
            approve=ask_tools.approver(args),
        ):
            if isinstance(event, ReplyStarted):
                state.session, state.reply = event.session, event.reply
            elif isinstance(event, TextDelta | RefusalDelta):
                if not json_out:
                    out.write(event.text)
            elif isinstance(event, ReasoningDelta):
                if show_reasoning and not json_out:
                    with contextlib.suppress(OSError):
                        sys.stderr.write(event.text if raw else thinking.feed(event.text))
                        sys.stderr.flush()
                    state.reasoning_shown = True
            elif isinstance(event, Retrying):
                say(f"agentspace-tui: {event.message}")
            elif isinstance(event, ParamsSent) and event.dropped:
                say(f"agentspace-tui: not sent: {', '.join(event.dropped)} (the model does not take it)")
            elif isinstance(event, FailedOver):
                say(f"agentspace-tui: {for_terminal(event.describe(short_error(event.error)))}")
            elif isinstance(event, ReplyFinished):
                state.reply = event.reply
            elif isinstance(event, ToolCallStarted | ToolCallFinished | ToolsNotice):
                ask_tools.report(event)

    async def run_and_close() -> None:
        try:
            await run()
        finally:
            await services.tools.close()  # MCP servers this run started

    interrupted = False
    try:
        asyncio.run(run_and_close())
    except KeyboardInterrupt:
        interrupted = True
    except asyncio.CancelledError:  # a stop signal cancelled the run, after the reply was saved
        if state.signal is None:
            raise
        interrupted = True
    exit_interrupted = 128 + state.signal if state.signal else EXIT_INTERRUPTED
    reply = state.reply
    if reply is None or state.session is None:  # interrupted before anything was stored
        if interrupted:
            say(f"\nagentspace-tui: {chat.stop_reason or 'interrupted'}")
            return exit_interrupted
        raise CliError("no reply")
    sid: str = state.session["id"]
    if interrupted:
        reply = services.store.get_messages(sid)[-1]
    status = reply.get("status")
    session_usage = services.store.usage(sid)
    if json_out:
        try:
            print_json({**ask_json(sid, reply), "forecast": forecast.as_json()})
        except OSError:
            out.broken = True
            silence_stdout()
    else:
        out.finish()
        if state.reasoning_shown:
            say("")
        total = session_usage["total"]
        unknown = " (+ unknown)" if total.get("unknown_cost") else ""
        say(f"[{reply_summary(reply)} · session {sid} total {format_cost(total.get('cost'))}{unknown}]")
        error = reply.get("error")
        if error:
            say(f"agentspace-tui: {for_terminal(error)}")
    notice = outcome_notice(reply)
    if notice:  # truncated, refused, filtered or a tool call: the reply is not what was asked for
        say(f"agentspace-tui: {notice}")
    if interrupted or status == "cancelled":
        return exit_interrupted
    if out.broken:
        say("agentspace-tui: the output was closed early (broken pipe); the whole reply was saved: "
            f"`agentspace-tui sessions show {sid}`")
        return EXIT_BROKEN_PIPE
    if status in ("error", "interrupted"):
        return EXIT_PROVIDER
    return EXIT_OK
