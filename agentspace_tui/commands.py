"""The CLI subcommands, each a small function over the services (see cli.py for parsing and exit codes)."""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import os
import signal
import sys
from pathlib import Path

from .cli import EXIT_BROKEN_PIPE, EXIT_CONFIG, EXIT_INTERRUPTED, EXIT_OK, EXIT_PROVIDER, EXIT_USAGE, CliError
from .formatting import (
    format_bytes,
    format_cost,
    format_time,
    format_tokens,
    format_window,
    json_text,
    one_line,
    reply_summary,
    table,
)
from .pricing import format_price
from .text_safety import TerminalText, for_terminal

_built: list = []


def _services():
    from .services.core import build_services

    services = build_services()
    _built.append(services)
    return services


def storage_warnings() -> list[str]:
    """What storage recovered from (corrupt files moved aside) during this command, for stderr."""
    return [w for services in _built for w in services.store.warnings]


def _print_json(obj) -> None:
    sys.stdout.write(json_text(obj) + "\n")


# -- ask ----------------------------------------------------------------------------------------------
def _read_prompt(arg: str | None) -> str:
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


def _ask_json(session_id: str, reply: dict) -> dict:
    """The ``ask --json`` contract: one object describing the reply and how it ended."""
    from .formatting import usage_estimated

    usage = reply.get("usage") or {}
    status = reply.get("status")
    return {
        "session_id": session_id,
        "message_id": reply["id"],
        "model": reply.get("model"),
        "text": reply.get("content", ""),
        "reasoning": reply.get("reasoning") or None,
        "finish": (reply.get("finish_reason") or "stop") if status == "complete" else status,
        "tool_calls": reply.get("tool_calls") or [],
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
        "error": reply.get("error"),
    }


class _Output:
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
            _silence_stdout()
            return
        self.wrote_any = True
        self.ends_with_newline = text.endswith("\n")


def _silence_stdout() -> None:
    """Point stdout at /dev/null so nothing (not even the interpreter's final flush) writes to a dead pipe."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def _say(line: str) -> None:
    """One line to stderr; a terminal that is gone (SIGHUP) must not turn the save into a traceback."""
    with contextlib.suppress(OSError, ValueError):
        print(line, file=sys.stderr)


STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


def cmd_ask(args) -> int:
    from .formatting import outcome_notice
    from .providers.events import ReasoningDelta, RefusalDelta, Retrying, TextDelta
    from .services.chat import ChatService, ReplyFinished, ReplyStarted

    prompt = _read_prompt(args.prompt)
    services = _services()
    session_id = args.ask_session
    if args.ask_cont:
        latest = services.latest_session()
        if latest is None:
            raise CliError("no session to continue yet; ask without -c to start one")
        session_id = latest["id"]
    chat = ChatService(services)
    state: dict = {"session": None, "reply": None, "reasoning_shown": False, "signal": None}
    out = _Output(raw=args.raw)
    thinking = TerminalText()

    async def run() -> None:
        # SIGTERM and SIGHUP (the terminal closed) end the reply the way Ctrl-C does: saved, usage recorded
        loop = asyncio.get_running_loop()
        main = asyncio.current_task()

        def stop(signum: int) -> None:
            if state["signal"] is None and main is not None:
                state["signal"] = signum
                chat.stop_reason = f"stopped by {signal.Signals(signum).name}"
                main.cancel()

        for signum in STOP_SIGNALS:
            loop.add_signal_handler(signum, stop, signum)
        async for event in chat.send(prompt, session_id=session_id, model_id=args.ask_model, system_prompt=args.system):
            if isinstance(event, ReplyStarted):
                state["session"], state["reply"] = event.session, event.reply
            elif isinstance(event, TextDelta | RefusalDelta):
                if not args.json:
                    out.write(event.text)
            elif isinstance(event, ReasoningDelta):
                if args.show_reasoning and not args.json:
                    with contextlib.suppress(OSError):
                        sys.stderr.write(event.text if args.raw else thinking.feed(event.text))
                        sys.stderr.flush()
                    state["reasoning_shown"] = True
            elif isinstance(event, Retrying):
                _say(f"agentspace-tui: {event.message}")
            elif isinstance(event, ReplyFinished):
                state["reply"] = event.reply

    interrupted = False
    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        interrupted = True
    except asyncio.CancelledError:  # a stop signal cancelled the run, after the reply was saved
        if state["signal"] is None:
            raise
        interrupted = True
    signum = state["signal"]
    exit_interrupted = 128 + signum if signum else EXIT_INTERRUPTED
    reply = state["reply"]
    if reply is None:  # interrupted before anything was stored
        if interrupted:
            _say(f"\nagentspace-tui: {chat.stop_reason or 'interrupted'}")
            return exit_interrupted
        raise CliError("no reply")
    if interrupted:
        reply = services.store.get_messages(state["session"]["id"])[-1]
    status = reply.get("status")
    session_usage = services.store.usage(state["session"]["id"])
    if args.json:
        try:
            _print_json(_ask_json(state["session"]["id"], reply))
        except OSError:
            out.broken = True
            _silence_stdout()
    else:
        out.finish()
        if state["reasoning_shown"]:
            _say("")
        total = session_usage["total"]
        unknown = " (+ unknown)" if total.get("unknown_cost") else ""
        _say(f"[{reply_summary(reply)} · session {state['session']['id']} total {format_cost(total.get('cost'))}"
             f"{unknown}]")
        if reply.get("error"):
            _say(f"agentspace-tui: {for_terminal(reply['error'])}")
    notice = outcome_notice(reply)
    if notice:  # truncated, refused, filtered or a tool call: the reply is not what was asked for
        _say(f"agentspace-tui: {notice}")
    if interrupted or status == "cancelled":
        return exit_interrupted
    if out.broken:
        _say("agentspace-tui: the output was closed early (broken pipe); the whole reply was saved: "
             f"`agentspace-tui sessions show {state['session']['id']}`")
        return EXIT_BROKEN_PIPE
    if status in ("error", "interrupted"):
        return EXIT_PROVIDER
    return EXIT_OK


# -- models -------------------------------------------------------------------------------------------
def cmd_models(args) -> int:
    services = _services()
    if args.provider in (None, "ollama"):
        services.catalog.discover_ollama(timeout=1.0)
    choices = services.model_choices(args.provider)
    if args.json:
        _print_json([c.as_json() for c in choices])
        return EXIT_OK
    rows = [
        [
            c.info.id,
            format_window(c.info.context_window),
            format_price(c.price.input_per_mtok) if c.price else "unknown",
            format_price(c.price.output_per_mtok) if c.price else "unknown",
            "yes" if c.key_configured else "no",
        ]
        for c in choices
    ]
    print(table(["model", "window", "input", "output", "key"], rows, right={1}))
    return EXIT_OK


# -- sessions -----------------------------------------------------------------------------------------
def _session_row(s: dict) -> dict:
    return {
        "id": s["id"],
        "title": s.get("title"),
        "model": s.get("model"),
        "created_at": s.get("created_at"),
        "updated_at": s.get("updated_at"),
        "messages": s.get("messages", 0),
        "cost": s.get("cost"),
        "cost_estimated": bool(s.get("estimated")),  # some of it was counted locally, not reported
    }


def cmd_sessions(args) -> int:
    from .services.export import to_json, to_markdown

    services = _services()
    store = services.store
    if args.action == "list":
        sessions = [_session_row(s) for s in store.list_sessions()]
        if args.json:
                _print_json(sessions)
        elif not sessions:
            print("no sessions yet: start one with `agentspace-tui ask \"...\"` or `agentspace-tui`")
        else:
            rows = [
                [s["id"], (s["title"] or "")[:40], s["model"] or "-", format_time(s["updated_at"]), str(s["messages"]),
                 format_cost(s["cost"]) + (" (est.)" if s["cost_estimated"] else "")]
                for s in sessions
            ]
            print(table(["id", "title", "model", "updated", "msgs", "cost"], rows, right={4, 5}))
        return EXIT_OK
    session = services.session(args.id)
    if args.action == "show":
        print(to_markdown(session, services.messages(session["id"])), end="")
    elif args.action == "export":
        messages = services.messages(session["id"])
        text = to_markdown(session, messages) if args.format == "md" else to_json(session, messages) + "\n"
        if args.output:
            from .services.export_file import ExportError, ExportExists, write_export

            try:
                write_export(Path(args.output), text, replace=args.force)
            except ExportExists as exc:
                raise CliError(f"{for_terminal(str(exc))}: add --force to replace it", EXIT_USAGE) from None
            except ExportError as exc:
                raise CliError(for_terminal(str(exc))) from None
            print(f"exported {session['id']} to {for_terminal(args.output)}", file=sys.stderr)
        else:
            sys.stdout.write(text)
    elif args.action == "rename":
        if not args.title.strip():
            raise CliError("a title cannot be empty", EXIT_USAGE)
        store.update_session(session["id"], title=args.title.strip())
        print(f"renamed {session['id']} to {args.title.strip()!r}")
    elif args.action == "delete":
        store.delete_session(session["id"])
        print(f"deleted {session['id']} ({one_line(session.get('title') or '')}); its spending stays in "
              "`agentspace-tui usage`")
    return EXIT_OK


# -- usage --------------------------------------------------------------------------------------------
def _usage_json(raw: dict) -> dict:
    keys = ("requests", "input_tokens", "output_tokens", "reasoning_tokens", "cache_read_tokens", "cache_write_tokens",
            "cost", "unknown_cost", "estimated", "estimated_cost")
    return {
        "per_model": {m: {k: v.get(k) for k in keys} for m, v in raw.get("per_model", {}).items()},
        "total": {k: raw.get("total", {}).get(k) for k in keys},
    }


def cmd_usage(args) -> int:
    import time

    services = _services()
    session_id = services.session(args.session)["id"] if args.session else None
    day = time.strftime("%Y-%m-%d") if args.today else None
    data = _usage_json(services.store.usage(session_id, day=day))
    if args.json:
        _print_json(data)
        return EXIT_OK
    def cost_cell(u: dict) -> str:
        text = format_cost(u["cost"])
        if u.get("unknown_cost"):
            text += f" (+{u['unknown_cost']} unknown)"
        if u.get("estimated"):  # requests whose tokens we counted ourselves: their cost is an estimate too
            text += f" (incl. {format_cost(u.get('estimated_cost') or 0)} est.)"
        return text

    rows = []
    for model, u in sorted(data["per_model"].items()):
        rows.append([model, str(u["requests"]), format_tokens(u["input_tokens"]), format_tokens(u["output_tokens"]),
                     format_tokens(u.get("reasoning_tokens") or 0), cost_cell(u)])
    t = data["total"]
    rows.append(["total", str(t["requests"] or 0), format_tokens(t["input_tokens"] or 0),
                 format_tokens(t["output_tokens"] or 0), format_tokens(t.get("reasoning_tokens") or 0), cost_cell(t)])
    print(table(["model", "requests", "input", "output", "reasoning", "cost"], rows, right={1, 2, 3, 4}))
    if t.get("estimated"):
        print(f"est.: {t['estimated']} of {t['requests']} requests had no usage from the provider; their tokens "
              "were counted locally")
    return EXIT_OK


# -- context ------------------------------------------------------------------------------------------
def cmd_context(args) -> int:
    from .services.chat import ChatService

    services = _services()
    session = services.session(args.session)
    info = services.resolve_model(args.ctx_model) if args.ctx_model else services.session_model(session)
    history = ChatService(services).history(session["id"])
    inspection = services.inspect(session, history, info, args.draft)
    if args.json:
        _print_json(inspection.as_json())
        return EXIT_OK
    rows = [[s.name, format_bytes(s.bytes), str(s.tokens), format_cost(s.cost)] for s in inspection.sections]
    rows.append(["total", format_bytes(inspection.total.bytes), str(inspection.total.tokens),
                 format_cost(inspection.total.cost)])
    print(f"next request to {info.id} (window {format_window(info.context_window)}"
          + (f", {inspection.used_fraction:.1%} used" if inspection.used_fraction is not None else "")
          + (", token counts are estimates" if not inspection.exact else "") + ")")
    print(table(["section", "bytes", "tokens", "input cost"], rows, right={1, 2, 3}))
    if inspection.excluded_messages:
        print(f"{inspection.excluded_messages} oldest messages do not fit the window and will be left out "
              "(they stay in the session)")
    return EXIT_OK


# -- keys ---------------------------------------------------------------------------------------------
def cmd_keys(args) -> int:
    from .config import keys as keystore

    services = _services()
    if args.action == "list":
        statuses = services.provider_statuses()
        ok, reason = keystore.keyring_available()
        if args.json:
            _print_json([{"provider": s.name, "source": s.key_source, "env": s.key_env} for s in statuses])
            return EXIT_OK
        rows = [[s.name, s.label, s.key_source, s.key_env or "-"] for s in statuses]
        print(table(["provider", "name", "key from", "env var"], rows))
        if not ok:
            print(f"note: {reason}; keys can only come from environment variables here", file=sys.stderr)
        return EXIT_OK
    spec = services.provider(args.provider)
    try:
        if args.action == "set":
            if spec.local and not spec.key_envs:
                raise CliError(f"{spec.label} runs locally and needs no key")
            ok, reason = keystore.keyring_available()
            if not ok:
                raise keystore.KeyStoreError(keystore._no_keyring_message(spec, reason))
            if sys.stdin is None:  # started with stdin closed
                raise CliError(f"no key: stdin is closed; pipe the {spec.label} key in or run this in a terminal",
                               EXIT_USAGE)
            if sys.stdin.isatty():
                value = getpass.getpass(f"{spec.label} API key (input hidden): ")
            else:
                value = sys.stdin.readline()
            keystore.set_key(spec, value)
            print(f"stored the {spec.label} key in the system keyring")
            env_value = keystore.resolve_key(spec, use_keyring=False)
            if env_value.source.startswith("env:"):
                print(f"note: {env_value.source[4:]} is set and takes precedence over the keyring", file=sys.stderr)
        elif args.action == "delete":
            if keystore.delete_key(spec):
                print(f"deleted the {spec.label} key from the keyring")
            else:
                print(f"no {spec.label} key in the keyring")
    except keystore.KeyStoreError as exc:
        raise CliError(str(exc), EXIT_CONFIG) from None
    except (EOFError, KeyboardInterrupt):
        print("\nagentspace-tui: cancelled; nothing stored", file=sys.stderr)
        return EXIT_INTERRUPTED
    return EXIT_OK


# -- pricing ------------------------------------------------------------------------------------------
PRICE_MAX = 100_000.0  # USD per million tokens; far above any real price, and keeps every cost finite


def _check_prices(args) -> None:
    for option, value in (("--input", args.input), ("--output", args.output), ("--cache-read", args.cache_read),
                          ("--cache-write", args.cache_write)):
        if value is not None and not 0 <= value <= PRICE_MAX:  # also false for nan
            raise CliError(f"{option} {value:g} is not allowed: USD per million tokens, a number from 0 to "
                           f"{PRICE_MAX:g}", EXIT_USAGE)


def cmd_pricing(args) -> int:
    if args.action == "set":
        _check_prices(args)  # before anything is opened or resolved
    services = _services()
    store = services.store
    if args.action == "list":
        overrides = store.price_overrides()
        items = [{"model": m, **{k: v for k, v in p.items() if k != "model"}, "source": "override"}
                 for m, p in sorted(overrides.items())]
        if args.json:
            _print_json(items)
        elif not items:
            print("no price overrides; prices come from litellm's catalog (see `agentspace-tui models`)")
        else:
            rows = [[i["model"], format_price(i.get("input_per_mtok")), format_price(i.get("output_per_mtok")),
                     format_price(i.get("cache_read_per_mtok")), format_price(i.get("cache_write_per_mtok"))]
                    for i in items]
            print(table(["model", "input", "output", "cache read", "cache write"], rows))
        return EXIT_OK
    model_id = services.resolve_model(args.model).id
    if args.action == "set":
        store.set_price_override(model_id, input_per_mtok=args.input, output_per_mtok=args.output,
                                 cache_read_per_mtok=args.cache_read, cache_write_per_mtok=args.cache_write)
        print(f"{model_id}: input {format_price(args.input)}, output {format_price(args.output)} (override)")
    elif args.action == "unset":
        if store.unset_price_override(model_id):
            print(f"{model_id}: override removed; back to the catalog price")
        else:
            raise CliError(f"no price override for {model_id}")
    return EXIT_OK


__all__ = ["cmd_ask", "cmd_models", "cmd_sessions", "cmd_usage", "cmd_context", "cmd_keys", "cmd_pricing",
           "EXIT_CONFIG"]
