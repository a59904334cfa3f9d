"""What the UI layer may use from the core, in one place: ``ui/`` imports core names only from ``services``
(checked by tests/test_import_contracts.py), so the core can be reshaped without touching widgets.

Names load on first use (PEP 562 ``__getattr__``): importing this module costs nothing, and
``from agentspace_tui.services.api import load_settings`` loads only the settings module. So a widget or the
launcher can import a name at module level without pulling the whole core (catalog, tokens, context) in
before the first paint.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..catalog.models import ID_RULE, ModelError, ModelInfo, check_model_id
    from ..catalog.providers import BUILTIN_PROVIDERS, ProviderStatus
    from ..config import keys as keystore
    from ..config.settings import DEFAULT_MODEL, ConfigError, load_settings
    from ..context import ContextInspector, Inspection, failed_before_text
    from ..context.cache import CacheForecast
    from ..domain import MessageRecord, SessionRecord
    from ..providers.events import ParamsSent, ReasoningDelta, RefusalDelta, Retrying, TextDelta, ToolCallRequest
    from ..providers.litellm_setup import warm_up
    from ..tokens import count, encoding_for, is_exact
    from .budgets import BudgetStatus, budget_statuses, tightest
    from .forecast import Forecast, forecast_request, make_forecast
    from .send_gate import GateCheck, check_send

# where each name lives (relative to this package); ``keystore`` is the module itself
_HOMES: dict[str, str] = {
    "ID_RULE": "..catalog.models", "ModelError": "..catalog.models", "ModelInfo": "..catalog.models",
    "check_model_id": "..catalog.models",
    "BUILTIN_PROVIDERS": "..catalog.providers", "ProviderStatus": "..catalog.providers",
    "keystore": "..config.keys",
    "DEFAULT_MODEL": "..config.settings", "ConfigError": "..config.settings", "load_settings": "..config.settings",
    "ContextInspector": "..context", "Inspection": "..context", "failed_before_text": "..context",
    "CacheForecast": "..context.cache",
    "MessageRecord": "..domain", "SessionRecord": "..domain",
    "ReasoningDelta": "..providers.events", "RefusalDelta": "..providers.events", "Retrying": "..providers.events", "ParamsSent": "..providers.events",
    "TextDelta": "..providers.events", "ToolCallRequest": "..providers.events",
    "warm_up": "..providers.litellm_setup",
    "count": "..tokens", "encoding_for": "..tokens", "is_exact": "..tokens",
    "BudgetStatus": ".budgets", "budget_statuses": ".budgets", "tightest": ".budgets",
    "Forecast": ".forecast", "forecast_request": ".forecast", "make_forecast": ".forecast",
    "GateCheck": ".send_gate", "check_send": ".send_gate",
}

__all__ = [
    "BUILTIN_PROVIDERS", "DEFAULT_MODEL", "ID_RULE", "ConfigError", "ContextInspector", "Inspection",
    "MessageRecord", "ModelError", "ModelInfo", "ParamsSent", "ProviderStatus", "ReasoningDelta", "RefusalDelta", "Retrying",
    "SessionRecord", "TextDelta", "ToolCallRequest", "check_model_id", "count", "encoding_for", "failed_before_text",
    "is_exact", "keystore", "load_settings", "warm_up",
    "CacheForecast",
    "BudgetStatus", "Forecast", "GateCheck", "budget_statuses", "check_send", "forecast_request", "make_forecast",
    "tightest",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = importlib.import_module(home, __package__)
    value = module if name == "keystore" else getattr(module, name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
