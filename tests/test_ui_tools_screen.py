"""The tools screen (F3, ``/tools``) and the app's MCP servers: started when a session is shown, stopped at exit.
Real MCP test server (tests/mcp_test_server.py) over stdio; pilot tests and one snapshot."""

from __future__ import annotations

import sys

from rich.text import Text
from textual.widgets import OptionList, Static

from agentspace_tui.ui.screens.tools import ToolsScreen
from tests.mcp_fixtures import SERVER_SCRIPT, TOOL_NAMES, child_running, mcp_stdio_table, write_mcp_config
from tests.test_ui_app import SIZE, command, make_app, notices, started, until
from tests.test_ui_snapshots_app import TERMINAL, app_factory, measured, seed_conversation, wait_until

MODEL = "openai:gpt-4o-mini"


def slow_table(delay: float) -> dict:
    """The test server, answering only after ``delay`` seconds (a slow server)."""
    return {"command": "sh", "args": ["-c", f'sleep {delay}; exec "$PY" "$SRV"'],
            "env": {"PY": sys.executable, "SRV": str(SERVER_SCRIPT)}}


def rows(screen: ToolsScreen) -> list[str]:
    listing = screen.query_one(OptionList)
    out = []
    for i in range(listing.option_count):
        prompt = listing.get_option_at_index(i).prompt
        out.append(prompt.plain if isinstance(prompt, Text) else str(prompt))
    return out


def summary(screen: ToolsScreen) -> str:
    content = screen.query_one("#tools-summary", Static).content
    return content.plain if isinstance(content, Text) else str(content)


def row_of(screen: ToolsScreen, name: str) -> str:
    """The row of a server or tool, by the option's id ("server:NAME", "tool:NAME")."""
    listing = screen.query_one(OptionList)
    for i in range(listing.option_count):
        option = listing.get_option_at_index(i)
        if option.id and option.id.split(":", 1)[1] == name:
            prompt = option.prompt
            return prompt.plain if isinstance(prompt, Text) else str(prompt)
    raise AssertionError(f"no row {name}: {rows(screen)}")


async def highlight(pilot, screen: ToolsScreen, name: str) -> None:
    listing = screen.query_one(OptionList)
    ids = [listing.get_option_at_index(i).id for i in range(listing.option_count)]
    listing.highlighted = next(i for i, oid in enumerate(ids) if oid and oid.split(":", 1)[1] == name)
    await pilot.pause()


async def server_pid(app) -> int:
    spec = next(s for s in app.services.tools.hub.known_tools() if s.server == "t" and s.tool == "pid")
    outcome = await app.services.tools.call(spec, {})
    assert not outcome.is_error, outcome.text
    return int(outcome.text)


async def test_servers_start_with_the_session_and_stop_at_exit(home, llm):
    write_mcp_config(home, {"t": mcp_stdio_table(), "bad": mcp_stdio_table("--exit")})
    app = make_app(model=MODEL)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, measured=True)
        hub = app.services.tools.hub
        # before any send: the servers in use are started in the background, the inspector counts their tools
        await until(lambda: "t" in hub.listed() and "bad" in hub.errors(), what="the servers to start")
        await until(lambda: app.last_inspection.section("tools").tokens > 0, what="the inspector to count tools")
        await until(lambda: any('MCP server "bad"' in n for n in notices(app)), what="the failure notice")
        pid = await server_pid(app)
        assert child_running(pid)
        # a new chat: the same servers, nothing started twice
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert await server_pid(app) == pid
    assert not child_running(pid)  # the app left no MCP server behind


async def test_tools_screen_as_people_use_it(home, llm):
    write_mcp_config(home, {"t": mcp_stdio_table(), "slow": slow_table(2.0), "bad": mcp_stdio_table("--exit"),
                            "off": mcp_stdio_table(enabled=False)})
    app = make_app(model=MODEL)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await pilot.press("f3")  # before the servers answered
        await until(lambda: isinstance(app.screen, ToolsScreen), what="the tools screen")
        screen = app.screen
        assert isinstance(screen, ToolsScreen)
        assert "starting…" in row_of(screen, "slow")
        await until(lambda: "11 tools" in row_of(screen, "t") and "bad" in app.services.tools.hub.errors(),
                    what="t listed, bad failed")
        assert "starting…" in row_of(screen, "slow")  # a slow server holds up nobody
        bad = row_of(screen, "bad")
        assert len(bad.split("\n")) == 2 and 'MCP server "bad"' in bad.split("\n")[1]
        assert "enabled tools add ~" in summary(screen) and "to every request" in summary(screen)
        await until(lambda: "11 tools" in row_of(screen, "slow") and "11 tools" in row_of(screen, "off"),
                    timeout=20, what="slow and off listed")
        assert row_of(screen, "off").startswith("[ ] off") and row_of(screen, "t").startswith("[x] t")
        assert summary(screen).split("·")[1].strip().startswith(f"{2 * len(TOOL_NAMES)} enabled tools")

        # toggling quickly, several times: the last state wins, on screen and stored
        await highlight(pilot, screen, "t__add")
        assert "[x] t__add" in row_of(screen, "t__add") and "Add two integers." in row_of(screen, "t__add")
        await pilot.press("space", "space", "space", "enter", "space")
        assert "[ ] t__add" in row_of(screen, "t__add")
        await pilot.press("a")  # always allow the highlighted tool
        assert "always allowed" in row_of(screen, "t__add")
        await pilot.press("down", "space")  # t__echo off
        assert "[ ] t__echo" in row_of(screen, "t__echo")
        # keys in the wrong place: always-allow on a server header is a note, not a change
        await highlight(pilot, screen, "off")
        before = dict(screen.choices)
        await pilot.press("a", "x", "left")
        assert screen.choices == before
        assert "per tool" in screen.query_one("#tools-note", Static).content.plain
        await pilot.press("space")  # the server off by default, on for this chat: all its tools
        assert row_of(screen, "off").startswith("[x] off")
        assert "[x] off__add" in row_of(screen, "off__add")
        # hostile description: shown as visible text, no escape sequence reaches the terminal
        hostile = row_of(screen, "t__hostile")
        assert "\x1b" not in hostile and "\x07" not in hostile

        await pilot.press("escape")
        await until(lambda: not isinstance(app.screen, ToolsScreen), what="the screen to close")
        sid = app.conversation.session_id
        assert sid is not None  # the new chat was created to keep the choices
        await until(lambda: (app.services.session(sid).get("tools") or {}).get("enabled") == ["off"],
                    what="the choices to be stored")
        stored = app.services.session(sid)["tools"]
        assert stored["disabled"] == ["t__add", "t__echo"] and stored["always_allow"] == ["t__add"]
        # the inspector counts only the enabled tools
        expected = 3 * len(TOOL_NAMES) - 2
        assert app.conversation.inspect().section("tools").tokens > 0
        await until(lambda: len(app.services.tools.definitions(app.conversation.session.get("tools"))) == expected)
        await until(lambda: app.last_inspection is not None
                    and app.last_inspection.section("tools").tokens == app.conversation.inspect().section("tools").tokens,
                    what="the inspector to refresh")

        # reopen (by /tools this time): the state is kept
        await command(pilot, "/tools")
        await until(lambda: isinstance(app.screen, ToolsScreen), what="the tools screen again")
        screen = app.screen
        assert "[ ] t__add" in row_of(screen, "t__add") and "always allowed" in row_of(screen, "t__add")
        assert row_of(screen, "off").startswith("[x] off")
        assert summary(screen).split("·")[1].strip().startswith(f"{expected} enabled tools")
        await pilot.press("f3")  # F3 closes it too
        await until(lambda: not isinstance(app.screen, ToolsScreen), what="F3 to close the screen")

        # the one-line command
        await command(pilot, "/tools on t__add")
        await until(lambda: any("t__add on for this chat" in n for n in notices(app)), what="the outcome")
        await command(pilot, "/tools on nope")
        await until(lambda: any("no server or tool 'nope'" in n for n in notices(app)), what="the unknown name")


async def test_f3_without_servers_is_one_line(home, llm):
    app = make_app(model=MODEL)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        await pilot.press("f3")
        await pilot.pause()
        assert not isinstance(app.screen, ToolsScreen)
        await until(lambda: any("[mcp.time]" in n for n in notices(app)), what="the example")


def test_tools_screen_snapshot(snap_compare, home):
    # commands without paths of this machine, so the picture is the same everywhere
    write_mcp_config(home, {
        "files": {"command": "sh", "args": ["-c", 'exec "$PY" "$SRV"'],
                  "env": {"PY": sys.executable, "SRV": str(SERVER_SCRIPT)}},
        "broken": {"command": "sh", "args": ["-c", "echo no such database >&2; exit 3"]},
    })
    app = app_factory(session=seed_conversation())

    async def run_before(pilot) -> None:
        await measured(pilot)
        hub = app.services.tools.hub
        await wait_until(pilot, lambda: "files" in hub.listed() and "broken" in hub.errors())
        await pilot.press("f3")
        await wait_until(pilot, lambda: isinstance(app.screen, ToolsScreen))
        screen = app.screen
        await highlight(pilot, screen, "files__echo")
        await pilot.press("space", "down", "a")
        await app.workers.wait_for_complete()
        await pilot.pause()

    assert snap_compare(app, terminal_size=TERMINAL, run_before=run_before)
