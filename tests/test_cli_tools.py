"""``agentspace-tui tools list`` as a user runs it (a real subprocess) with the real MCP test server."""

from __future__ import annotations

import json

from tests.conftest import run_cli
from tests.mcp_fixtures import TOOL_NAMES, mcp_stdio_table, write_mcp_config


def test_no_servers_is_a_hint_with_an_example_table(home):
    result = run_cli(home, "tools")
    assert result.returncode == 0, result.stderr
    assert "no MCP servers configured" in result.stdout and "[mcp.time]" in result.stdout
    assert str(home / "config" / "config.toml") in result.stdout
    result = run_cli(home, "tools", "list", "--json")
    assert json.loads(result.stdout) == {"servers": [], "tokens": 0}


def test_tools_list_shows_each_servers_tools_tokens_and_failures(home):
    write_mcp_config(home, {"t": mcp_stdio_table(), "dies": {**mcp_stdio_table("--exit"), "enabled": False}})
    result = run_cli(home, "tools", "list")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "t (stdio: " in out and "; on)" in out
    for tool in TOOL_NAMES:
        assert f"t__{tool}" in out
    assert "Add two integers." in out
    assert f"{len(TOOL_NAMES)} tools, ~" in out
    assert 'error: MCP server "dies" exited: mcp test server refuses to start' in out
    assert "off unless a session turns it on" in out
    assert f"these {len(TOOL_NAMES)} tools add ~" in out and "tokens to every request when enabled" in out
    # the hostile description is shown, but no escape sequence reaches the terminal
    assert "Hostile" in out and "\x1b" not in out and "\x07" not in out and "␛]0;pwned" in out
    # the server's stderr went to its log, not ours
    assert "refuses to start" not in result.stderr
    assert "refuses to start" in (home / "logs" / "mcp-dies.log").read_text()


def test_tools_json_lists_servers_tools_and_tokens(home):
    write_mcp_config(home, {"t": mcp_stdio_table(), "dies": mcp_stdio_table("--exit")})
    for args in (("tools", "--json"), ("tools", "list", "--json")):
        result = run_cli(home, *args)
        assert result.returncode == 0, result.stderr
        assert "\x1b" not in result.stdout
        data = json.loads(result.stdout)
        t, dies = data["servers"]
        assert (t["name"], t["transport"], t["enabled"], t["error"]) == ("t", "stdio", True, None)
        assert [tool["tool"] for tool in t["tools"]] == list(TOOL_NAMES)
        add = t["tools"][0]
        assert add == {"name": "t__add", "tool": "add", "description": "Add two integers.", "tokens": add["tokens"]}
        assert all(tool["tokens"] > 10 for tool in t["tools"])
        hostile = next(tool for tool in t["tools"] if tool["tool"] == "hostile")
        assert hostile["description"] == "Hostile \x1b]0;pwned\x07\x1b[2Jboom"  # whole, escaped in the JSON text
        assert sum(tool["tokens"] for tool in t["tools"]) * 0.9 < t["tokens"] <= data["tokens"]
        assert dies["tools"] == [] and dies["tokens"] == 0
        assert dies["error"] == 'MCP server "dies" exited: mcp test server refuses to start'


def test_every_server_failing_is_exit_4(home):
    write_mcp_config(home, {"nope": {"command": "no-such-program-agentspace"}})
    result = run_cli(home, "tools")
    assert result.returncode == 4
    assert 'error: MCP server "nope" could not start: no-such-program-agentspace not found' in result.stdout
    assert result.stderr.strip().splitlines()[-1] == "agentspace-tui: no MCP server could start"
