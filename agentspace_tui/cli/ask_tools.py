"""Tool calls in ``ask``: who confirms them, and the lines that report them on stderr.

A tool runs only when someone agreed: ``--approve-tools`` agrees to every call of this run, a terminal is asked
call by call ("y" once, "a" always in this session, anything else declines), and with neither (a script, a pipe)
the call is declined and the model is told so.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from ..domain import ToolCallRecord
from ..formatting import one_line
from ..services.tool_loop import NO_APPROVER, Approve, Decision, ToolCallFinished, ToolCallStarted, ToolsNotice
from ..text_safety import for_terminal
from .output import say

ARGUMENTS_SHOWN = 200


def call_line(call: ToolCallRecord) -> str:
    """``files__read_file({"path": "a.txt"})``, shortened and made printable."""
    args = str(call.get("arguments") or "")
    if len(args) > ARGUMENTS_SHOWN:
        args = args[:ARGUMENTS_SHOWN] + "…"
    return for_terminal(one_line(f"{call.get('name') or '?'}({args})"))


def approver(args: argparse.Namespace) -> Approve | None:
    if getattr(args, "approve_tools", False):
        async def always(call: ToolCallRecord) -> Decision:
            return "run"

        return always
    if not (sys.stdin.isatty() and sys.stderr.isatty()):
        return None

    async def ask(call: ToolCallRecord) -> Decision:
        say(f"agentspace-tui: the model wants to run {call_line(call)}")
        sys.stderr.write("run it? [y]es / [a]lways in this session / [N]o: ")
        sys.stderr.flush()
        answer = (await asyncio.to_thread(sys.stdin.readline)).strip().lower()
        return "run" if answer in ("y", "yes") else "always" if answer in ("a", "always") else "deny"

    return ask


def report(event: ToolCallStarted | ToolCallFinished | ToolsNotice) -> None:
    if isinstance(event, ToolsNotice):
        say(f"agentspace-tui: {for_terminal(one_line(event.message))}")
    elif isinstance(event, ToolCallFinished):
        call = event.call
        status = call.get("status")
        took = f" in {call['duration']:.1f} s" if call.get("duration") is not None else ""
        result = for_terminal(one_line(str(call.get("result") or "")))
        shown = result if len(result) <= 80 else result[:79] + "…"
        say(f"agentspace-tui: ⚙ {call_line(call)} → {status}{took}: {shown}")
        if call.get("result") == NO_APPROVER:
            say("agentspace-tui: tools run only when confirmed: pass --approve-tools to run them from a script")
