"""``agentspace-tui ask --compare MODEL``: the current model and MODEL answer the prompt at once.

Both stream concurrently (services/compare.py); nothing is interleaved on the terminal: when both have ended,
each answer is printed in full in a fixed order (the current model first, then MODEL), under a label line, then
a summary table (model, cost, TTFT, tok/s, tokens in/out, status). ``--json`` prints one object with both
replies and the summary. In a session (``-s``/``-c``) the current model's reply stays the active branch; the
other is stored as its alternative. Exit 0 when at least one answer completed, 4 when both failed.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import TYPE_CHECKING, Any

from ..formatting import format_cost, format_tokens, table
from ..text_safety import for_terminal
from .exits import EXIT_INTERRUPTED, EXIT_OK, EXIT_PROVIDER, EXIT_USAGE, CliError
from .output import print_json, say

if TYPE_CHECKING:
    from ..services.chat_session import ChatSession
    from ..services.compare import Lane
    from ..services.params import ModelParams


def summary_rows(lanes: list[Lane]) -> list[list[str]]:
    rows = []
    for lane in lanes:
        row = lane.summary()
        rows.append([
            for_terminal(lane.model), format_cost(row["cost"]),
            f"{row['ttft']:.2f} s" if row["ttft"] is not None else "-",
            f"{row['tokens_per_s']:.0f}" if row["tokens_per_s"] is not None else "-",
            format_tokens(row["input_tokens"]), format_tokens(row["output_tokens"]), lane.status,
        ])
    return rows


def ask_compare(args: argparse.Namespace, conversation: ChatSession, prompt: str, params: ModelParams) -> int:
    from ..services.api import ConfigError
    from ..services.chat import BusyError
    from ..services.compare import CompareService
    from ..services.core import NotFoundError

    if args.regenerate:
        raise CliError("--compare sends a new prompt: it cannot be used with --regenerate", EXIT_USAGE)
    service = CompareService(conversation.chat)
    model_id = args.ask_model or conversation.model.id

    async def run() -> None:
        async for _ in service.compare(
            prompt, conversation.session_id, args.compare, model_id=model_id, system_prompt=args.system,
            params=params.as_dict(), inspector=conversation.inspector,
        ):
            pass

    interrupted = False
    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        interrupted = True
    except (ConfigError, BusyError, NotFoundError) as exc:
        raise CliError(str(exc).splitlines()[0]) from None
    lanes = service.lanes
    sid = service.session_id
    if args.json:
        print_json({
            "session_id": sid,
            "replies": [{**lane.summary(), "text": lane.text} for lane in lanes],
            "summary": [lane.summary() for lane in lanes],
        })
    else:
        for lane in lanes:
            label = "current model" if lane.index == 0 else "compared with"
            print(f"== {for_terminal(lane.model)} ({label}) ==")
            if lane.text:
                print(for_terminal(lane.text).rstrip("\n"))
            if lane.error:
                print(f"[{lane.status}: {for_terminal(str(lane.error).splitlines()[0])}]")
            print()
        print(table(["model", "cost", "TTFT", "tok/s", "in", "out", "status"], summary_rows(lanes), right={1, 2, 3, 4, 5}))
        if sid:
            say(f"[session {sid}: the {lanes[0].model} reply is active; the other is an alternative]")
    if interrupted or any(lane.status == "cancelled" for lane in lanes):
        return EXIT_INTERRUPTED
    return EXIT_OK if any(lane.status == "complete" for lane in lanes) else EXIT_PROVIDER


__all__: list[Any] = ["ask_compare", "summary_rows"]
