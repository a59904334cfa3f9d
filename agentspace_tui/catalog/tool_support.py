"""Whether a model takes tool calls, as far as we know before asking it.

True / False only when a source says so: Ollama's ``/api/show`` ``capabilities`` for Ollama models, litellm's
model map (``supports_function_calling``) for the built-in cloud providers' models. Everything else
(configured OpenAI-compatible endpoints, local servers, models the map does not describe) is None: send the
tools, and let the provider's error (``StreamError`` kind ``"no_tools"``) say otherwise.
"""

from __future__ import annotations

from .litellm_map import model_map
from .models import ModelInfo
from .providers import BUILTIN_PROVIDERS

__all__ = ["supports_tools"]

OLLAMA_PREFIXES = ("ollama_chat", "ollama")


def supports_tools(info: ModelInfo) -> bool | None:
    """True / False when known, None when unknown (see the module docstring)."""
    prefix, _, name = info.litellm_model.partition("/")
    if prefix in OLLAMA_PREFIXES:
        return None if info.capabilities is None else "tools" in info.capabilities
    if info.capabilities is not None:  # a server that told us itself
        return "tools" in info.capabilities
    spec = BUILTIN_PROVIDERS.get(info.provider)
    if spec is None or spec.local or not spec.catalog_provider or spec.litellm_prefix != prefix:
        return None  # a configured endpoint: the same model name may be served without tools
    catalog = spec.catalog_provider
    entries = model_map()
    for key in (f"{catalog}/{name}", name):
        entry = entries.get(key)
        if entry is not None and entry.get("litellm_provider") == catalog:
            value = entry.get("supports_function_calling")
            return value if isinstance(value, bool) else None
    return None
