"""Shared fixtures: an isolated AGENTSPACE_HOME, the loopback LLM server, an in-memory keyring."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import keyring
import pytest

from tests.fakeserver import FakeLLMServer
from tests.memkeyring import MemoryKeyring

ROOT = Path(__file__).resolve().parent.parent
PROVIDER_ENV = (
    "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY", "MISTRAL_API_KEY",
    "OPENROUTER_API_KEY", "GROQ_API_KEY", "DEEPSEEK_API_KEY", "XAI_API_KEY", "OPENAI_BASE_URL",
    "ANTHROPIC_BASE_URL", "OLLAMA_HOST", "OPENAI_API_BASE", "ANTHROPIC_API_BASE",
)
OPENAI_KEY = "sk-test-openai-SECRET-0123456789"
ANTHROPIC_KEY = "sk-ant-test-SECRET-9876543210"


@pytest.fixture(scope="session")
def server():
    with FakeLLMServer() as srv:
        yield srv


@pytest.fixture
def llm(server):
    from tests.fakeserver import Reply

    server.clear()
    server.default = Reply()
    yield server
    server.clear()
    server.default = Reply()


@pytest.fixture
def memkeyring():
    from agentspace_tui.config import keys

    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    # trusted like an OS keyring for this test only (config/keys.py keeps an explicit allowlist of backends)
    name = f"{MemoryKeyring.__module__}.{MemoryKeyring.__qualname__}"
    added = name not in keys.TRUSTED_BACKENDS
    keys.TRUSTED_BACKENDS.add(name)
    yield backend
    if added:
        keys.TRUSTED_BACKENDS.discard(name)
    keyring.set_keyring(previous)


@pytest.fixture
def home(tmp_path, monkeypatch, llm, memkeyring):
    """An isolated install: its own data/config dirs, keys in env, every provider pointed at the loopback server."""
    for name in PROVIDER_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AGENTSPACE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    monkeypatch.setenv("ANTHROPIC_API_KEY", ANTHROPIC_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", llm.url + "/v1")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", llm.url)
    monkeypatch.setenv("OLLAMA_HOST", llm.url)
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    return tmp_path / "home"


def cli_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in PROVIDER_ENV}
    env.update({k: os.environ[k] for k in PROVIDER_ENV if k in os.environ})
    env["AGENTSPACE_HOME"] = str(home)
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


def run_cli(home: Path, *args: str, input: str | None = None, timeout: float = 60, **env: str):
    """Run the real CLI in a subprocess (its own interpreter, as a user would)."""
    return subprocess.run(
        [sys.executable, "-m", "agentspace_tui", *args],
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=cli_env(home, **env),
        cwd=str(ROOT),
    )


@pytest.fixture
def utc():
    """Format times in UTC so snapshots do not depend on the machine's time zone."""
    previous = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if previous is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = previous
    time.tzset()
