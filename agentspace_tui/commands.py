"""The CLI subcommands, each a small function over the services (see cli.py for parsing and exit codes)."""

from __future__ import annotations

import asyncio
import getpass
import json
import sys
from pathlib import Path

from .cli import EXIT_CONFIG, EXIT_INTERRUPTED, EXIT_OK, EXIT_PROVIDER, EXIT_USAGE, CliError
from .formatting import format_bytes, format_cost, format_time, format_tokens, format_window, reply_summary, table
from .pricing import format_price

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
    sys.stdout.write(json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


# -- ask ----------------------------------------------------------------------------------------------
def _read_prompt(arg: str | None) -> str:
    if arg == "-" or (arg is None and not sys.stdin.isatty()):
        return sys.stdin.read()
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
    state: dict = {"session": None, "reply": None, "text": [], "reasoning_shown": False}
    out = sys.stdout

    async def run() -> None:
        async for event in chat.send(prompt, session_id=session_id, model_id=args.ask_model, system_prompt=args.system):
            if isinstance(event, ReplyStarted):
                state["session"], state["reply"] = event.session, event.reply
            elif isinstance(event, TextDelta | RefusalDelta):
                state["text"].append(event.text)
                if not args.json:
                    out.write(event.text)
                    out.flush()
            elif isinstance(event, ReasoningDelta):
                if args.show_reasoning and not args.json:
                    sys.stderr.write(event.text)
                    sys.stderr.flush()
                    state["reasoning_shown"] = True
            elif isinstance(event, Retrying):
                print(f"agentspace-tui: {event.message}", file=sys.stderr)
            elif isinstance(event, ReplyFinished):
                state["reply"] = event.reply

    interrupted = False
    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        interrupted = True
    reply = state["reply"]
    if reply is None:  # interrupted before anything was stored
        if interrupted:
            print("\nagentspace-tui: interrupted", file=sys.stderr)
            return EXIT_INTERRUPTED
        raise CliError("no reply")
    if interrupted:
        reply = services.store.get_messages(state["session"]["id"])[-1]
    status = reply.get("status")
    session_usage = services.store.usage(state["session"]["id"])
    if args.json:
        _print_json(_ask_json(state["session"]["id"], reply))
    else:
        if reply.get("content") and not reply["content"].endswith("\n"):
            out.write("\n")
            out.flush()
        if state["reasoning_shown"]:
            sys.stderr.write("\n")
        total = session_usage["total"]
        unknown = " (+ unknown)" if total.get("unknown_cost") else ""
        print(
            f"[{reply_summary(reply)} · session {state['session']['id']} total {format_cost(total.get('cost'))}{unknown}]",
            file=sys.stderr,
        )
        if reply.get("error"):
            print(f"agentspace-tui: {reply['error']}", file=sys.stderr)
    notice = outcome_notice(reply)
    if notice:  # truncated, refused, filtered or a tool call: the reply is not what was asked for
        print(f"agentspace-tui: {notice}", file=sys.stderr)
    if interrupted or status == "cancelled":
        return EXIT_INTERRUPTED
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
            try:
                Path(args.output).expanduser().write_text(text, encoding="utf-8")
            except OSError as exc:
                raise CliError(f"cannot write {args.output}: {exc.strerror or exc}") from None
            print(f"exported {session['id']} to {args.output}", file=sys.stderr)
        else:
            sys.stdout.write(text)
    elif args.action == "rename":
        if not args.title.strip():
            raise CliError("a title cannot be empty", EXIT_USAGE)
        store.update_session(session["id"], title=args.title.strip())
        print(f"renamed {session['id']} to {args.title.strip()!r}")
    elif args.action == "delete":
        store.delete_session(session["id"])
        print(f"deleted {session['id']} ({session.get('title')}); its spending stays in `agentspace-tui usage`")
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
def cmd_pricing(args) -> int:
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
        values = [args.input, args.output, args.cache_read, args.cache_write]
        if any(v is not None and (v < 0 or v != v or v == float("inf")) for v in values):
            raise CliError("prices must be finite numbers >= 0 (USD per million tokens)", EXIT_USAGE)
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
