"""Discover local Ollama models (``/api/tags``, context length from ``/api/show``). Plain urllib, short timeouts."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class OllamaModel:
    name: str  # "llama3.2:latest"
    context_window: int | None
    size: int | None = None
    capabilities: tuple[str, ...] | None = None  # /api/show "capabilities" ("completion", "tools", ...); None: not said


def normalize_host(host: str) -> str:
    host = host.strip().rstrip("/")
    if not host.startswith(("http://", "https://")):
        host = "http://" + host
    if host.count(":") == 1:  # no port given
        host += ":11434"
    return host


def _post_json(url: str, body: dict[str, Any], timeout: float) -> dict[str, Any]:
    req = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - loopback/user-configured URL
        data = json.loads(resp.read().decode("utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{url} answered with JSON that is not an object")
    return data


def _context_length(model_info: dict[str, Any]) -> int | None:
    for key, value in model_info.items():
        if key.endswith(".context_length") and isinstance(value, int):
            return value
    return None


def _capabilities(info: dict[str, Any]) -> tuple[str, ...] | None:
    caps = info.get("capabilities")
    return tuple(str(c) for c in caps) if isinstance(caps, list) else None


def show_model(host: str, name: str, timeout: float = 1.0) -> OllamaModel | None:
    """One installed model by name (``/api/show``); None when Ollama is not running or does not have it."""
    try:
        info = _post_json(normalize_host(host) + "/api/show", {"model": name}, timeout)
    except (OSError, urllib.error.URLError, ValueError):
        return None
    if not isinstance(info, dict):
        return None
    model_info = info.get("model_info")
    window = _context_length(model_info) if isinstance(model_info, dict) else None
    return OllamaModel(name, window, capabilities=_capabilities(info))


def discover(host: str, timeout: float = 1.0) -> list[OllamaModel]:
    """Models installed on the Ollama at ``host``; [] when it is not running."""
    base = normalize_host(host)
    try:
        with urllib.request.urlopen(base + "/api/tags", timeout=timeout) as resp:  # noqa: S310
            tags = json.loads(resp.read().decode("utf-8"))
    except (OSError, urllib.error.URLError, ValueError):
        return []
    names = [(m.get("name") or m.get("model"), m.get("size")) for m in tags.get("models", []) if isinstance(m, dict)]
    names = [(n, s) for n, s in names if n]

    def show(item: tuple[str, int | None]) -> OllamaModel:
        name, size = item
        try:
            info = _post_json(base + "/api/show", {"model": name}, timeout)
            window = _context_length(info.get("model_info") or {})
            caps = _capabilities(info)
        except (OSError, urllib.error.URLError, ValueError):
            window, caps = None, None
        return OllamaModel(name, window, size, caps)

    if not names:
        return []
    with ThreadPoolExecutor(max_workers=min(8, len(names))) as pool:
        return list(pool.map(show, names))
