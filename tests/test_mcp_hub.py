"""The MCP client layer (agentspace_tui/toolservers) against the real MCP test server (tests/mcp_test_server.py),
over stdio and streamable HTTP: listing, calls, errors as one line, secrets kept out, processes reaped."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import time

import pytest
import pytest_asyncio

from agentspace_tui.config.mcp import McpServerConfig
from agentspace_tui.tokens import count
from agentspace_tui.toolservers import (
    McpHub,
    ToolServerError,
    ToolSpec,
    function_name,
    schema_tokens,
    split_name,
    tool_tokens,
)
from agentspace_tui.toolservers.results import RESULT_MAX
from tests import mcp_fixtures
from tests.mcp_fixtures import TOOL_NAMES, child_running, stdio_server_config

mcp_http_url = mcp_fixtures.mcp_http_url  # module-scoped fixtures: the streamable HTTP test server
mcp_http_token = mcp_fixtures.mcp_http_token

module_loop = pytest.mark.asyncio(loop_scope="module")  # shares the module's hub and server
SECRET = "s3cret-VALUE-4242"


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def hub(tmp_path_factory):
    """One started server for the module (each start costs about a second)."""
    logs = tmp_path_factory.mktemp("mcplogs") / "logs"
    h = McpHub({"t": stdio_server_config("t", timeout=1.0)}, logs)
    yield h
    await h.close()


def spec(tool: str, server: str = "t") -> ToolSpec:
    return ToolSpec(server, tool, "", {})


# -- specs ------------------------------------------------------------------------------------------------------
def test_function_names_are_safe_short_and_distinct():
    assert function_name("files", "read_file") == "files__read_file"
    assert function_name("files", "read.file v2") == "files__read_file_v2"
    long_a, long_b = function_name("s", "x" * 100 + "a"), function_name("s", "x" * 100 + "b")
    assert len(long_a) == len(long_b) == 64 and long_a != long_b
    assert all(c.isalnum() or c in "_-" for c in long_a)


def test_function_definitions_are_object_schemas_with_capped_descriptions():
    odd = ToolSpec("s", "t", "d" * 5000, {"type": "array", "items": {}})
    f = odd.function()
    assert f["type"] == "function" and f["function"]["name"] == "s__t"
    assert f["function"]["parameters"] == {"type": "object", "properties": {}}
    assert len(f["function"]["description"]) <= 1024
    plain = ToolSpec("s", "t", "", {"$schema": "x", "required": ["a"], "properties": {"a": {"type": "string"}}})
    params = plain.function()["function"]["parameters"]
    assert params == {"type": "object", "required": ["a"], "properties": {"a": {"type": "string"}}}
    assert plain.function()["function"]["description"]  # never empty
    assert ToolSpec("s", "t", "", {}).function()["function"]["parameters"] == {"type": "object", "properties": {}}


def test_token_counts_are_what_the_definitions_add_to_a_request():
    specs = [ToolSpec("s", "a", "Add two integers.", {"type": "object", "properties": {"a": {"type": "integer"}}}),
             ToolSpec("s", "b", "Echo.", {})]
    assert tool_tokens(specs[0], "o200k_base") == count(json.dumps(specs[0].function()), "o200k_base")
    assert schema_tokens(specs, "cl100k_base") == count(json.dumps([s.function() for s in specs]), "cl100k_base")
    assert schema_tokens([], "cl100k_base") == 0
    assert split_name("s__b", specs) is specs[1] and split_name("s__c", specs) is None


# -- stdio ------------------------------------------------------------------------------------------------------
@module_loop
async def test_tools_are_listed_once_and_known_afterwards(hub):
    assert hub.known_tools() == [] or hub.known_tools()  # nothing listed before (or by an earlier test)
    tools = await hub.tools("t")
    assert tuple(t.tool for t in tools) == TOOL_NAMES
    add = split_name("t__add", tools)
    assert add is not None and add.description == "Add two integers."
    assert add.function()["function"]["parameters"]["required"] == ["a", "b"]
    assert await hub.tools("t") == tools and hub.known_tools() == tools


@module_loop
async def test_calls_return_text_and_errors_come_back_as_one_line(hub):
    ok = await hub.call(spec("add"), {"a": 2, "b": 3})
    assert (ok.text, ok.is_error) == ("5", False) and ok.duration >= 0
    failed = await hub.call(spec("fail"), {})
    assert failed.is_error and "the tool failed on purpose" in failed.text
    unknown = await hub.call(spec("nope"), {})
    assert unknown.is_error and "nope" in unknown.text and "\n" not in unknown.text
    bad_args = await hub.call(spec("add"), {"a": "x"})
    assert bad_args.is_error
    no_server = await hub.call(spec("add", server="ghost"), {"a": 1, "b": 1})
    assert no_server.is_error and "ghost" in no_server.text


@module_loop
async def test_a_slow_tool_times_out_and_the_server_still_answers(hub):
    started = time.monotonic()
    late = await hub.call(spec("slow"), {"seconds": 5})
    assert late.is_error and "did not answer slow in 1 s" in late.text
    assert time.monotonic() - started < 4
    assert (await hub.call(spec("echo"), {"text": "still here"})).text == "still here"


@module_loop
async def test_big_results_are_capped_and_images_are_placeholders(hub):
    big = await hub.call(spec("big"), {})
    assert not big.is_error and big.text.startswith("0123456789")
    assert RESULT_MAX < len(big.text) < RESULT_MAX + 200 and "cut: the tool returned 150,000 characters" in big.text
    image = await hub.call(spec("image"), {})
    assert image.text == "[image/png, 70 bytes]" and not image.is_error


@module_loop
async def test_calls_run_concurrently_and_cancelling_one_cancels_only_it(hub):
    started = time.monotonic()
    results = await asyncio.gather(*(hub.call(spec("slow"), {"seconds": 0.5}) for _ in range(3)))
    assert [r.text for r in results] == ["slept 0.5 s"] * 3 and time.monotonic() - started < 1.4
    task = asyncio.create_task(hub.call(spec("slow"), {"seconds": 0.8}))
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert (await hub.call(spec("add"), {"a": 1, "b": 1})).text == "2"


@module_loop
async def test_a_server_that_dies_is_one_line_and_the_next_call_starts_it_again(hub):
    first_pid = int((await hub.call(spec("pid"), {})).text)
    died = await hub.call(spec("crash"), {})
    assert died.is_error and died.text == 'MCP server "t" exited: crashing now'
    again = await hub.call(spec("pid"), {})
    assert not again.is_error and int(again.text) != first_pid
    assert not child_running(first_pid)


@module_loop
async def test_the_server_log_is_private_and_env_values_are_kept_out(hub):
    await hub.tools("t")
    log = hub.log_dir / "mcp-t.log"
    assert stat.S_IMODE(log.stat().st_mode) == 0o600 and stat.S_IMODE(hub.log_dir.stat().st_mode) == 0o700
    assert "crashing now" in log.read_text()


@module_loop
async def test_servers_that_cannot_start_are_one_line_each(tmp_path, capfd):
    servers = {
        "nope": McpServerConfig("nope", command="no-such-program-agentspace"),
        "dies": stdio_server_config("dies", "--exit", env={"MCP_TEST_SAY": SECRET}),
        "nowhere": McpServerConfig("nowhere", command="python3", cwd=str(tmp_path / "missing")),
        "ok": stdio_server_config("ok"),
    }
    h = McpHub(servers, tmp_path / "logs")
    try:
        started = time.monotonic()
        specs, errors = await h.all_tools()
        assert time.monotonic() - started < 10
        assert {s.server for s in specs} == {"ok"}
        assert errors == {
            "nope": 'MCP server "nope" could not start: no-such-program-agentspace not found',
            "dies": 'MCP server "dies" exited: mcp test server refuses to start: ***',
            "nowhere": f'MCP server "nowhere" could not start: folder {tmp_path / "missing"} not found',
        }
        assert h.listed() == ["ok"] and h.errors() == errors
        assert SECRET in (tmp_path / "logs" / "mcp-dies.log").read_text()  # the server's own words, in its log
        with pytest.raises(ToolServerError) as raised:  # not tried again at once
            await h.tools("dies")
        assert str(raised.value) == errors["dies"]
        outcome = await h.call(spec("add", server="dies"), {"a": 1, "b": 2})
        assert outcome.is_error and outcome.text == errors["dies"]
        with pytest.raises(ToolServerError, match='no MCP server "ghost"'):
            await h.tools("ghost")
    finally:
        await h.close()
    captured = capfd.readouterr()
    assert "refuses to start" not in captured.err and SECRET not in captured.err + captured.out


@module_loop
async def test_close_stops_and_reaps_every_server_process(tmp_path):
    h = McpHub({"a": stdio_server_config("a"), "b": stdio_server_config("b")}, tmp_path / "logs")
    await h.all_tools()
    pids = [int((await h.call(spec("pid", server=name), {})).text) for name in ("a", "b")]
    assert all(child_running(pid) for pid in pids)
    await h.close()
    assert not any(child_running(pid) for pid in pids)
    await h.close()  # twice is fine
    assert h.known_tools()  # what was listed stays known


# -- streamable HTTP ---------------------------------------------------------------------------------------------
@module_loop
async def test_http_servers_list_and_call(tmp_path, mcp_http_url):
    h = McpHub({"web": McpServerConfig("web", url=mcp_http_url)}, tmp_path / "logs")
    try:
        tools = await h.tools("web")
        assert tuple(t.tool for t in tools) == TOOL_NAMES
        assert (await h.call(spec("weather", server="web"), {"city": "Oslo"})).text == "Oslo: 21 °C, sunny"
    finally:
        await h.close()


@module_loop
async def test_http_bearer_token_is_sent_and_never_shown(tmp_path, mcp_http_token, monkeypatch):
    url, token = mcp_http_token
    config = McpServerConfig("web", url=url, bearer_token_env="AGENTSPACE_TEST_MCP_TOKEN")
    monkeypatch.delenv("AGENTSPACE_TEST_MCP_TOKEN", raising=False)
    h = McpHub({"web": config}, tmp_path / "logs")
    with pytest.raises(ToolServerError) as missing:
        await h.tools("web")
    assert str(missing.value) == ('MCP server "web" could not start: environment variable '
                                  "AGENTSPACE_TEST_MCP_TOKEN is not set")
    monkeypatch.setenv("AGENTSPACE_TEST_MCP_TOKEN", "wrong-" + token)
    h = McpHub({"web": config}, tmp_path / "logs")
    with pytest.raises(ToolServerError) as refused:
        await h.tools("web")
    assert "401" in str(refused.value) and token not in str(refused.value) and "\n" not in str(refused.value)
    monkeypatch.setenv("AGENTSPACE_TEST_MCP_TOKEN", token)
    h = McpHub({"web": config}, tmp_path / "logs")
    try:
        assert len(await h.tools("web")) == len(TOOL_NAMES)
        assert (await h.call(spec("add", server="web"), {"a": 40, "b": 2})).text == "42"
    finally:
        await h.close()
    assert token not in "".join(p.read_text() for p in (tmp_path / "logs").iterdir())


@module_loop
async def test_an_http_server_that_is_not_there_is_one_line(tmp_path):
    from tests.mcp_fixtures import free_port

    url = f"http://127.0.0.1:{free_port()}/mcp"
    h = McpHub({"web": McpServerConfig("web", url=url)}, tmp_path / "logs")
    with pytest.raises(ToolServerError, match=f'MCP server "web" could not start: cannot connect to {url}'):
        await h.tools("web")
    await h.close()
    assert os.listdir(tmp_path / "logs") == ["mcp-web.log"]
