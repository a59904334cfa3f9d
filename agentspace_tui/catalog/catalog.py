"""The model catalog: litellm's bundled map + discovered Ollama models + configured endpoints."""

from __future__ import annotations

import difflib
import os
from dataclasses import replace
from typing import Any

from .models import ModelError, ModelInfo, catalog_entries, check_model_id, info_from_entry, split_id
from .ollama import OllamaModel, discover, normalize_host, show_model
from .providers import ProviderSpec

# order used to resolve a bare name that several providers know
RESOLVE_ORDER = ("openai", "anthropic", "gemini", "mistral", "deepseek", "xai", "groq", "openrouter", "ollama")


def provider_api_base(spec: ProviderSpec, *, from_env: bool = True) -> str | None:
    """Base URL: the provider's env var (OPENAI_BASE_URL, ANTHROPIC_BASE_URL, OLLAMA_HOST), then config/preset."""
    if from_env and spec.base_env:
        value = os.environ.get(spec.base_env, "").strip()
        if value:
            return normalize_host(value) if spec.litellm_prefix == "ollama_chat" else value.rstrip("/")
    return spec.api_base


def ollama_canonical(name: str) -> str:
    """Ollama's implicit tag: "llama3.2" and "llama3.2:latest" are one model, known by its short name."""
    short = name.removesuffix(":latest")
    return short if short and not short.endswith((":", "/")) else name


class Catalog:
    def __init__(self, providers: dict[str, ProviderSpec], ollama_models: list[OllamaModel] | None = None):
        self.providers = providers
        self.ollama_models: list[OllamaModel] = list(ollama_models or [])
        self._entries: dict[str, dict[str, dict[str, Any]]] = {}
        self._ollama_discovered = bool(self.ollama_models)
        self._ollama_shown: dict[tuple[str, str], OllamaModel | None] = {}

    # -- discovery -------------------------------------------------------------------------------------
    def discover_ollama(self, timeout: float = 1.0) -> list[OllamaModel]:
        spec = self.providers.get("ollama")
        if spec is None:
            return []
        self.ollama_models = discover(provider_api_base(spec) or "http://localhost:11434", timeout)
        self._ollama_discovered = True
        return self.ollama_models

    # -- lookups ---------------------------------------------------------------------------------------
    def entries(self, provider: str) -> dict[str, dict[str, Any]]:
        if provider not in self._entries:
            self._entries[provider] = catalog_entries(self.providers[provider])
        return self._entries[provider]

    def _ollama_lookup(self, name: str) -> OllamaModel | None:
        for model in self.ollama_models:
            if model.name == name or model.name == f"{name}:latest" or model.name.removesuffix(":latest") == name:
                return model
        return None

    def _ollama_show(self, spec: ProviderSpec, name: str) -> OllamaModel | None:
        """One model asked of Ollama itself (``/api/show``) when discovery has not run: the window is then the
        same as after discovery. Asked once per name; a short timeout, nothing when Ollama is not running."""
        key = (spec.name, name)
        if key not in self._ollama_shown:
            base = provider_api_base(spec) or "http://localhost:11434"
            self._ollama_shown[key] = show_model(base, name, timeout=0.5)
        return self._ollama_shown[key]

    def _info(self, spec: ProviderSpec, name: str) -> ModelInfo:
        if spec.litellm_prefix == "ollama_chat":
            name = ollama_canonical(name)
            found = self._ollama_lookup(name)
            if found is None and not spec.custom and not self._ollama_discovered:
                found = self._ollama_show(spec, name)
            info = info_from_entry(spec, name, {"max_input_tokens": found.context_window} if found else None)
            return replace(info, capabilities=found.capabilities) if found else info
        return info_from_entry(spec, name, self.entries(spec.name).get(name))

    def resolve(self, model_id: str) -> ModelInfo:
        if not model_id or not model_id.strip():
            raise ModelError("no model given")
        model_id = check_model_id(model_id)
        provider, name = split_id(model_id, self.providers)
        if provider is not None:
            return self._info(self.providers[provider], name)
        if ":" in name and name.split(":", 1)[0] not in self.providers and not self._ollama_lookup(name):
            head = name.split(":", 1)[0]
            raise ModelError(
                f"unknown provider {head!r} in {model_id!r}; known: {', '.join(sorted(self.providers))}"
            )
        for pname in list(RESOLVE_ORDER) + sorted(set(self.providers) - set(RESOLVE_ORDER)):
            spec = self.providers.get(pname)
            if spec is None:
                continue
            found = self._ollama_lookup(name) if spec.litellm_prefix == "ollama_chat" else None
            if found is not None:
                return self._info(spec, found.name)
            if name in spec.models or name in self.entries(pname):
                return self._info(spec, name)
        suggestions = difflib.get_close_matches(name, self.known_names(), n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join(suggestions)}?" if suggestions else "; see `agentspace-tui models`"
        raise ModelError(f"unknown model {model_id!r}{hint}")

    def known_names(self) -> list[str]:
        names: list[str] = []
        for pname, spec in self.providers.items():
            names.extend(self.entries(pname))
            names.extend(spec.models)
        names.extend(m.name for m in self.ollama_models)
        return names

    def models(self, provider: str | None = None) -> list[ModelInfo]:
        """Every chat model we know, grouped by provider in a stable order."""
        out: list[ModelInfo] = []
        for pname, spec in self.providers.items():
            if provider and pname != provider:
                continue
            if spec.litellm_prefix == "ollama_chat" and not spec.custom:
                out.extend(self._info(spec, m.name) for m in self.ollama_models)
                continue
            names = list(dict.fromkeys(list(spec.models) + sorted(self.entries(pname))))
            out.extend(self._info(spec, n) for n in names)
        return out
