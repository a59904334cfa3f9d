"""API keys: the providers' usual environment variables first, then the system keyring.

Keys are never written to a file of ours. Where the machine has no keyring backend we say so and name the
environment variable to set instead.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from ..catalog.providers import ProviderSpec

KEYRING_SERVICE = "agentspace-tui"


class KeyStoreError(Exception):
    """A keyring problem, with a one-line message that names the env var alternative."""


@dataclass(frozen=True)
class ResolvedKey:
    value: str | None
    source: str  # "env:VAR" | "keyring" | "none" | "not needed"


def _keyring():
    import keyring

    return keyring


def keyring_available() -> tuple[bool, str]:
    """(usable, reason). A headless Linux box usually has no backend at all."""
    try:
        kr = _keyring()
        backend = kr.get_keyring()
    except Exception as exc:  # broken keyring installs raise all sorts of things
        return False, f"keyring failed to load ({type(exc).__name__})"
    from keyring.backends import fail

    if isinstance(backend, fail.Keyring):
        return False, "this machine has no system keyring backend"
    return True, type(backend).__name__


def _no_keyring_message(spec: ProviderSpec, reason: str) -> str:
    env = spec.key_env or f"{spec.name.upper()}_API_KEY"
    return f"{reason}; set {env} in your environment instead (agentspace-tui never stores keys in its own files)"


def resolve_key(spec: ProviderSpec, *, use_keyring: bool = True) -> ResolvedKey:
    if spec.local and not spec.key_envs:
        return ResolvedKey(None, "not needed")
    for env in spec.key_envs:
        value = os.environ.get(env, "").strip()
        if value:
            return ResolvedKey(value, f"env:{env}")
    if use_keyring:
        try:
            stored: str | None = _keyring().get_password(KEYRING_SERVICE, spec.name)
        except Exception:
            stored = None
        if stored:
            return ResolvedKey(stored, "keyring")
    if not spec.needs_key:
        return ResolvedKey(None, "not needed")
    return ResolvedKey(None, "none")


def set_key(spec: ProviderSpec, value: str) -> None:
    value = value.strip()
    if not value:
        raise KeyStoreError("empty key: nothing stored")
    if any(ch.isspace() for ch in value):
        raise KeyStoreError("the key contains whitespace; paste only the key itself")
    ok, reason = keyring_available()
    if not ok:
        raise KeyStoreError(_no_keyring_message(spec, reason))
    try:
        _keyring().set_password(KEYRING_SERVICE, spec.name, value)
    except Exception as exc:
        raise KeyStoreError(_no_keyring_message(spec, f"the keyring refused the key ({type(exc).__name__})")) from None


def delete_key(spec: ProviderSpec) -> bool:
    ok, reason = keyring_available()
    if not ok:
        raise KeyStoreError(_no_keyring_message(spec, reason))
    kr = _keyring()
    try:
        if kr.get_password(KEYRING_SERVICE, spec.name) is None:
            return False
        kr.delete_password(KEYRING_SERVICE, spec.name)
    except Exception as exc:
        raise KeyStoreError(f"the keyring could not delete the {spec.name} key ({type(exc).__name__})") from None
    return True
