"""config.toml: default model, system prompt, provider endpoints, keybindings."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from ..catalog.providers import BUILTIN_PROVIDERS, ProviderConfigError, ProviderSpec, apply_config
from . import paths

DEFAULT_MODEL = "openai:gpt-4o-mini"
DEFAULT_SYSTEM_PROMPT = "You are a helpful assistant. Answer concisely; use Markdown where it helps."

class ConfigError(Exception):
    """A configuration problem with a one-line message for the user."""


@dataclass
class Settings:
    default_model: str = DEFAULT_MODEL
    system_prompt: str = DEFAULT_SYSTEM_PROMPT
    request_timeout: float = 120.0
    max_retries: int = 2
    providers: dict[str, ProviderSpec] = field(default_factory=lambda: dict(BUILTIN_PROVIDERS))
    keybindings: dict[str, str] = field(default_factory=dict)
    path: Path | None = None


def load_settings(path: Path | None = None) -> Settings:
    path = path or paths.config_file()
    if not path.exists():
        return Settings(path=path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML ({exc}); fix or delete it") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None
    settings = Settings(path=path)
    try:
        if "default_model" in data:
            settings.default_model = str(data["default_model"])
        if "system_prompt" in data:
            settings.system_prompt = str(data["system_prompt"])
        if "request_timeout" in data:
            settings.request_timeout = float(data["request_timeout"])
        if "max_retries" in data:
            settings.max_retries = max(0, int(data["max_retries"]))
        settings.providers = apply_config(settings.providers, data.get("providers", {}) or {})
        bindings = data.get("keybindings", {}) or {}
        if not isinstance(bindings, dict):
            raise ProviderConfigError("[keybindings] must be a table of action = \"key\"")
        settings.keybindings = {str(k): str(v) for k, v in bindings.items()}
    except (ProviderConfigError, TypeError, ValueError) as exc:
        raise ConfigError(f"{path}: {exc}") from None
    return settings
