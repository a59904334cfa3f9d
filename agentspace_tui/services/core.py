"""The service layer: one object that wires settings, storage, catalog, keys, pricing and context together.

Built by ``build_services()`` for the CLI, the TUI and the tests alike. Nothing here imports Textual; litellm
is only imported by providers/ when a request is made (or warmed up in the background).
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..catalog.catalog import Catalog, provider_api_base
from ..catalog.models import ModelError, ModelInfo
from ..catalog.providers import ProviderSpec, ProviderStatus
from ..config import keys as keystore
from ..config import paths
from ..config.settings import ConfigError, Settings, load_settings
from ..context import ContextInspector, Countable, Inspection, message_tokens
from ..domain import MessageRecord, MessageUpdate, PriceOverride, SessionRecord
from ..pricing import PRICE_SOURCES, Price, Usage, reply_cost_with_source, resolve_price
from ..storage import Store
from ..tokens import MESSAGE_OVERHEAD, encoding_for, is_exact
from .tools import Toolbox

STALE_STREAM = 30.0  # a "streaming" reply not checkpointed for this long belongs to a dead process


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_stale_stream(message: Mapping[str, Any], now: float | None = None) -> bool:
    """A reply still marked "streaming" whose writer is gone (dead pid on this host, or silent too long)."""
    if message.get("status") != "streaming":
        return False
    pid, host = message.get("pid"), message.get("host")
    if pid and host == socket.gethostname() and pid != os.getpid() and not _process_alive(int(pid)):
        return True
    last = message.get("checkpoint_at") or message.get("created_at") or 0
    return (now or time.time()) - last > STALE_STREAM


def writer_dead(reply: Mapping[str, Any], now: float | None = None) -> bool:
    """Whether the process that wrote a reply (or an index marker of one) has ended: on this host, by its pid
    alone (a live writer may stay silent, e.g. between finishing and counting a reply); elsewhere, by silence."""
    pid, host = reply.get("pid"), reply.get("host")
    if pid and host == socket.gethostname():
        return int(pid) != os.getpid() and not _process_alive(int(pid))
    last = reply.get("checkpoint_at") or reply.get("created_at") or 0
    return (now or time.time()) - last > STALE_STREAM


def estimate_reply_usage(
    content: str, reasoning: str, encoding: str, input_tokens: int
) -> tuple[dict[str, int], Usage]:
    """A reply's usage counted locally, for when the provider reported none (cancelled, cut off, killed): it
    still billed what it generated. Returns (the reply's own token counts as stored with it: encoding -> tokens,
    the usage)."""
    counted: Countable = {"content": content}
    output = max(0, message_tokens(counted, encoding) - MESSAGE_OVERHEAD)
    thought = max(0, message_tokens({"content": reasoning}, encoding) - MESSAGE_OVERHEAD) if reasoning else 0
    return counted["tokens"], Usage(input_tokens=input_tokens, output_tokens=output + thought, reasoning_tokens=thought)


INTERRUPTED = "the app stopped while this reply was streaming; the partial reply was kept"


class ReplyCloser:
    """The store's ``ReplyPolicy``: when a reply's writer is gone, and what an interrupted reply is worth.

    A reply killed mid-stream was still billed for what it generated: like ``reply_saving.finish_reply`` does for a
    cancelled one, its usage is estimated locally (output counted from its text and reasoning, input from the
    estimate stored in the placeholder) and priced with the snapshot the placeholder stored, flagged estimated.
    """

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog

    def writer_gone(self, reply: Mapping[str, Any]) -> bool:
        if reply.get("status") == "streaming":
            return is_stale_stream(reply)
        return writer_dead(reply)

    def interrupted(self, reply: Mapping[str, Any]) -> MessageUpdate:
        fields: MessageUpdate = {"status": "interrupted", "error": INTERRUPTED}
        content, reasoning = reply.get("content") or "", reply.get("reasoning") or ""
        if reply.get("usage") is not None or not (content or reasoning):
            return fields
        estimate = reply.get("input_estimate")
        tokens, usage = estimate_reply_usage(
            content, reasoning, self._encoding(str(reply.get("model") or "")),
            int(estimate) if isinstance(estimate, int | float) else 0,
        )
        cost, cost_source = reply_cost_with_source(_snapshot_price(reply.get("prices")), usage)
        fields.update({
            "usage": usage.as_dict(), "usage_source": "estimated", "usage_estimated": True, "cost": cost,
            "cost_source": cost_source, "tokens": tokens,
        })
        return fields

    def _encoding(self, model_id: str) -> str:
        try:
            info = self.catalog.resolve(model_id)
        except ModelError:
            provider, _, name = model_id.rpartition(":")
            return encoding_for(provider, name)
        return encoding_for(info.provider, info.name)


def _snapshot_price(snapshot: Any) -> Price | None:
    """The price a reply stored when it started (``Price.snapshot()``); None when unknown or unreadable."""
    if not isinstance(snapshot, Mapping):
        return None
    try:
        source = snapshot.get("source")
        return Price(
            float(snapshot["input_per_mtok"]),
            float(snapshot["output_per_mtok"]),
            snapshot.get("cache_read_per_mtok"),
            snapshot.get("cache_write_per_mtok"),
            source if source in PRICE_SOURCES else "catalog",
        )
    except (KeyError, TypeError, ValueError):
        return None


class NotFoundError(Exception):
    """An unknown session (or other named thing), one-line message."""


@dataclass(frozen=True)
class ModelChoice:
    """A catalog entry with what the user needs to choose it: price (None = unknown) and key status."""

    info: ModelInfo
    price: Price | None
    key_configured: bool

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.info.id,
            "provider": self.info.provider,
            "context_window": self.info.context_window,
            "max_output": self.info.max_output,
            "input_per_mtok": self.price.input_per_mtok if self.price else None,
            "output_per_mtok": self.price.output_per_mtok if self.price else None,
            "key_configured": self.key_configured,
        }


class Services:
    def __init__(self, settings: Settings, store: Store, catalog: Catalog):
        self.settings = settings
        self.store = store
        self.catalog = catalog
        store.reply_policy = ReplyCloser(catalog)
        self._overrides_cache: tuple[float, dict[str, PriceOverride]] | None = None
        self.overrides_ttl = 2.0  # seconds; the TUI sets infinity and refreshes from workers
        self._key_cache: dict[str, keystore.ResolvedKey] = {}
        self._session_keys: dict[str, str] = {}  # pasted where no keyring can keep them; gone when we exit
        # [mcp.NAME] tool servers: started on demand, closed by whoever built the services (app exit, CLI run)
        self.tools = Toolbox(settings.mcp, paths.log_dir)

    # -- providers and keys -----------------------------------------------------------------------
    def provider(self, name: str) -> ProviderSpec:
        try:
            return self.settings.providers[name]
        except KeyError:
            raise ConfigError(
                f"unknown provider {name!r}; known: {', '.join(sorted(self.settings.providers))}"
            ) from None

    def key_for(self, provider: str, *, fresh: bool = False) -> keystore.ResolvedKey:
        if fresh or provider not in self._key_cache:
            resolved = keystore.resolve_key(self.provider(provider))
            if resolved.value is None and provider in self._session_keys:
                resolved = keystore.ResolvedKey(self._session_keys[provider], "session")
            self._key_cache[provider] = resolved
        return self._key_cache[provider]

    def use_key_for_session(self, provider: str, value: str) -> None:
        """A key for this process only (no keyring here): kept in memory, never written anywhere.
        Environment variables and the keyring still come first."""
        self._session_keys[self.provider(provider).name] = keystore.clean_key(value)
        self._key_cache.pop(provider, None)

    def forget_keys(self) -> None:
        self._key_cache.clear()

    def key_configured(self, provider: str) -> bool:
        return self.key_for(provider).kind != "none"

    def provider_statuses(self) -> list[ProviderStatus]:
        out = []
        for name, spec in self.settings.providers.items():
            key = self.key_for(name, fresh=True)
            models = [m.name for m in self.catalog.ollama_models] if spec.litellm_prefix == "ollama_chat" else []
            out.append(ProviderStatus(name, spec.label, key.kind, spec.key_env, spec.local, models, key.env))
        return out

    def api_base(self, provider: str) -> str | None:
        return provider_api_base(self.provider(provider))

    # -- models and prices ----------------------------------------------------------------------------
    def resolve_model(self, model_id: str | None = None) -> ModelInfo:
        try:
            return self.catalog.resolve(model_id or self.settings.default_model)
        except ModelError as exc:
            raise ConfigError(str(exc)) from None

    def price_overrides(self) -> dict[str, PriceOverride]:
        # re-read at most every 2 s: another terminal may have changed a price
        now = time.monotonic()
        if self._overrides_cache is None or now - self._overrides_cache[0] > self.overrides_ttl:
            self._overrides_cache = (now, self.store.price_overrides())
        return self._overrides_cache[1]

    def price_for(self, info: ModelInfo) -> Price | None:
        return resolve_price(
            info.id,
            local=info.local,
            catalog_input=info.input_per_mtok,
            catalog_output=info.output_per_mtok,
            catalog_cache_read=info.cache_read_per_mtok,
            catalog_cache_write=info.cache_write_per_mtok,
            overrides=self.price_overrides(),
        )

    def model_choices(self, provider: str | None = None) -> list[ModelChoice]:
        if provider is not None and provider not in self.settings.providers:
            raise ConfigError(f"unknown provider {provider!r}; known: {', '.join(sorted(self.settings.providers))}")
        configured = {name: self.key_configured(name) for name in self.settings.providers}
        return [
            ModelChoice(info, self.price_for(info), configured.get(info.provider, False))
            for info in self.catalog.models(provider)
        ]

    # -- sessions -------------------------------------------------------------------------------------
    def session(self, session_id: str) -> SessionRecord:
        found = self.store.get_session(session_id)
        if found is None:
            raise NotFoundError(f"no session {session_id!r}; see `agentspace-tui sessions list`")
        return found

    def messages(self, session_id: str, *, live: bool = False) -> list[MessageRecord]:
        """A session's messages; replies left "streaming" by a killed process are marked interrupted and their
        estimated usage counted, once (see ``ReplyCloser``; only in memory when the store is read-only).
        ``live``: as stored, for the process that is streaming into the session."""
        if live:
            return self.store.get_messages(session_id)
        return self.store.settle_replies(session_id)

    def latest_session(self) -> SessionRecord | None:
        return self.store.latest_session()

    def session_model(self, session: Mapping[str, Any] | None) -> ModelInfo:
        return self.resolve_model((session or {}).get("model") or self.settings.default_model)

    def session_system_prompt(self, session: Mapping[str, Any] | None) -> str:
        prompt = (session or {}).get("system_prompt")
        return self.settings.system_prompt if prompt is None else prompt

    # -- context --------------------------------------------------------------------------------------
    def inspect(
        self,
        session: Mapping[str, Any] | None,
        history: Sequence[MessageRecord],
        info: ModelInfo,
        draft: str = "",
        inspector: ContextInspector | None = None,
        system_prompt: str | None = None,
        *,
        max_output_tokens: int | None = None,
        tools: list[dict[str, Any]] | None = None,
    ) -> Inspection:
        """``tools``: the definitions the request carries; None: those of the session's servers listed so far."""
        inspector = inspector or ContextInspector()
        if tools is None:
            tools = self.tools.definitions((session or {}).get("tools"))
        return inspector.inspect(
            model_id=info.id,
            encoding=encoding_for(info.provider, info.name),
            exact=is_exact(info.provider, info.name),
            context_window=info.context_window,
            price=self.price_for(info),
            system_prompt=system_prompt if system_prompt is not None else self.session_system_prompt(session),
            attachments=(session or {}).get("attachments") or [],
            history=history,
            draft=draft,
            tools=tools or None,
            max_output_tokens=max_output_tokens,
        )


def build_services(home: Path | None = None, *, discover_ollama: bool = False) -> Services:
    """The app factory shared by the CLI, the TUI and the tests."""
    if home is not None:
        import os

        os.environ[paths.HOME_ENV] = str(home)
    settings = load_settings()
    store = Store(paths.data_dir())
    catalog = Catalog(settings.providers)
    services = Services(settings, store, catalog)
    if discover_ollama:
        catalog.discover_ollama()
    return services
