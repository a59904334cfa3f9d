"""Helpers for tests that use the real MCP test server (tests/mcp_test_server.py; its tools are listed there).

* ``stdio_server_config(name)``: an ``McpServerConfig`` that starts it over stdio with this interpreter.
* ``http_server(token=None)``: a context manager that runs its streamable HTTP variant on a free loopback port
  and yields the endpoint URL (with ``token``, requests need ``Authorization: Bearer <token>``).
* ``write_mcp_config(home, {"t": {...}})``: appends ``[mcp.NAME]`` tables to the test home's config.toml.
* ``mcp_stdio_table(...)``: the table for the stdio server, for ``write_mcp_config``.
* fixtures (import them into a test module): ``mcp_http_url`` (module scope, no token) and
  ``mcp_http_token`` (module scope: ``(url, token)``, the token required as a bearer token).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from agentspace_tui.config.mcp import McpServerConfig

SERVER_SCRIPT = Path(__file__).resolve().parent / "mcp_test_server.py"
TOOL_NAMES = ("add", "echo", "weather", "fail", "slow", "big", "image", "env", "pid", "crash", "hostile")


def stdio_server_config(name: str = "t", *extra_args: str, **fields: Any) -> McpServerConfig:
    """The test server over stdio (``extra_args`` such as "--exit"; ``fields`` such as timeout=1.0, env={...})."""
    return McpServerConfig(name, command=sys.executable, args=(str(SERVER_SCRIPT), *extra_args), **fields)


def mcp_stdio_table(*extra_args: str, **fields: Any) -> dict[str, Any]:
    return {"command": sys.executable, "args": [str(SERVER_SCRIPT), *extra_args], **fields}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def http_server(token: str | None = None, timeout: float = 20.0) -> Iterator[str]:
    """Run the streamable HTTP test server; yields ``http://127.0.0.1:PORT/mcp``; stops it afterwards."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "MCP_TEST_TOKEN"}
    if token:
        env["MCP_TEST_TOKEN"] = token
    proc = subprocess.Popen([sys.executable, str(SERVER_SCRIPT), "--http", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the MCP test server exited with {proc.returncode}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
            if time.monotonic() > deadline:
                raise RuntimeError("the MCP test server did not start")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a TOML basic string
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"no TOML for {value!r}")


def write_mcp_config(home: Path, servers: Mapping[str, Mapping[str, Any]]) -> Path:
    """Append ``[mcp.NAME]`` tables to ``home``'s config.toml (the ``home`` fixture's AGENTSPACE_HOME)."""
    path = home / "config" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [path.read_text(encoding="utf-8")] if path.exists() else []
    for name, table in servers.items():
        lines.append(f"\n[mcp.{name}]")
        lines.extend(f"{key} = {_toml_value(value)}" for key, value in table.items())
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def child_running(pid: int) -> bool:
    """Whether process ``pid`` still exists and is not a zombie (Linux: /proc; elsewhere: kill 0)."""
    status = Path(f"/proc/{pid}/status")
    if status.parent.parent.is_dir() and Path("/proc/self").exists():
        try:
            text = status.read_text()
        except OSError:
            return False
        return "\nState:\tZ" not in text
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


MCP_TOKEN = "tok-test-BEARER-5678"


@pytest.fixture(scope="module")
def mcp_http_url() -> Iterator[str]:
    with http_server() as url:
        yield url


@pytest.fixture(scope="module")
def mcp_http_token() -> Iterator[tuple[str, str]]:
    with http_server(token=MCP_TOKEN) as url:
        yield url, MCP_TOKEN
