"""``agentspace-tui tools list``: the MCP servers of config.toml, the tools each offers, and the tokens their
definitions add to every request (counted with the default model's tokenizer).

Every configured server is started (concurrently) and stopped again. A server that cannot start is one line
naming it and why. Exit status: 0 when no server is configured or at least one listed its tools; 4 (as for a
provider failure) when every configured server failed. Descriptions come from the servers and are untrusted:
each is made one printable line (the JSON keeps the whole text, with control characters escaped).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..formatting import table
from ..text_safety import for_terminal
from .app_services import open_services
from .exits import EXIT_OK, EXIT_PROVIDER
from .output import print_json

if TYPE_CHECKING:
    from ..config.mcp import McpServerConfig
    from ..services.core import Services
    from ..toolservers import ToolSpec

DESCRIPTION_COLUMN = 70
EXAMPLE = '[mcp.time]\ncommand = "uvx"\nargs = ["mcp-server-time"]'


def _encoding(services: Services) -> tuple[str, str]:
    """The default model's id and the tiktoken encoding its token counts use."""
    from ..config.settings import ConfigError
    from ..tokens import encoding_for

    model_id = services.settings.default_model
    try:
        info = services.resolve_model(model_id)
    except ConfigError:
        provider, _, name = model_id.rpartition(":")
        return model_id, encoding_for(provider, name)
    return info.id, encoding_for(info.provider, info.name)


async def _list_all(
    servers: Mapping[str, McpServerConfig],
) -> dict[str, list[ToolSpec] | str]:
    """Server -> its tools, or the one-line reason it could not list them."""
    from ..config.paths import log_dir
    from ..toolservers import McpHub

    hub = McpHub(servers, log_dir())
    try:
        specs, errors = await hub.all_tools()
        return {name: errors[name] if name in errors else [s for s in specs if s.server == name] for name in servers}
    finally:
        await hub.close()


def _short(text: str, limit: int = DESCRIPTION_COLUMN) -> str:
    line = " ".join(for_terminal(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _report(
    servers: Mapping[str, McpServerConfig], listed: Mapping[str, list[ToolSpec] | str], encoding: str,
) -> dict[str, Any]:
    from ..toolservers import schema_tokens, tool_tokens

    entries: list[dict[str, Any]] = []
    every: list[ToolSpec] = []
    for name, config in servers.items():
        result = listed.get(name, "not started")
        specs = result if isinstance(result, list) else []
        every.extend(specs)
        entries.append({
            "name": name, "transport": config.transport, "where": config.describe(), "enabled": config.enabled,
            "tools": [{"name": s.name, "tool": s.tool, "description": s.description,
                       "tokens": tool_tokens(s, encoding)} for s in specs],
            "tokens": schema_tokens(specs, encoding),
            "error": result if isinstance(result, str) else None,
        })
    return {"servers": entries, "tokens": schema_tokens(every, encoding)}


def _print_text(report: dict[str, Any], model_id: str, encoding: str) -> None:
    count = 0
    for n, server in enumerate(report["servers"]):
        if n:
            print()
        state = "on" if server["enabled"] else "off unless a session turns it on"
        print(for_terminal(f"{server['name']} ({server['transport']}: {_short(server['where'], 200)}; {state})"))
        if server["error"]:
            print(f"  error: {for_terminal(server['error'])}")
            continue
        tools = server["tools"]
        count += len(tools)
        if not tools:
            print("  no tools")
            continue
        rows = [[t["name"], str(t["tokens"]), _short(t["description"])] for t in tools]
        print("  " + table(["tool", "tokens", "description"], rows, right={1}).replace("\n", "\n  "))
        print(f"  {len(tools)} tool{'s' if len(tools) != 1 else ''}, ~{server['tokens']} tokens")
    print(f"\nthese {count} tool{'s' if count != 1 else ''} add ~{report['tokens']} tokens to every request when "
          f"enabled (counted for {for_terminal(model_id)} with {encoding})")


def cmd_tools(args: argparse.Namespace) -> int:
    services = open_services()
    servers = services.settings.mcp
    as_json = bool(getattr(args, "json", False))
    if not servers:
        if as_json:
            print_json({"servers": [], "tokens": 0})
        else:
            from ..config.paths import config_file

            print(f"no MCP servers configured: add one to {for_terminal(str(config_file()))}, e.g.\n{EXAMPLE}")
        return EXIT_OK
    model_id, encoding = _encoding(services)
    listed = asyncio.run(_list_all(servers))
    report = _report(servers, listed, encoding)
    if as_json:
        print_json(report)
    else:
        _print_text(report, model_id, encoding)
    if all(isinstance(result, str) for result in listed.values()):
        print("agentspace-tui: no MCP server could start", file=sys.stderr)
        return EXIT_PROVIDER
    return EXIT_OK
