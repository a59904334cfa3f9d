"""Model ids and the catalog: ``provider:model`` ids, resolution of bare names, and what we know per model."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..catalog.providers import ProviderSpec
from .litellm_map import model_map


class ModelError(Exception):
    """An unknown or malformed model id, with a one-line message (and suggestions where we have them)."""


MAX_ID_LENGTH = 200
# provider and model name: ASCII letters, digits and . _ : / @ + -  (Ollama's "hf.co/user/model:Q4_K_M",
# OpenRouter's "meta-llama/llama-3.1-8b-instruct:free"); no spaces, brackets, quotes or control characters
_ID_RE = re.compile(r"[A-Za-z0-9._:/@+-]+")
ID_RULE = f"use only ASCII letters, digits and . _ : / @ + - (at most {MAX_ID_LENGTH} characters)"


def shown_id(model_id: str, limit: int = 60) -> str:
    """A model id quoted for a one-line message: repr escapes controls and lone surrogates, long ids are cut."""
    cut = model_id if len(model_id) <= limit else model_id[:limit] + "…"
    return repr(cut)


def check_model_id(model_id: str) -> str:
    """``model_id`` without surrounding spaces, or ModelError when it has characters no model id has.

    Ids are shown in titles, toasts and tables and stored with the session: refusing them here, where every
    id is resolved, keeps markup (``[/]``) and control sequences out of all of them."""
    text = model_id.strip()
    if len(text) > MAX_ID_LENGTH or not _ID_RE.fullmatch(text):
        raise ModelError(f"invalid model id {shown_id(text)}: {ID_RULE}")
    return text


@dataclass(frozen=True)
class ModelInfo:
    id: str  # "anthropic:claude-sonnet-4-5"
    provider: str
    name: str  # the model name the provider knows: "claude-sonnet-4-5"
    litellm_model: str  # what litellm gets: "anthropic/claude-sonnet-4-5"
    context_window: int | None
    max_output: int | None
    input_per_mtok: float | None  # catalog prices (USD per million tokens); None: unknown
    output_per_mtok: float | None
    cache_read_per_mtok: float | None
    cache_write_per_mtok: float | None
    local: bool = False
    capabilities: tuple[str, ...] | None = None  # what Ollama's /api/show says the model can do; None: not said


def _per_mtok(value: float | str | None) -> float | None:
    if value is None:
        return None
    try:
        return round(float(value) * 1_000_000, 6)
    except (TypeError, ValueError):
        return None


def _map_key_name(key: str, prefix: str) -> str:
    return key[len(prefix) + 1 :] if key.startswith(prefix + "/") else key


def info_from_entry(spec: ProviderSpec, name: str, entry: dict[str, Any] | None) -> ModelInfo:
    entry = entry or {}
    window = entry.get("max_input_tokens") or entry.get("max_tokens") or spec.context_window
    local = spec.local
    return ModelInfo(
        id=f"{spec.name}:{name}",
        provider=spec.name,
        name=name,
        litellm_model=f"{spec.litellm_prefix}/{name}",
        context_window=int(window) if window else None,
        max_output=int(entry["max_output_tokens"]) if entry.get("max_output_tokens") else None,
        input_per_mtok=0.0 if local else _per_mtok(entry.get("input_cost_per_token")),
        output_per_mtok=0.0 if local else _per_mtok(entry.get("output_cost_per_token")),
        cache_read_per_mtok=0.0 if local else _per_mtok(entry.get("cache_read_input_token_cost")),
        cache_write_per_mtok=0.0 if local else _per_mtok(entry.get("cache_creation_input_token_cost")),
        local=local,
    )


def catalog_entries(spec: ProviderSpec) -> dict[str, dict[str, Any]]:
    """Chat models of one provider in litellm's map, by model name."""
    if not spec.catalog_provider:
        return {}
    out: dict[str, dict[str, Any]] = {}
    for key, entry in model_map().items():
        if entry.get("litellm_provider") != spec.catalog_provider or entry.get("mode") != "chat":
            continue
        if key.startswith("ft:"):
            continue
        out[_map_key_name(key, spec.catalog_provider)] = entry
    return out


def split_id(model_id: str, providers: dict[str, ProviderSpec]) -> tuple[str | None, str]:
    """'openai:gpt-4o' / 'openai/gpt-4o' -> ('openai', 'gpt-4o'); a bare name -> (None, name)."""
    model_id = model_id.strip()
    for sep in (":", "/"):
        head, found, tail = model_id.partition(sep)
        if found and head in providers and tail:
            return head, tail
    return None, model_id
