"""Provider presets: how each provider maps onto litellm, where its key and base URL come from.

Configured endpoints (``[providers.NAME]`` in config.toml) extend or override these.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace


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


def apply_config(providers: dict[str, ProviderSpec], table: dict[str, dict]) -> dict[str, ProviderSpec]:
    """Merge ``[providers.NAME]`` tables into the presets; unknown names become endpoints of their ``kind``."""
    merged = dict(providers)
    for name, conf in table.items():
        if not isinstance(conf, dict):
            raise ProviderConfigError(f"[providers.{name}] must be a table")
        if ":" in name or "/" in name:
            raise ProviderConfigError(f"provider name {name!r} may not contain ':' or '/'")
        key_env = conf.get("api_key_env")
        models = tuple(str(m) for m in conf.get("models", ()))
        window = conf.get("context_window")
        base = merged.get(name)
        if base is not None:
            changes: dict = {}
            if conf.get("api_base"):
                changes["api_base"] = str(conf["api_base"])
            if key_env:
                changes["key_envs"] = (str(key_env),) + base.key_envs
            if models:
                changes["models"] = models
            if window:
                changes["context_window"] = int(window)
            merged[name] = replace(base, **changes)
            continue
        kind = str(conf.get("kind", "openai"))
        if kind not in ENDPOINT_KINDS:
            raise ProviderConfigError(
                f"[providers.{name}] kind must be one of {', '.join(ENDPOINT_KINDS)}, not {kind!r}"
            )
        if not conf.get("api_base"):
            raise ProviderConfigError(f"[providers.{name}] needs api_base (the endpoint's URL)")
        local = bool(conf.get("local", False))
        merged[name] = ProviderSpec(
            name=name,
            label=str(conf.get("label", name)),
            litellm_prefix=ENDPOINT_KINDS[kind],
            catalog_provider=None,
            key_envs=(str(key_env),) if key_env else (),
            api_base=str(conf["api_base"]),
            local=local,
            needs_key=bool(key_env) and not local,
            models=models,
            context_window=int(window) if window else None,
            custom=True,
        )
    return merged


@dataclass
class ProviderStatus:
    """What the UI and ``keys list`` show about a provider (never the key itself)."""

    name: str
    label: str
    key_source: str  # "env:VAR", "keyring", "none", "not needed"
    key_env: str | None
    local: bool
    models: list[str] = field(default_factory=list)
