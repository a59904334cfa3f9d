"""``ask``'s spending controls, before anything is sent or stored: the forecast line, budget warnings, and the
refusal (exit 5) when a budget is used up (``--over-budget`` sends once anyway) or the forecast is above
``confirm_above`` (``--yes`` sends)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ..text_safety import for_terminal
from .exits import EXIT_REFUSED, CliError
from .output import say

if TYPE_CHECKING:
    from ..services.chat_session import ChatSession
    from ..services.forecast import Forecast
    from ..services.params import ModelParams


def preflight(args: argparse.Namespace, conversation: ChatSession, prompt: str, params: ModelParams) -> Forecast:
    """The request's forecast, said on stderr (unless ``--json``), after the gate let it through.
    Raises CliError(exit 5) when a hold is not overridden: nothing has been sent or stored then."""
    from ..services.forecast import forecast_request
    from ..services.send_gate import check_request

    services = conversation.services
    forecast = forecast_request(services, conversation, prompt, model_id=args.ask_model,
                                max_output_tokens=params.max_tokens)
    gate = check_request(services.settings, services.store, forecast)
    quiet: bool = args.json
    for warning in gate.warnings:
        say(f"agentspace-tui: warning: {for_terminal(warning)}")
    held = gate.held(over_budget=args.over_budget, confirmed=args.yes)
    if held:
        first, also = held[0], "".join(f"; also needs {h.flag}" for h in held[1:] if h.flag != held[0].flag)
        raise CliError(f"refused: {for_terminal(first.message)} with {first.flag}{also}", EXIT_REFUSED)
    for hold in gate.holds:  # overridden: said, not hidden
        say(f"agentspace-tui: sending anyway ({hold.flag}): {for_terminal(hold.message)}")
    if not quiet:
        say(f"[forecast: {forecast.describe()}]")
    return forecast
