"""The command line's arguments: global options (open the TUI on a model or session) and the subcommands."""

from __future__ import annotations

import argparse

from .. import __version__


def build_parser() -> argparse.ArgumentParser:
    """Every option and subcommand; dispatching is main.py's."""
    p = argparse.ArgumentParser(
        prog="agentspace-tui",
        description="A terminal chat client for LLMs that shows what you are about to send, what it will cost "
        "and what you have spent. With no command, opens the full-screen app.",
    )
    p.add_argument("--version", action="version", version=f"agentspace-tui {__version__}")
    p.add_argument("-m", "--model", help="model id, e.g. anthropic:claude-sonnet-4-5 (default from config.toml)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("-s", "--session", help="open this session (id or unique id prefix)")
    g.add_argument("-c", "--continue", dest="cont", action="store_true", help="continue the latest session")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    a = sub.add_parser("ask", help="send a prompt, stream the reply to stdout", description="Send a prompt and "
                       "stream the reply to stdout; a one-line summary goes to stderr.")
    a.add_argument("prompt", nargs="?", default=None, help="the prompt; '-' (or nothing, with a pipe) reads stdin")
    a.add_argument("-m", "--model", dest="ask_model", help="model id (provider:model or a bare name)")
    ag = a.add_mutually_exclusive_group()
    ag.add_argument("-s", "--session", dest="ask_session", help="continue this session")
    ag.add_argument("-c", "--continue", dest="ask_cont", action="store_true", help="continue the latest session")
    a.add_argument("--system", help="system prompt for this session")
    a.add_argument("--temperature", help="sampling temperature for this request (0..2; the session's own otherwise)")
    a.add_argument("--top-p", dest="top_p", help="nucleus sampling for this request (above 0, up to 1)")
    a.add_argument("--max-tokens", dest="max_tokens", help="most output tokens for this request")
    a.add_argument("--regenerate", action="store_true", help="answer the session's last message again (with -s "
                   "or -c, no prompt): the earlier reply is kept as an alternative")
    a.add_argument("--compare", metavar="MODEL", help="also send the prompt to MODEL, at the same time; print both "
                   "answers and a summary (cost, TTFT, tok/s) when both ended")
    a.add_argument("--json", action="store_true", help="print one JSON object at the end instead of streaming")
    a.add_argument("--show-reasoning", action="store_true",
                   help="stream the model's reasoning (thinking) to stderr as it arrives")
    a.add_argument("--raw", action="store_true",
                   help="write the model's text byte for byte; by default control characters (terminal escape "
                   "sequences) are shown as visible symbols so model text cannot drive your terminal")
    a.add_argument("--over-budget", dest="over_budget", action="store_true",
                   help="send once even though a budget is used up (otherwise refused with exit 5)")
    a.add_argument("--approve-tools", dest="approve_tools", action="store_true",
                   help="run the MCP tools the model calls without asking (otherwise a terminal is asked per call, "
                   "and a script's calls are declined)")
    a.add_argument("-y", "--yes", action="store_true",
                   help="send even though the forecast is above confirm_above (otherwise refused with exit 5)")

    m = sub.add_parser("models", help="list the models in the catalog", description="List chat models: "
                       "litellm's catalog, local Ollama models and configured endpoints.")
    m.add_argument("--provider", help="only this provider")
    m.add_argument("--json", action="store_true")

    s = sub.add_parser("sessions", help="list, show, export, rename, delete sessions")
    ss = s.add_subparsers(dest="action", metavar="ACTION", required=True)
    sl = ss.add_parser("list", help="list sessions, newest first")
    sl.add_argument("--json", action="store_true")
    sh = ss.add_parser("show", help="print a session's transcript")
    sh.add_argument("id")
    se = ss.add_parser("export", help="export a session as Markdown or JSON")
    se.add_argument("id")
    se.add_argument("--format", choices=["md", "json"], default="md")
    se.add_argument("-o", "--output", help="write to this file instead of stdout (created private, mode 0600)")
    se.add_argument("--force", action="store_true", help="replace the output file if it exists")
    sr = ss.add_parser("rename", help="rename a session")
    sr.add_argument("id")
    sr.add_argument("title")
    sd = ss.add_parser("delete", help="delete a session (its spending stays in usage)")
    sd.add_argument("id")

    u = sub.add_parser("usage", help="tokens and cost per model", description="Tokens and cost per model, "
                       "as billed at the time of each reply.")
    u.add_argument("--session", help="only this session")
    u.add_argument("--today", action="store_true", help="only today")
    u.add_argument("--by", choices=["day", "model", "provider"],
                   help="group the ledger by day, model or provider (a table with cache savings; --json: a list)")
    u.add_argument("--since", metavar="YYYY-MM-DD", help="only from this local date on (implies --by model)")
    u.add_argument("--json", action="store_true")

    st = sub.add_parser("stats", help="provider speed and reliability per model (7 and 30 days)",
                        description="Per provider and model, from the stored replies: time to first token p50/p95, "
                        "output tokens/s p50, error and rate-limit rates, over the last 7 and 30 days.")
    st.add_argument("--days", type=int, choices=[7, 30], help="only this window (default: both)")
    st.add_argument("--json", action="store_true")

    c = sub.add_parser("context", help="what the next request would send, by section", description="Break the "
                       "next request of a session down by section: bytes, tokens, input cost, window share.")
    c.add_argument("session")
    c.add_argument("--model", dest="ctx_model", help="measure for this model instead of the session's")
    c.add_argument("--draft", default="", help="the message you are about to send")
    c.add_argument("--json", action="store_true")

    k = sub.add_parser("keys", help="API keys in the system keyring")
    ks = k.add_subparsers(dest="action", metavar="ACTION", required=True)
    kset = ks.add_parser("set", help="store a key in the keyring (read without echo, or from stdin)")
    kset.add_argument("provider")
    kl = ks.add_parser("list", help="where each provider's key comes from (never the key)")
    kl.add_argument("--json", action="store_true")
    kd = ks.add_parser("delete", help="remove a provider's key from the keyring")
    kd.add_argument("provider")

    b = sub.add_parser("budget", help="daily and monthly spending limits", description="Spending limits per "
                       "local day or calendar month, for all providers or one (--provider). Stored ones replace "
                       "config.toml's of the same period and provider.")
    bs = b.add_subparsers(dest="action", metavar="ACTION", required=True)
    bset = bs.add_parser("set", help="set a daily and/or monthly budget (USD)")
    bset.add_argument("--daily", metavar="USD", help="limit per local day")
    bset.add_argument("--monthly", metavar="USD", help="limit per calendar month")
    bset.add_argument("--provider", help="only this provider's spending (e.g. openai)")
    blist = bs.add_parser("list", help="budgets, where each comes from, spent, left, month-end projection")
    blist.add_argument("--json", action="store_true")
    bun = bs.add_parser("unset", help="remove a stored budget")
    bun.add_argument("--daily", action="store_true", help="the daily budget")
    bun.add_argument("--monthly", action="store_true", help="the monthly budget")
    bun.add_argument("--provider", help="the budget of this provider")

    pr = sub.add_parser("pricing", help="price overrides (USD per million tokens)")
    ps = pr.add_subparsers(dest="action", metavar="ACTION", required=True)
    pset = ps.add_parser("set", help="override a model's price")
    pset.add_argument("model")
    pset.add_argument("--input", type=float, required=True, help="USD per million input tokens")
    pset.add_argument("--output", type=float, required=True, help="USD per million output tokens")
    pset.add_argument("--cache-read", type=float, help="USD per million cache-read tokens")
    pset.add_argument("--cache-write", type=float, help="USD per million cache-write tokens")
    plist = ps.add_parser("list", help="list overrides")
    plist.add_argument("--json", action="store_true")
    pun = ps.add_parser("unset", help="remove an override")
    pun.add_argument("model")

    t = sub.add_parser("tools", help="MCP servers and their tools (start each, list, count their tokens)",
                       description="Start every MCP server of config.toml ([mcp.NAME] tables), list its tools and "
                       "the tokens their definitions add to every request (with no ACTION: list).")
    t.add_argument("--json", action="store_true")
    ts = t.add_subparsers(dest="action", metavar="ACTION")
    tl = ts.add_parser("list", help="each server's tools, their descriptions and token cost")
    tl.add_argument("--json", action="store_true", default=argparse.SUPPRESS)
    return p
