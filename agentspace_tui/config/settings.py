"""config.toml: default model, system prompt, provider endpoints, keybindings, spending controls.

Every value is checked when the file is loaded; a bad one is a ``ConfigError`` with one line naming the key, the
value and what is allowed, e.g. ``config.toml: request_timeout = -5 is not allowed: a number of seconds > 0 (at
most 3600)``. The CLI exits 3 on it and the app reports it before the full screen opens (ui/run.py).
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..catalog.providers import (
    BUILTIN_PROVIDERS,
    TOP_LEVEL_KEYS,
    ProviderConfigError,
    ProviderSpec,
    apply_config,
    toml_repr,
)
from . import paths
from .errors import ConfigError as ConfigError  # re-exported: its home before errors.py
from .mcp import McpConfigError, McpServerConfig, parse_mcp

DEFAULT_MODEL = "openai:gpt-4o-mini"
DEFAULT_SYSTEM_PROMPT = "You are a helpful assistant. Answer concisely; use Markdown where it helps."

REQUEST_TIMEOUT_MAX = 3600.0  # seconds; request_timeout must be > 0 and at most this
MAX_RETRIES_MAX = 10  # max_retries is a whole number from 0 to this

# The app's binding ids (ui/app.py AgentspaceApp.BINDINGS; tests/test_config_validation.py checks they agree).
# Kept here as data so that config/ never imports Textual.
BINDING_IDS = (
    "switch_model", "toggle_inspector", "sessions", "new_session", "cancel", "copy_reply", "copy_code",
    "toggle_thinking", "keys", "quit", "retry", "focus_conversation", "regenerate", "params", "usage", "stats",
    "tools",
)
QUIT_KEY = "ctrl+q"  # always quits, whatever [keybindings] says (see Settings.keymap)

# Textual's key names (textual.keys.Keys, the names it gives printable characters, and the kitty keyboard
# protocol's functional keys), copied as data for the same reason; tests/test_config_validation.py compares them
# with the installed Textual. Letters and digits are added below. Modifiers are written in Textual's order.
MODIFIERS = ("alt", "ctrl", "hyper", "meta", "shift", "super")
KEY_NAMES = frozenset(
    """
    escape enter return tab space backspace newline left_square_brace
    up down left right home end insert delete pageup pagedown
    f1 f2 f3 f4 f5 f6 f7 f8 f9 f10 f11 f12 f13 f14 f15 f16 f17 f18 f19 f20 f21 f22 f23 f24
    f25 f26 f27 f28 f29 f30 f31 f32 f33 f34 f35
    ampersand apostrophe asterisk at backslash circumflex_accent colon comma dollar_sign equals_sign
    exclamation_mark full_stop grave_accent greater_than_sign left_curly_bracket left_parenthesis
    left_square_bracket less_than_sign minus number_sign percent_sign plus question_mark quotation_mark
    right_curly_bracket right_parenthesis right_square_bracket semicolon slash tilde underscore vertical_line
    add decimal divide equal multiply separator subtract kp_begin
    caps_lock num_lock scroll_lock print_screen pause menu
    media_play media_pause media_play_pause media_reverse media_stop media_fast_forward media_rewind
    media_track_next media_track_previous media_record lower_volume raise_volume mute_volume
    left_shift left_control left_alt left_super left_hyper left_meta
    right_shift right_control right_alt right_super right_hyper right_meta iso_level3_shift iso_level5_shift
    """.split()
) | frozenset("abcdefghijklmnopqrstuvwxyz0123456789")
KEY_EXAMPLES = '"ctrl+o", "f2", "alt+x", "ctrl+shift+up"'


BUDGET_PERIODS = ("daily", "monthly")
PROMPT_CACHE_MODES = ("off", "auto")
BUDGET_MAX = 1_000_000.0  # USD; a budget (or confirm_above) above this is a typo


class _Invalid(ValueError):
    pass


@dataclass(frozen=True)
class BudgetLimit:
    """A spending limit: ``amount`` USD per local day or calendar month, for all providers or one (``provider``)."""

    period: str  # one of BUDGET_PERIODS
    amount: float
    provider: str | None = None

    @property
    def name(self) -> str:
        return f"{self.period} budget" + (f" for {self.provider}" if self.provider else "")


@dataclass
class Settings:
    default_model: str = DEFAULT_MODEL
    system_prompt: str = DEFAULT_SYSTEM_PROMPT
    request_timeout: float = 120.0
    max_retries: int = 2
    providers: dict[str, ProviderSpec] = field(default_factory=lambda: dict(BUILTIN_PROVIDERS))
    keybindings: dict[str, str] = field(default_factory=dict)
    # spending controls (issue 9): [budgets] in config.toml; `budget set` adds stored ones on top
    budgets: list[BudgetLimit] = field(default_factory=list)
    budget_warn_at: float = 0.8  # share of a budget spent that brings a warning
    confirm_above: float | None = None  # USD; a request forecast above this asks first (CLI: needs --yes)
    prompt_cache: str = "off"  # "auto": cache breakpoints on Anthropic requests
    failover: dict[str, list[str]] = field(default_factory=dict)  # model id -> models to try next, in order
    mcp: dict[str, McpServerConfig] = field(default_factory=dict)  # [mcp.NAME]: tool servers (config/mcp.py)
    path: Path | None = None

    def keymap(self) -> dict[str, str]:
        """``keybindings`` for ``App.set_keymap``, with ctrl+q kept on quit whatever quit was remapped to."""
        keymap = dict(self.keybindings)
        quit_keys = keymap.get("quit")
        if quit_keys is not None and QUIT_KEY not in quit_keys.split(","):
            keymap["quit"] = f"{quit_keys},{QUIT_KEY}"
        return keymap


def _not_allowed(key: str, value: object, allowed: str) -> _Invalid:
    return _Invalid(f"{key} = {toml_repr(value)} is not allowed: {allowed}")


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def key_problem(key: str) -> str | None:
    """Why ``key`` (one Textual key name, e.g. "ctrl+shift+up") would never fire, or None if it is fine."""
    if len(key) == 1:
        return None if key.isprintable() and not key.isspace() else "it is not a key name"
    *mods, base = key.split("+")
    if not base:  # "ctrl+" or "+"; the plus key is "plus"
        return 'it ends in "+" (the plus key is called "plus")'
    for mod in mods:
        if mod not in MODIFIERS:
            return f'"{mod}" is not a modifier ({", ".join(MODIFIERS)})'
    if mods != sorted(set(mods)):
        canonical = "+".join([*sorted(set(mods)), base])
        return f'Textual names it "{canonical}" (modifiers once each, in the order {", ".join(MODIFIERS)})'
    if base not in KEY_NAMES and not (mods and base == "@"):
        return f'"{base}" is not a key name; use Textual key names such as {KEY_EXAMPLES}'
    return None


def _keybindings(table: object) -> dict[str, str]:
    if not isinstance(table, dict):
        raise _not_allowed("keybindings", table, 'a [keybindings] table of binding id = "key"')
    result: dict[str, str] = {}
    for binding_id, value in table.items():
        name = f"keybindings.{binding_id}"
        if binding_id not in BINDING_IDS:
            hint = (f" ({binding_id} is a top-level setting: in TOML it belongs above the first [table])"
                    if binding_id in TOP_LEVEL_KEYS else "")
            raise _Invalid(f"{name} is not a binding id; use one of {', '.join(BINDING_IDS)}{hint}")
        if not isinstance(value, str) or not value.strip():
            raise _not_allowed(name, value, f"a key name such as {KEY_EXAMPLES} (several: \"f2,ctrl+o\")")
        keys = [key.strip() for key in value.split(",")]
        for key in keys:
            problem = "an empty key name" if not key else key_problem(key)
            if problem:
                raise _not_allowed(name, value, problem)
            if key == QUIT_KEY and binding_id != "quit":
                raise _not_allowed(name, value, f"{QUIT_KEY} is reserved: it always quits")
        result[binding_id] = ",".join(keys)
    return result


def _money(key: str, value: object) -> float:
    if not _number(value) or not math.isfinite(float(value)) or not 0 <= float(value) <= BUDGET_MAX:  # type: ignore[arg-type]
        raise _not_allowed(key, value, f"an amount in USD from 0 to {BUDGET_MAX:,.0f}")
    return float(value)  # type: ignore[arg-type]


def _budgets(table: object) -> tuple[list[BudgetLimit], float | None]:
    """``[budgets]``: daily/monthly USD, warn_at (0..1), and ``[budgets.providers.NAME]`` with daily/monthly."""
    if not isinstance(table, dict):
        raise _not_allowed("budgets", table, "a [budgets] table with daily, monthly, warn_at, [budgets.providers.NAME]")
    limits: list[BudgetLimit] = []
    warn_at: float | None = None
    for key, value in table.items():
        if key in BUDGET_PERIODS:
            limits.append(BudgetLimit(key, _money(f"budgets.{key}", value)))
        elif key == "warn_at":
            if not _number(value) or not 0 < float(value) <= 1:
                raise _not_allowed("budgets.warn_at", value, "a share above 0, at most 1 (0.8 warns at 80%)")
            warn_at = float(value)
        elif key == "providers":
            if not isinstance(value, dict):
                raise _not_allowed("budgets.providers", value, "[budgets.providers.NAME] tables")
            for provider, sub in value.items():
                if not isinstance(sub, dict):
                    raise _not_allowed(f"budgets.providers.{provider}", sub, "a table with daily and/or monthly")
                for period, amount in sub.items():
                    if period not in BUDGET_PERIODS:
                        raise _Invalid(f"budgets.providers.{provider}.{period} is not a budget; use daily or monthly")
                    limits.append(BudgetLimit(period, _money(f"budgets.providers.{provider}.{period}", amount), provider))
        else:
            raise _Invalid(f"budgets.{key} is not a budget setting; use daily, monthly, warn_at, providers")
    return limits, warn_at


def _model_id(key: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip() or any(ch in value for ch in "\r\n"):
        raise _not_allowed(key, value, 'a model id such as "openai:gpt-4.1"')
    return value.strip()


def _failover(table: object) -> dict[str, list[str]]:
    """``[failover]``: "model id" = ["next model", ...]."""
    if not isinstance(table, dict):
        raise _not_allowed("failover", table, 'a [failover] table of "model id" = ["model id", ...]')
    chains: dict[str, list[str]] = {}
    for model, chain in table.items():
        name = f'failover."{model}"'
        if not isinstance(chain, list) or not chain:
            raise _not_allowed(name, chain, 'a list of model ids to try in order, e.g. ["openai:gpt-4.1"]')
        chains[_model_id("failover", model)] = [_model_id(name, m) for m in chain]
    return chains


def _apply(settings: Settings, data: dict[str, Any]) -> None:
    if "default_model" in data:
        value = data["default_model"]
        if not isinstance(value, str) or not value.strip() or any(ch in value for ch in "\r\n"):
            raise _not_allowed("default_model", value, 'a model id such as "openai:gpt-4o-mini"')
        settings.default_model = value.strip()
    if "system_prompt" in data:
        value = data["system_prompt"]
        if not isinstance(value, str):
            raise _not_allowed("system_prompt", value, 'a string (""" for several lines; "" for none)')
        settings.system_prompt = value
    if "request_timeout" in data:
        value = data["request_timeout"]
        if not _number(value) or not math.isfinite(value) or not 0 < value <= REQUEST_TIMEOUT_MAX:
            raise _not_allowed("request_timeout", value, f"a number of seconds > 0 (at most {REQUEST_TIMEOUT_MAX:g})")
        settings.request_timeout = float(value)
    if "max_retries" in data:
        value = data["max_retries"]
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_RETRIES_MAX:
            raise _not_allowed("max_retries", value, f"a whole number from 0 to {MAX_RETRIES_MAX}")
        settings.max_retries = value
    if "providers" in data:
        table = data["providers"]
        if not isinstance(table, dict):
            raise _not_allowed("providers", table, "[providers.NAME] tables")
        settings.providers = apply_config(settings.providers, table)
    if "keybindings" in data:
        settings.keybindings = _keybindings(data["keybindings"])
    if "budgets" in data:
        settings.budgets, warn_at = _budgets(data["budgets"])
        if warn_at is not None:
            settings.budget_warn_at = warn_at
    if "confirm_above" in data:
        settings.confirm_above = _money("confirm_above", data["confirm_above"])
    if "prompt_cache" in data:
        value = data["prompt_cache"]
        if value not in PROMPT_CACHE_MODES:
            raise _not_allowed("prompt_cache", value, '"auto" (cache breakpoints on Anthropic requests) or "off"')
        settings.prompt_cache = str(value)
    if "failover" in data:
        settings.failover = _failover(data["failover"])
    if "mcp" in data:
        settings.mcp = parse_mcp(data["mcp"])


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
        _apply(settings, data)
    except (_Invalid, ProviderConfigError, McpConfigError) as exc:
        raise ConfigError(f"{path}: {exc}") from None
    return settings
