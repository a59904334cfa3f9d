"""Which of the requested model parameters really went out: litellm maps them to each provider's names and, for
models that reject one (OpenAI's reasoning models take no temperature or top-p), drops it silently. The request
body on the wire is the truth, so a reply records what was sent and says what was not."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

# where each parameter sits in each wire format's request body
_PLACES: dict[str, tuple[tuple[str, ...], ...]] = {
    "temperature": (("temperature",), ("options", "temperature"), ("generationConfig", "temperature")),
    "top_p": (("top_p",), ("options", "top_p"), ("generationConfig", "topP")),
    "max_tokens": (
        ("max_tokens",), ("max_completion_tokens",), ("max_output_tokens",), ("options", "num_predict"),
        ("generationConfig", "maxOutputTokens"),
    ),
}


def _find(body: Mapping[str, Any], path: tuple[str, ...]) -> object:
    node: object = body
    for key in path:
        if not isinstance(node, Mapping) or key not in node:
            return None
        node = node[key]
    return node


def sent_params(body: bytes, requested: Mapping[str, float | int]) -> tuple[dict[str, float | int], tuple[str, ...]]:
    """(the requested parameters found in the request ``body``, the names of those that were not sent).
    A body that is not JSON (or empty) proves nothing: everything requested counts as sent."""
    try:
        parsed = json.loads(body) if body else None
    except (ValueError, UnicodeDecodeError):
        parsed = None
    if not isinstance(parsed, Mapping):
        return dict(requested), ()
    sent: dict[str, float | int] = {}
    dropped: list[str] = []
    for name in requested:
        found = next((v for v in (_find(parsed, p) for p in _PLACES.get(name, ((name,),))) if v is not None), None)
        if isinstance(found, int | float) and not isinstance(found, bool):
            sent[name] = found
        else:
            dropped.append(name)
    return sent, tuple(dropped)
