"""Model parameters of a session: temperature, top-p and max output tokens.

UI-free and import-light (no Textual, no litellm): the TUI's ``/set`` command and parameters screen, the CLI
and the chat service share the parsing and the one-line errors here. Unset values are not sent at all, so the
provider's own defaults apply. A session file's stored parameters may be hand-edited: ``from_stored`` keeps
what is valid and drops the rest, never raising.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

__all__ = [
    "FIELDS",
    "LABELS",
    "PARAM_HELP",
    "ModelParams",
    "ParamError",
    "canonical_name",
    "check_for_model",
    "parse_set_command",
    "parse_value",
]

FIELDS = ("temperature", "top_p", "max_tokens")  # litellm's names, also the keys of as_dict() and of storage
LABELS = {"temperature": "temperature", "top_p": "top-p", "max_tokens": "max-tokens"}  # as the user types them
ALIASES = {
    "temperature": "temperature",
    "temp": "temperature",
    "top_p": "top_p",
    "top-p": "top_p",
    "topp": "top_p",
    "max_tokens": "max_tokens",
    "max-tokens": "max_tokens",
    "max_output": "max_tokens",
    "max-output": "max_tokens",
    "max": "max_tokens",
}
UNSET_WORDS = frozenset({"", "default", "off", "none"})
TEMPERATURE_MAX = 2.0
MAX_TOKENS_LIMIT = 1_000_000
ALLOWED = {
    "temperature": f"a number from 0 to {TEMPERATURE_MAX:g}",
    "top_p": "a number above 0, up to 1",
    "max_tokens": f"a whole number from 1 to {MAX_TOKENS_LIMIT}",
}
PARAM_HELP = "usage: /set temperature|top-p|max-tokens VALUE (or 'default')"


class ParamError(ValueError):
    """A parameter name or value that cannot be used; the message is one line for the user."""


def _shown(text: str) -> str:
    """A value echoed back in an error: one short printable line (it is user input)."""
    shown = "".join(c if c.isprintable() else "?" for c in text.strip())
    return shown if len(shown) <= 24 else shown[:21] + "..."


def canonical_name(name: str) -> str:
    """``temperature`` / ``top_p`` / ``max_tokens`` for any accepted spelling; ParamError otherwise."""
    found = ALIASES.get(name.strip().lower().replace(" ", "_"))
    if found is None:
        raise ParamError(f"unknown parameter '{_shown(name)}'; {PARAM_HELP}")
    return found


def _checked(name: str, value: float | int) -> float | int | None:
    """``value`` when it is allowed for ``name`` (already canonical), else None."""
    if name == "max_tokens":
        return value if isinstance(value, int) and 1 <= value <= MAX_TOKENS_LIMIT else None
    number = float(value)
    if not math.isfinite(number):
        return None
    if name == "temperature":
        return number if 0.0 <= number <= TEMPERATURE_MAX else None
    return number if 0.0 < number <= 1.0 else None


def parse_value(name: str, text: str) -> float | int | None:
    """The value of parameter ``name`` (any spelling) typed as ``text``; None to unset ("default", "off",
    "none" or nothing). Raises ParamError naming the parameter, the value and what is allowed."""
    field = canonical_name(name)
    raw = text.strip()
    if raw.lower() in UNSET_WORDS:
        return None
    value: float | int | None
    try:
        value = int(raw) if field == "max_tokens" else float(raw)
    except ValueError:
        value = None
    checked = _checked(field, value) if value is not None else None
    if checked is None:
        raise ParamError(f"{LABELS[field]} '{_shown(raw)}' is not allowed: use {ALLOWED[field]}, or 'default'")
    return checked


@dataclass(frozen=True)
class ModelParams:
    """What a session asks of the model; None: not sent, the provider's default applies."""

    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None

    def as_dict(self) -> dict[str, float | int]:
        """The set values under litellm's names (what is sent, and what a reply and a session store)."""
        out: dict[str, float | int] = {}
        for name in FIELDS:
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        return out

    @classmethod
    def from_stored(cls, value: object) -> ModelParams:
        """Parameters from a session file: entries of the wrong type or out of range are dropped."""
        if not isinstance(value, dict):
            return cls()
        kept: dict[str, float | int] = {}
        for name in FIELDS:
            item = value.get(name)
            # bool is an int to Python, not a number a user meant; a float max_tokens like 500.0 is fine
            if isinstance(item, bool) or not isinstance(item, int | float):
                continue
            if name == "max_tokens" and isinstance(item, float):
                if not item.is_integer():
                    continue
                item = int(item)
            checked = _checked(name, item)
            if checked is not None:
                kept[name] = checked
        return cls(
            temperature=float(kept["temperature"]) if "temperature" in kept else None,
            top_p=float(kept["top_p"]) if "top_p" in kept else None,
            max_tokens=int(kept["max_tokens"]) if "max_tokens" in kept else None,
        )

    def with_value(self, name: str, text: str) -> ModelParams:
        """A copy with parameter ``name`` (any spelling) set from ``text`` (or unset); raises ParamError."""
        field = canonical_name(name)
        value = parse_value(field, text)
        if field == "max_tokens":
            return replace(self, max_tokens=None if value is None else int(value))
        number = None if value is None else float(value)
        return replace(self, temperature=number) if field == "temperature" else replace(self, top_p=number)

    def text(self, name: str) -> str:
        """The value of ``name`` as the user would type it; "" when unset."""
        value = getattr(self, canonical_name(name))
        return "" if value is None else f"{value:g}" if isinstance(value, float) else str(value)

    def describe(self) -> str:
        """One line: "temperature 0.2 · top-p 0.9 · max 500 tokens", or "provider defaults"."""
        parts = []
        if self.temperature is not None:
            parts.append(f"temperature {self.temperature:g}")
        if self.top_p is not None:
            parts.append(f"top-p {self.top_p:g}")
        if self.max_tokens is not None:
            parts.append(f"max {self.max_tokens} tokens")
        return " · ".join(parts) if parts else "provider defaults"


def parse_set_command(arg: str) -> tuple[str, str]:
    """``(name, value text)`` from what follows ``/set``: "temperature 0.2" or "temperature=0.2". The name is
    canonical; an empty value (``/set temperature``) means "default". Raises ParamError with the usage."""
    text = arg.strip()
    if not text:
        raise ParamError(PARAM_HELP)
    if "=" in text:
        name, _, value = text.partition("=")
    else:
        name, _, value = text.partition(" ")
    if not name.strip():
        raise ParamError(PARAM_HELP)
    return canonical_name(name), value.strip()


def check_for_model(params: ModelParams, max_output: int | None) -> None:
    """ParamError when ``params`` ask for more output tokens than the model can give (``max_output`` from the
    catalog; None: unknown, anything goes)."""
    if max_output is not None and params.max_tokens is not None and params.max_tokens > max_output:
        raise ParamError(
            f"max-tokens {params.max_tokens} is above this model's limit of {max_output} output tokens: "
            f"use 1 to {max_output}, or 'default'"
        )
