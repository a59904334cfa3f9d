"""Tool calls inside one reply: offer the session's tools, run what the model asks for once the user agrees,
send the results back, and let the model go on -- every request of the reply billed as part of it.

``ChatService._run`` streams a round; when it ends asking for tools, ``ToolLoop.run_round`` asks the caller's
``approve`` for each call (unless the session always allows that tool), runs it through the MCP hub, records it
on the reply (``ToolCallRecord``) and appends the assistant turn and the results to the request for the next
round. A model the catalog says cannot call tools gets none, with a notice instead of a failed request.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from ..catalog.models import ModelInfo
from ..context.tool_history import result_message
from ..domain import SessionRecord, ToolCallRecord, ToolCallStatus, ToolRound
from ..pricing import Price, Usage, reply_cost_with_source
from ..providers.events import ToolCallRequest, UsageReport
from ..providers.tool_messages import assistant_with_calls
from . import tools as tool_choice
from .reply_saving import ReplyState

if TYPE_CHECKING:
    from ..toolservers.specs import ToolSpec
    from .core import Services

MAX_ROUNDS = 10  # requests per reply: a model that keeps calling tools is stopped here
RESULT_SHOWN = 100_000  # characters of a result kept (the hub caps results too)

Decision = Literal["run", "always", "deny"]
Approve = Callable[[ToolCallRecord], Awaitable[Decision]]

DENIED = "The user declined to run this tool."
NO_APPROVER = "Not run: tool calls need confirmation, and nobody could be asked."


@dataclass(frozen=True)
class ToolCallStarted:
    """A tool call the model asked for, shown with its arguments before it runs (``status`` "requested")."""

    call: ToolCallRecord


@dataclass(frozen=True)
class ToolCallFinished:
    """The call ran, failed or was declined: ``call`` has its status, result and duration."""

    call: ToolCallRecord


@dataclass(frozen=True)
class ToolsNotice:
    """One line about the reply's tools (a server that failed to start, a model without tool support)."""

    message: str


def _arguments(text: str) -> dict[str, Any] | str:
    """The model's argument JSON as a dict, or one line saying why it is not one."""
    try:
        value = json.loads(text or "{}")
    except json.JSONDecodeError as exc:
        return f"the arguments are not valid JSON ({exc.msg} at character {exc.pos})"
    if not isinstance(value, dict):
        return "the arguments are not a JSON object"
    return value


def _settle(record: ToolCallRecord, status: ToolCallStatus, result: str, duration: float | None = None) -> None:
    record["status"], record["result"], record["duration"] = status, result, duration


def _add_usage(a: Usage | None, b: Usage) -> Usage:
    if a is None:
        return b
    return Usage(a.input_tokens + b.input_tokens, a.output_tokens + b.output_tokens,
                 a.cache_read_tokens + b.cache_read_tokens, a.cache_write_tokens + b.cache_write_tokens,
                 a.reasoning_tokens + b.reasoning_tokens)


class ToolLoop:
    """The tools of one reply. ``specs`` empty: the reply has no tools (the loop does nothing)."""

    def __init__(
        self, services: Services, session: SessionRecord, approve: Approve | None, price: Price | None
    ) -> None:
        self.services, self.session, self.approve, self.price = services, session, approve, price
        self.specs: list[ToolSpec] = []
        self.notices: list[str] = []
        self.round = 1
        self.rounds: list[ToolRound] = []
        self._reports: list[UsageReport | None] = []
        self._text_start = 0  # where the current round's text begins in the reply's text

    async def offer(self, info: ModelInfo) -> list[dict[str, Any]] | None:
        """Start the session's tool servers and return the tool definitions to send (None: no tools)."""
        toolbox = self.services.tools
        if not toolbox.configured:
            return None
        tools = self.session.get("tools")
        if not tool_choice.servers_in_use(toolbox.servers, tools):
            return None
        from ..catalog.tool_support import supports_tools

        if supports_tools(info) is False:
            self.notices.append(f"{info.id} does not support tool calls: this reply is sent without tools")
            return None
        specs, errors = await toolbox.for_session(tools)
        self.notices.extend(errors.values())
        self.specs = specs
        return tool_choice.functions(specs)

    @property
    def active(self) -> bool:
        return bool(self.specs)

    def wants_another_round(self, state: ReplyState, calls: Sequence[ToolCallRequest]) -> bool:
        if not (self.active and calls and state.status == "complete" and state.finish_reason == "tool_calls"):
            return False
        if self.round >= MAX_ROUNDS:
            state.error = f"stopped after {MAX_ROUNDS} requests of tool calls in one reply"
            return False
        return True

    def close_round(self, state: ReplyState, report: UsageReport | None) -> None:
        """Fold one request's usage into the reply's: every round trip is billed as part of the reply."""
        usage = report.usage if report is not None else None
        cost, _ = reply_cost_with_source(self.price, usage, report.cost if report is not None else None)
        self.rounds.append({"usage": usage.as_dict() if usage else None,
                            "usage_source": report.source if report is not None else None, "cost": cost})
        self._reports.append(report)
        if report is None:
            return
        state.usage = _add_usage(state.usage, report.usage)
        if len(self._reports) == 1 or report.source == "estimated":
            state.usage_source = report.source
        # the provider's own bill counts only when it sent one for every round (else the price list prices all)
        costs = [r.cost if r is not None else None for r in self._reports]
        state.provider_cost = None if None in costs else sum(c for c in costs if c is not None)

    async def run_round(
        self, state: ReplyState, calls: Sequence[ToolCallRequest], messages: list[dict[str, Any]]
    ) -> AsyncIterator[ToolCallStarted | ToolCallFinished]:
        """Run one round's calls in order (each after its confirmation) and append the assistant turn and the
        results to ``messages``. A cancellation marks the running call "cancelled" and propagates."""
        by_name = {spec.name: spec for spec in self.specs}
        offset = sum(len(p) for p in state.parts)
        text = "".join(state.parts)[self._text_start:]
        records: list[ToolCallRecord] = []
        for call in calls:
            spec = by_name.get(call.name)
            record: ToolCallRecord = {
                "id": call.id or f"call_{secrets.token_hex(6)}", "name": call.name,
                "server": spec.server if spec else None, "tool": spec.tool if spec else None,
                "arguments": call.arguments or "{}", "round": self.round, "offset": offset,
                "status": "requested", "result": None, "duration": None,
            }
            records.append(record)
            state.tool_calls.append(record)  # type: ignore[arg-type]  # stored as plain dicts
        for record in records:
            yield ToolCallStarted(dict(record))  # type: ignore[arg-type]
            try:
                await self._run_one(record, by_name.get(record["name"]))
            except asyncio.CancelledError:
                _settle(record, "cancelled", "The user stopped the reply before the tool finished.")
                raise
            yield ToolCallFinished(dict(record))  # type: ignore[arg-type]
        messages.append(assistant_with_calls(text, list(records)))
        messages.extend(result_message(r) for r in records)
        self._text_start = offset
        self.round += 1

    async def _run_one(self, record: ToolCallRecord, spec: ToolSpec | None) -> None:
        if spec is None:
            names = ", ".join(sorted(s.name for s in self.specs)) or "none"
            _settle(record, "unavailable", f"No tool named {record['name']!r} is enabled (enabled: {names}).")
            return
        args = _arguments(record.get("arguments") or "")
        if isinstance(args, str):
            _settle(record, "error", f"Not run: {args}.")
            return
        if not await self._allowed(record):
            return
        started = time.monotonic()
        outcome = await self.services.tools.call(spec, args)
        text = outcome.text if len(outcome.text) <= RESULT_SHOWN else outcome.text[:RESULT_SHOWN] + "\n[… cut]"
        _settle(record, "error" if outcome.is_error else "ok", text,
                round(time.monotonic() - started, 3))

    async def _allowed(self, record: ToolCallRecord) -> bool:
        name = record["name"]
        tools = self.session.get("tools")
        if tool_choice.always_allowed(tools, name):
            return True
        if self.approve is None:
            _settle(record, "denied", NO_APPROVER)
            return False
        decision = await self.approve(record)
        if decision == "deny":
            _settle(record, "denied", DENIED)
            return False
        if decision == "always":
            updated = tool_choice.with_always_allow(tools, name)
            self.session = await asyncio.to_thread(
                self.services.store.update_session, self.session["id"], tools=updated
            )
        return True
