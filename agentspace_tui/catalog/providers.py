"""Provider presets: how each provider maps onto litellm, where its key and base URL come from.

Configured endpoints (``[providers.NAME]`` in config.toml) extend or override these.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field, replace
from typing import Any

from ..domain import KeySource


@dataclass(frozen=True)
class ProviderSpec:
    name: str  # our id, the part before ":" in "openai:gpt-4o-mini"
    label: str
    litellm_prefix: str  # litellm's provider prefix: "openai", "anthropic", "ollama_chat", ...
    catalog_provider: str | None  # litellm_provider value in litellm's model map; None: no bundled models
    key_envs: tuple[str, ...] = ()  # the providers' usual env vars, first wins
    base_env: str | None = None  # env var for the base URL
    api_base: str | None = None  # default base URL (None: litellm's own default)
    local: bool = False  # runs on the user's machine: costs nothing, needs no key
    needs_key: bool = True
    models: tuple[str, ...] = ()  # models named in config (custom endpoints)
    context_window: int | None = None  # for configured models without catalog data
    custom: bool = False

    @property
    def key_env(self) -> str | None:
        return self.key_envs[0] if self.key_envs else None


BUILTIN_PROVIDERS: dict[str, ProviderSpec] = {
    spec.name: spec
    for spec in (
        ProviderSpec("openai", "OpenAI", "openai", "openai", ("OPENAI_API_KEY",), "OPENAI_BASE_URL"),
        ProviderSpec("anthropic", "Anthropic", "anthropic", "anthropic", ("ANTHROPIC_API_KEY",), "ANTHROPIC_BASE_URL"),
        ProviderSpec(
            "ollama", "Ollama (local)", "ollama_chat", None, (), "OLLAMA_HOST", "http://localhost:11434",
            local=True, needs_key=False,
        ),
        ProviderSpec("gemini", "Google Gemini", "gemini", "gemini", ("GEMINI_API_KEY", "GOOGLE_API_KEY")),
        ProviderSpec("mistral", "Mistral", "mistral", "mistral", ("MISTRAL_API_KEY",)),
        ProviderSpec("openrouter", "OpenRouter", "openrouter", "openrouter", ("OPENROUTER_API_KEY",)),
        ProviderSpec("groq", "Groq", "groq", "groq", ("GROQ_API_KEY",)),
        ProviderSpec("deepseek", "DeepSeek", "deepseek", "deepseek", ("DEEPSEEK_API_KEY",)),
        ProviderSpec("xai", "xAI", "xai", "xai", ("XAI_API_KEY",)),
    )
}

# kinds a configured endpoint can speak, and the litellm prefix for each
ENDPOINT_KINDS = {"openai": "openai", "anthropic": "anthropic", "ollama": "ollama_chat"}


class ProviderConfigError(ValueError):
    pass


CONTEXT_WINDOW_MAX = 100_000_000  # tokens
PROVIDER_FIELDS = ("kind", "label", "api_base", "api_key_env", "models", "context_window", "local")
TOP_LEVEL_KEYS = (
    "default_model", "system_prompt", "request_timeout", "max_retries", "providers", "keybindings", "budgets",
    "confirm_above", "prompt_cache", "failover", "mcp",
)
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def toml_repr(value: object, limit: int = 60) -> str:
    """``value`` as it would be written in config.toml, shortened to ``limit`` characters (for messages)."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
    elif isinstance(value, float):
        text = "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    elif isinstance(value, int):
        text = str(value)
    elif isinstance(value, dict):
        text = "{" + ", ".join(f"{k} = {toml_repr(v, limit)}" for k, v in value.items()) + "}"
    elif isinstance(value, list):
        text = "[" + ", ".join(toml_repr(v, limit) for v in value) + "]"
    else:  # dates and times
        text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _fields(name: str, conf: dict[str, Any]) -> dict[str, Any]:
    """The checked values of one ``[providers.NAME]`` table (only the keys it sets)."""

    def bad(key: str, allowed: str) -> ProviderConfigError:
        return ProviderConfigError(f"providers.{name}.{key} = {toml_repr(conf[key])} is not allowed: {allowed}")

    for key in conf:
        if key not in PROVIDER_FIELDS:
            hint = (f" ({key} is a top-level setting: in TOML it belongs above the first [table])"
                    if key in TOP_LEVEL_KEYS else "")
            raise ProviderConfigError(
                f"providers.{name}.{key} is not a provider setting; use {', '.join(PROVIDER_FIELDS)}{hint}"
            )
    out: dict[str, Any] = {}
    if "kind" in conf:
        if conf["kind"] not in ENDPOINT_KINDS:
            raise bad("kind", " or ".join(f'"{k}"' for k in ENDPOINT_KINDS))
        out["kind"] = conf["kind"]
    if "label" in conf:
        if not isinstance(conf["label"], str) or not conf["label"].strip():
            raise bad("label", "a name to show for the provider")
        out["label"] = conf["label"].strip()
    if "api_base" in conf:
        value = conf["api_base"]
        if not isinstance(value, str) or not value.strip().lower().startswith(("http://", "https://")):
            raise bad("api_base", 'the endpoint\'s URL, such as "http://localhost:1234/v1"')
        out["api_base"] = value.strip()
    if "api_key_env" in conf:
        value = conf["api_key_env"]
        if not isinstance(value, str) or not _ENV_NAME.fullmatch(value):
            raise bad("api_key_env", 'the name of an environment variable, such as "MY_API_KEY"')
        out["api_key_env"] = value
    if "models" in conf:
        value = conf["models"]
        if not isinstance(value, list) or not all(isinstance(m, str) and m.strip() for m in value):
            raise bad("models", 'a list of model names, such as ["qwen2.5-7b-instruct"]')
        out["models"] = tuple(m.strip() for m in value)
    if "context_window" in conf:
        value = conf["context_window"]
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= CONTEXT_WINDOW_MAX:
            raise bad("context_window", f"a whole number of tokens from 1 to {CONTEXT_WINDOW_MAX}")
        out["context_window"] = value
    if "local" in conf:
        if not isinstance(conf["local"], bool):
            raise bad("local", "true or false")
        out["local"] = conf["local"]
    return out


def apply_config(providers: dict[str, ProviderSpec], table: dict[str, Any]) -> dict[str, ProviderSpec]:
    """Merge ``[providers.NAME]`` tables into the presets; unknown names become endpoints of their ``kind``."""
    merged = dict(providers)
    for name, conf in table.items():
        if not isinstance(conf, dict):
            raise ProviderConfigError(f"providers.{name} = {toml_repr(conf)} is not allowed: a [providers.{name}] table")
        if not name.strip() or any(ch in name for ch in ":/") or any(ch.isspace() for ch in name):
            raise ProviderConfigError(f"provider name {name!r} may not be empty nor contain ':', '/' or spaces")
        fields = _fields(name, conf)
        key_env = fields.get("api_key_env")
        models = fields.get("models", ())
        window = fields.get("context_window")
        base = merged.get(name)
        if base is not None:
            changes: dict[str, Any] = {}
            if fields.get("api_base"):
                changes["api_base"] = fields["api_base"]
            if key_env:
                changes["key_envs"] = (key_env,) + base.key_envs
            if models:
                changes["models"] = models
            if window:
                changes["context_window"] = window
            merged[name] = replace(base, **changes)
            continue
        kind = fields.get("kind", "openai")
        if not fields.get("api_base"):
            raise ProviderConfigError(f"[providers.{name}] needs api_base (the endpoint's URL)")
        local = fields.get("local", False)
        merged[name] = ProviderSpec(
            name=name,
            label=fields.get("label", name),
            litellm_prefix=ENDPOINT_KINDS[kind],
            catalog_provider=None,
            key_envs=(key_env,) if key_env else (),
            api_base=fields["api_base"],
            local=local,
            needs_key=bool(key_env) and not local,
            models=models,
            context_window=window,
            custom=True,
        )
    return merged


@dataclass
class ProviderStatus:
    """What the UI and ``keys list`` show about a provider (never the key itself)."""

    name: str
    label: str
    key_kind: KeySource  # where the key comes from
    key_env: str | None  # the provider's usual environment variable
    local: bool
    models: list[str] = field(default_factory=list)
    key_from_env: str | None = None  # the variable the key was read from, for key_kind "env"

    @property
    def has_key(self) -> bool:
        return self.key_kind in ("env", "keyring", "session")

    @property
    def key_source(self) -> str:
        """As shown: "env:VAR", "keyring", "session", "none" or "not needed"."""
        return f"env:{self.key_from_env}" if self.key_kind == "env" else self.key_kind
