"""``[mcp.NAME]`` tables of config.toml: the MCP servers whose tools the models may call.

A server is either a local program spoken to over stdio (``command``, ``args``, ``env``, ``cwd``) or a
streamable HTTP endpoint (``url``, with ``bearer_token_env`` naming the environment variable that holds its
token: secrets stay out of our files). ``enabled = false`` leaves its tools off in sessions that have not
chosen; ``timeout`` bounds one tool call. Every bad value is one line naming the key, the value and what is
allowed (the caller prefixes the file name).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from ..catalog.providers import toml_repr

SERVER_NAME = re.compile(r"[A-Za-z0-9_-]{1,32}")
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
TOOL_TIMEOUT_DEFAULT = 60.0
TOOL_TIMEOUT_MAX = 3600.0
KEYS = ("command", "args", "env", "cwd", "url", "bearer_token_env", "enabled", "timeout")


class McpConfigError(ValueError):
    pass


@dataclass(frozen=True)
class McpServerConfig:
    name: str
    command: str | None = None  # stdio: the program to start
    args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)  # added to the environment the program starts with
    cwd: str | None = None
    url: str | None = None  # streamable HTTP endpoint
    bearer_token_env: str | None = None  # env var whose value is sent as "Authorization: Bearer ..."
    enabled: bool = True  # its tools are on in a session unless the session turned them off
    timeout: float = TOOL_TIMEOUT_DEFAULT  # seconds one tool call may take

    @property
    def transport(self) -> str:
        return "stdio" if self.command else "http"

    def describe(self) -> str:
        """Where the server is, for lists and messages (never a secret: env values are not shown)."""
        if self.command:
            return " ".join([self.command, *self.args])
        return self.url or ""


def _bad(key: str, value: object, allowed: str) -> McpConfigError:
    return McpConfigError(f"{key} = {toml_repr(value)} is not allowed: {allowed}")


def _string(key: str, value: object, allowed: str) -> str:
    if not isinstance(value, str) or not value.strip() or any(ch in value for ch in "\r\n\0"):
        raise _bad(key, value, allowed)
    return value


def _server(name: str, table: object) -> McpServerConfig:
    prefix = f"mcp.{name}"
    if not SERVER_NAME.fullmatch(name):
        raise _bad("mcp", name, "server names of letters, digits, '-' and '_' (at most 32), e.g. [mcp.files]")
    if not isinstance(table, dict):
        raise _bad(prefix, table, 'a table such as { command = "uvx", args = ["mcp-server-time"] }')
    for key in table:
        if key not in KEYS:
            raise _bad(f"{prefix}.{key}", table[key], f"unknown key; an MCP server takes {', '.join(KEYS)}")
    command, url = table.get("command"), table.get("url")
    if (command is None) == (url is None):
        raise _bad(prefix, table, 'either command = "program" (stdio) or url = "http://..." (streamable HTTP)')
    args: tuple[str, ...] = ()
    env: dict[str, str] = {}
    cwd = bearer = None
    if command is not None:
        command = _string(f"{prefix}.command", command, 'a program to start, e.g. "uvx"')
        raw_args = table.get("args", [])
        if not isinstance(raw_args, list) or not all(isinstance(a, str) and "\0" not in a for a in raw_args):
            raise _bad(f"{prefix}.args", raw_args, 'a list of strings, e.g. ["mcp-server-time"]')
        args = tuple(raw_args)
        raw_env = table.get("env", {})
        if not isinstance(raw_env, dict) or not all(
            ENV_NAME.fullmatch(str(k)) and isinstance(v, str) and "\0" not in v for k, v in raw_env.items()
        ):
            raise _bad(f"{prefix}.env", raw_env, 'a table of NAME = "value" strings')
        env = dict(raw_env)
        if "cwd" in table:
            cwd = _string(f"{prefix}.cwd", table["cwd"], "a folder to start the program in")
        for key in ("url", "bearer_token_env"):
            if key in table:
                raise _bad(f"{prefix}.{key}", table[key], "only for a streamable HTTP server (url = ...)")
    else:
        url = _string(f"{prefix}.url", url, 'an http:// or https:// URL, e.g. "http://127.0.0.1:8000/mcp"')
        if not re.match(r"https?://[^/\s]+", url) or any(ch.isspace() for ch in url):
            raise _bad(f"{prefix}.url", url, 'an http:// or https:// URL, e.g. "http://127.0.0.1:8000/mcp"')
        for key in ("args", "env", "cwd"):
            if key in table:
                raise _bad(f"{prefix}.{key}", table[key], "only for a stdio server (command = ...)")
        if "bearer_token_env" in table:
            bearer = table["bearer_token_env"]
            if not isinstance(bearer, str) or not ENV_NAME.fullmatch(bearer):
                raise _bad(f"{prefix}.bearer_token_env", bearer, 'the name of an environment variable, e.g. "MY_TOKEN"')
    enabled = table.get("enabled", True)
    if not isinstance(enabled, bool):
        raise _bad(f"{prefix}.enabled", enabled, "true or false")
    timeout = table.get("timeout", TOOL_TIMEOUT_DEFAULT)
    if (
        not isinstance(timeout, int | float) or isinstance(timeout, bool) or not math.isfinite(timeout)
        or not 0 < timeout <= TOOL_TIMEOUT_MAX
    ):
        raise _bad(f"{prefix}.timeout", timeout, f"seconds one tool call may take, > 0 and at most {TOOL_TIMEOUT_MAX:g}")
    return McpServerConfig(name, command, args, env, cwd, url, bearer, enabled, float(timeout))


def parse_mcp(table: object) -> dict[str, McpServerConfig]:
    """``[mcp.NAME]`` tables, in the order written."""
    if not isinstance(table, dict):
        raise _bad("mcp", table, '[mcp.NAME] tables, e.g. [mcp.time] with command = "uvx"')
    return {name: _server(str(name), value) for name, value in table.items()}
