"""Per-session MCP tool choices (services/session_tools.py) and ``/tools``, against the real MCP test server."""

from __future__ import annotations

import asyncio

from agentspace_tui.services.chat_session import ChatSession
from agentspace_tui.services.core import build_services
from agentspace_tui.services.session_tools import (
    chat_overview,
    server_of,
    set_always_allow,
    start_for_session,
    start_server,
    toggle_choices,
    unstarted_in_use,
)
from agentspace_tui.toolservers.specs import schema_tokens
from tests.mcp_fixtures import TOOL_NAMES, mcp_stdio_table, write_mcp_config

MODEL = "openai:gpt-4o-mini"


def _chat(home, servers: dict | None = None) -> ChatSession:
    if servers:
        write_mcp_config(home, servers)
    services = build_services(home)
    return ChatSession(services, services.resolve_model(MODEL))


def test_no_servers_configured_is_one_line_with_an_example(home):
    chat = _chat(home)
    for line in ("/tools", "/tools on t__add"):
        outcome = chat.execute(line)
        assert outcome.ui is None and outcome.kind == "warning"
        assert "[mcp.time]" in outcome.text and "command" in outcome.text and "\n" not in outcome.text
    assert chat.session_id is None  # nothing was created for nothing
    assert chat_overview(chat).servers == ()


def test_overview_choices_and_the_command(home):
    chat = _chat(home, {"t": mcp_stdio_table(), "off": mcp_stdio_table(enabled=False)})
    services = chat.services
    assert chat.execute("/tools").ui == "tools"

    async def go() -> None:
        try:
            before = chat_overview(chat, starting=["t"])
            assert [(s.name, s.state, s.on) for s in before.servers] == [("t", "starting", True), ("off", "not started", False)]
            assert before.tokens == 0 and before.enabled == 0
            # only the servers the session uses start with it: "off" is off by default
            assert unstarted_in_use(services, chat.session) == ["t"]
            assert await start_for_session(services, chat.session) == {}
            assert unstarted_in_use(services, chat.session) == []
            view = chat_overview(chat)
            t, off = view.servers
            assert t.state == "listed" and off.state == "not started"
            assert [row.tool for row in t.tools] == list(TOOL_NAMES)
            assert all(row.on and row.tokens > 0 and not row.always_allowed for row in t.tools)
            assert t.transport == "stdio" and "mcp_test_server.py" in t.where
            specs = services.tools.hub.known_tools()
            assert view.tokens == schema_tokens(specs, "o200k_base") and view.enabled == len(TOOL_NAMES)
            assert view.cost is not None and view.cost > 0
            inspected = chat.inspect().section("tools").tokens
            assert inspected == view.tokens  # what the screen says is what the inspector counts

            # a new chat: the first choice creates the session, so it is not lost
            assert chat.session_id is None
            assert chat.execute("/tools off t__add").text == "t__add off for this chat"
            sid = chat.session_id
            assert sid is not None
            assert services.session(sid)["tools"]["disabled"] == ["t__add"]
            assert chat.inspect().section("tools").tokens < inspected
            again = chat_overview(chat)
            assert [r.name for r in again.servers[0].tools if not r.on] == ["t__add"]
            assert again.enabled == len(TOOL_NAMES) - 1
            # back to the default: nothing is kept, so a later change of config.toml reaches it
            assert chat.execute("/tools on t__add").text == "t__add on for this chat"
            assert services.session(sid)["tools"]["disabled"] == []

            # a server off by default, turned on: it starts, its tools count
            assert chat.execute("/tools on off").text == "off on for this chat"
            assert unstarted_in_use(services, chat.session) == ["off"]
            assert await start_server(services, "off") == ""
            view = chat_overview(chat)
            assert view.servers[1].on and all(r.on for r in view.servers[1].tools)
            assert view.enabled == 2 * len(TOOL_NAMES)

            # a whole server off drops its per-tool choices; its tools follow it
            chat.execute("/tools on off__echo")  # equal to the default now: nothing stored
            chat.execute("/tools off t__echo")
            assert chat.execute("/tools off t").text == "t off for this chat"
            stored = services.session(sid)["tools"]
            assert stored["disabled"] == ["t"] and stored["enabled"] == ["off"]
            assert not any(r.on for r in chat_overview(chat).servers[0].tools)
            chat.execute("/tools on t__weather")  # one tool of a server that is off
            view = chat_overview(chat)
            assert [r.tool for r in view.servers[0].tools if r.on] == ["weather"]

            # always allow
            assert "without asking" in set_always_allow(chat, "t__weather", True)
            assert services.session(sid)["tools"]["always_allow"] == ["t__weather"]
            assert [r.name for r in chat_overview(chat).servers[0].tools if r.always_allowed] == ["t__weather"]
            set_always_allow(chat, "t__weather", False)
            assert services.session(sid)["tools"]["always_allow"] == []

            # the choices are the session's: a reopened session has them
            reopened, _ = ChatSession.open(services, sid)
            assert [r.tool for r in chat_overview(reopened).servers[0].tools if r.on] == ["weather"]

            # unknown names, bad usage: one line each, nothing stored
            before_bad = services.session(sid)["tools"]
            bad = chat.execute("/tools on nope")
            assert bad.kind == "error" and "'nope'" in bad.text and "t, off, t__add" in bad.text
            assert "\n" not in bad.text
            assert chat.execute("/tools on t__nope").kind == "error"  # t is listed: its tools are known
            for line in ("/tools frob t", "/tools on", "/tools off  "):
                outcome = chat.execute(line)
                assert outcome.kind == "error" and outcome.text.startswith("usage: /tools")
            assert services.session(sid)["tools"] == before_bad
        finally:
            await services.tools.close()

    asyncio.run(go())


def test_a_tool_of_a_server_not_listed_yet_is_taken(home):
    chat = _chat(home, {"t": mcp_stdio_table()})
    outcome = chat.execute("/tools off t__add")
    assert outcome.kind == "info" and outcome.text == "t__add off for this chat (t has not listed its tools yet)"
    assert chat.services.session(chat.session_id)["tools"]["disabled"] == ["t__add"]


def test_a_server_that_fails_is_one_line_and_the_others_still_list(home, monkeypatch):
    monkeypatch.setenv("MCP_TEST_SAY", "sekrit-value")
    chat = _chat(home, {"bad": mcp_stdio_table("--exit", env={"MCP_TEST_SAY": "sekrit-value"}), "t": mcp_stdio_table()})
    services = chat.services

    async def go() -> None:
        try:
            errors = await start_for_session(services, chat.session)
            assert set(errors) == {"bad"}
            view = chat_overview(chat)
            bad, t = view.servers
            assert bad.state == "failed" and bad.tools == () and "\n" not in bad.error
            assert 'MCP server "bad"' in bad.error and "sekrit-value" not in bad.error
            assert t.state == "listed" and len(t.tools) == len(TOOL_NAMES)
            assert view.enabled == len(TOOL_NAMES)
            assert unstarted_in_use(services, chat.session) == []  # a failed server is not retried at once
            assert (await start_server(services, "bad")) == bad.error
        finally:
            await services.tools.close()

    asyncio.run(go())


def test_server_of_takes_the_longest_server_name(home):
    servers = {"a": None, "a__b": None, "x": None}
    assert server_of("a__b__read", servers) == "a__b"  # type: ignore[arg-type]
    assert server_of("a__read", servers) == "a"  # type: ignore[arg-type]
    assert server_of("x__", servers) is None and server_of("y__z", servers) is None  # type: ignore[arg-type]


def test_toggle_choices_keeps_only_choices_that_differ_from_the_default(home):
    chat = _chat(home, {"t": mcp_stdio_table(), "off": mcp_stdio_table(enabled=False)})
    services = chat.services
    choices = toggle_choices(services, None, "off", True)
    assert choices["enabled"] == ["off"]
    choices = toggle_choices(services, choices, "off", False)
    assert choices["enabled"] == [] and choices["disabled"] == []
    choices = toggle_choices(services, choices, "t", True)  # t is on by default
    assert choices["enabled"] == [] and choices["disabled"] == []
