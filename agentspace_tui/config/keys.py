"""API keys: the providers' usual environment variables first, then the system keyring.

Keys are never written to a file of ours, nor to a "keyring" that is only a file (see TRUSTED_BACKENDS). Where
the machine has no trusted keyring backend we say so and name the environment variable to set instead.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..catalog.providers import ProviderSpec
from ..domain import KeySource

if TYPE_CHECKING:
    from types import ModuleType

    from keyring.backend import KeyringBackend

KEYRING_SERVICE = "agentspace-tui"


class KeyStoreError(Exception):
    """A keyring problem, with a one-line message that names the env var alternative."""


@dataclass(frozen=True)
class ResolvedKey:
    value: str | None
    kind: KeySource
    env: str | None = None  # the environment variable it came from, for kind "env"

    @property
    def source(self) -> str:
        """Where the key comes from, as shown: "env:VAR", "keyring", "session", "none" or "not needed"."""
        return f"env:{self.env}" if self.kind == "env" else self.kind


# Keyring backends that keep keys in the operating system's credential store (encrypted by it, unlocked with the
# login): Secret Service (GNOME Keyring, KeePassXC, ...) directly or through libsecret, KWallet, the macOS
# Keychain and the Windows Credential Locker. Anything else is refused, for writing and for reading: with
# keyrings.alt installed (common on Debian) the default backend is its PlaintextKeyring, a base64 "keyring" in a
# plain file, and `keys set` would say "stored in the system keyring" for a key sitting in ~/.local/share. The
# same goes for its EncryptedKeyring file (its own password prompt, its own file), the null and fail backends and
# unknown third-party backends.
#
# Matched by the backend's exact class (module.qualname), not isinstance: a subclass can store keys anywhere.
# It is an allowlist we own, not an attribute a backend declares about itself, so that trust is decided here
# rather than claimed by whatever backend is installed. Tests extend it for their in-memory backend for the
# duration of a test only (the ``memkeyring`` fixture in tests/conftest.py); nothing else adds to it.
TRUSTED_BACKENDS: set[str] = {
    "keyring.backends.SecretService.Keyring",
    "keyring.backends.libsecret.Keyring",
    "keyring.backends.kwallet.DBusKeyring",
    "keyring.backends.kwallet.DBusKeyringKWallet4",
    "keyring.backends.macOS.Keyring",
    "keyring.backends.Windows.WinVaultKeyring",
}

# why some well-known backends are refused, for the one-line message
_REFUSED_BECAUSE = {
    "keyrings.alt.file.PlaintextKeyring": "keeps keys in a plain file",
    "keyrings.alt.file.EncryptedKeyring": "keeps keys in a file of its own",
    "keyrings.alt.Windows.EncryptedKeyring": "keeps keys in a file of its own",
    "keyring.backends.null.Keyring": "is switched off (it stores nothing)",
}


def _keyring() -> ModuleType:
    import keyring

    return keyring


def _class_name(backend: object) -> str:
    cls = type(backend)
    return f"{cls.__module__}.{cls.__qualname__}"


def _is_chainer(backend: object) -> bool:
    from keyring.backends.chainer import ChainerBackend

    return isinstance(backend, ChainerBackend)  # only its list of children is used, never its own methods


def _trusted_backends(backend: KeyringBackend) -> list[KeyringBackend]:
    """The backends keys may be stored in and read from: ``backend`` itself, or a chainer's trusted children."""
    if _is_chainer(backend):
        return [child for child in getattr(backend, "backends", ()) if _class_name(child) in TRUSTED_BACKENDS]
    return [backend] if _class_name(backend) in TRUSTED_BACKENDS else []


def _refusal_reason(backend: object) -> str:
    from keyring.backends import fail

    if isinstance(backend, fail.Keyring):
        return "this machine has no system keyring backend"
    if _is_chainer(backend):
        children = [_class_name(child) for child in getattr(backend, "backends", ())]
        if not children:
            return "this machine has no system keyring backend"
        return f"none of the keyring backends found ({', '.join(children)}) is a system keyring"
    name = _class_name(backend)
    because = _REFUSED_BECAUSE.get(name, "is not one agentspace-tui trusts")
    return f"the keyring backend {name} {because}, not a system keyring"


def _usable_backends() -> tuple[list[KeyringBackend], str]:
    """(trusted backends, reason when there are none)."""
    try:
        backend = _keyring().get_keyring()
        trusted = _trusted_backends(backend)
        reason = "" if trusted else _refusal_reason(backend)
    except Exception as exc:  # broken keyring installs raise all sorts of things
        return [], f"keyring failed to load ({type(exc).__name__})"
    return trusted, reason


def keyring_available() -> tuple[bool, str]:
    """(usable, reason). A headless Linux box usually has no backend at all, or only a plaintext file one."""
    trusted, reason = _usable_backends()
    if not trusted:
        return False, reason
    return True, type(trusted[0]).__name__


def no_keyring_message(spec: ProviderSpec, reason: str) -> str:
    env = spec.key_env or f"{spec.name.upper()}_API_KEY"
    return f"{reason}; set {env} in your environment instead (agentspace-tui never stores keys in its own files)"


def _stored_key(name: str) -> str | None:
    for backend in _usable_backends()[0]:  # an untrusted backend is never read: its keys are not ours to use
        try:
            stored = backend.get_password(KEYRING_SERVICE, name)
        except Exception:
            continue
        if stored:
            return stored
    return None


def resolve_key(spec: ProviderSpec, *, use_keyring: bool = True) -> ResolvedKey:
    if spec.local and not spec.key_envs:
        return ResolvedKey(None, "not needed")
    for env in spec.key_envs:
        value = os.environ.get(env, "").strip()
        if value:
            return ResolvedKey(value, "env", env)
    if use_keyring:
        stored = _stored_key(spec.name)
        if stored:
            return ResolvedKey(stored, "keyring")
    if not spec.needs_key:
        return ResolvedKey(None, "not needed")
    return ResolvedKey(None, "none")


def clean_key(value: str) -> str:
    """A pasted key without surrounding whitespace; refused (``KeyStoreError``) if empty or holding spaces."""
    value = value.strip()
    if not value:
        raise KeyStoreError("empty key: nothing stored")
    if any(ch.isspace() for ch in value):
        raise KeyStoreError("the key contains whitespace; paste only the key itself")
    return value


def set_key(spec: ProviderSpec, value: str) -> None:
    value = clean_key(value)
    trusted, reason = _usable_backends()
    if not trusted:
        raise KeyStoreError(no_keyring_message(spec, reason))
    try:
        trusted[0].set_password(KEYRING_SERVICE, spec.name, value)  # straight to it, never through a chainer
    except Exception as exc:
        raise KeyStoreError(no_keyring_message(spec, f"the keyring refused the key ({type(exc).__name__})")) from None


def delete_key(spec: ProviderSpec) -> bool:
    trusted, reason = _usable_backends()
    if not trusted:
        raise KeyStoreError(no_keyring_message(spec, reason))
    deleted = False
    for backend in trusted:
        try:
            if backend.get_password(KEYRING_SERVICE, spec.name) is None:
                continue
            backend.delete_password(KEYRING_SERVICE, spec.name)
        except Exception as exc:
            raise KeyStoreError(f"the keyring could not delete the {spec.name} key ({type(exc).__name__})") from None
        deleted = True
    return deleted
