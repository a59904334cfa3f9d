"""What the UI layer may use from the core, in one place: ``ui/`` imports core names only from ``services``
(checked by tests/test_import_contracts.py), so the core can be reshaped without touching widgets.

Importing this module loads the core (settings, catalog, tokens, context); the app imports it lazily, after
the first paint, except where a widget needs a name at import time.
"""

from __future__ import annotations

from ..catalog.models import ID_RULE, ModelError, ModelInfo, check_model_id
from ..catalog.providers import BUILTIN_PROVIDERS, ProviderStatus
from ..config import keys as keystore
from ..config.settings import DEFAULT_MODEL, ConfigError, load_settings
from ..context import ContextInspector, Inspection, failed_before_text
from ..providers.events import ReasoningDelta, RefusalDelta, Retrying, TextDelta, ToolCallRequest
from ..providers.stream import warm_up
from ..tokens import count, encoding_for, is_exact

__all__ = [
    "BUILTIN_PROVIDERS", "DEFAULT_MODEL", "ID_RULE", "ConfigError", "ContextInspector", "Inspection", "ModelError",
    "ModelInfo", "ProviderStatus", "ReasoningDelta", "RefusalDelta", "Retrying", "TextDelta", "ToolCallRequest",
    "check_model_id", "count", "encoding_for", "failed_before_text", "is_exact", "keystore", "load_settings",
    "warm_up",
]
