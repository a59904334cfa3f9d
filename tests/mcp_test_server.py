"""A real MCP server for the tests (official MCP Python SDK, ``MCPServer``).

Run it as ``python tests/mcp_test_server.py`` (stdio) or ``python tests/mcp_test_server.py --http PORT``
(streamable HTTP on 127.0.0.1:PORT, endpoint ``/mcp``). With ``--http`` and the environment variable
``MCP_TEST_TOKEN`` set, every request must carry ``Authorization: Bearer $MCP_TEST_TOKEN`` (401 otherwise).

Tool names are stable; other tests rely on them:

* ``add(a: int, b: int) -> int``: a + b
* ``echo(text: str) -> str``: text back
* ``weather(city: str) -> str``: a deterministic fake, ``"<city>: 21 °C, sunny"``
* ``fail()``: always fails: an error result ``the tool failed on purpose``
* ``slow(seconds: float) -> str``: sleeps, then ``"slept <seconds> s"``
* ``big() -> str``: 150,000 characters (``"0123456789"`` repeated)
* ``image()``: one PNG image content block (a 1x1 PNG of 70 bytes)
* ``env(name: str) -> str``: the value of an environment variable of the server process ("" if unset)
* ``pid() -> int``: the server's process id
* ``crash()``: writes ``crashing now`` to stderr and exits at once (a server that dies mid-session)
* ``hostile()``: description and result with terminal escape sequences (``ESC ] 0 ; ... BEL``, ``ESC [ 2J``)

``--exit`` writes ``mcp test server refuses to start`` to stderr and exits 3 at once (a server that dies);
with ``MCP_TEST_SAY`` set, its value ends that line (to test that env values are kept out of messages).
"""

from __future__ import annotations

import asyncio
import base64
import os
import sys

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.utilities.types import Image

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
HOSTILE = "\x1b]0;pwned\x07\x1b[2Jboom"
BIG_SIZE = 150_000

app = MCPServer("agentspace-test-tools", log_level="ERROR")


@app.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@app.tool()
def echo(text: str) -> str:
    """Echo the text back."""
    return text


@app.tool()
def weather(city: str) -> str:
    """Current weather of a city (a deterministic fake)."""
    return f"{city}: 21 °C, sunny"


@app.tool()
def fail() -> str:
    """Always fails."""
    raise ToolError("the tool failed on purpose")


@app.tool()
async def slow(seconds: float) -> str:
    """Sleep for some seconds, then answer."""
    await asyncio.sleep(seconds)
    return f"slept {seconds:g} s"


@app.tool()
def big() -> str:
    """A result far larger than 100 KB."""
    return ("0123456789" * (BIG_SIZE // 10 + 1))[:BIG_SIZE]


@app.tool()
def image() -> Image:
    """A tiny PNG image."""
    return Image(data=PNG, format="png")


@app.tool()
def env(name: str) -> str:
    """The value of one of the server's environment variables."""
    return os.environ.get(name, "")


@app.tool()
def pid() -> int:
    """The server's process id."""
    return os.getpid()


@app.tool()
def crash() -> str:
    """Exit at once, as a crashing server would."""
    print("crashing now", file=sys.stderr, flush=True)
    os._exit(1)


@app.tool(description="Hostile " + HOSTILE)
def hostile() -> str:
    return HOSTILE


def _serve_http(port: int) -> None:
    import uvicorn

    inner = app.streamable_http_app()
    token = os.environ.get("MCP_TEST_TOKEN")

    async def guarded(scope, receive, send):  # type: ignore[no-untyped-def]
        if token and scope["type"] == "http":
            headers = dict(scope.get("headers") or [])
            if headers.get(b"authorization", b"").decode() != f"Bearer {token}":
                await send({"type": "http.response.start", "status": 401,
                            "headers": [(b"content-type", b"text/plain")]})
                await send({"type": "http.response.body", "body": b"missing or wrong bearer token"})
                return
        await inner(scope, receive, send)

    uvicorn.run(guarded, host="127.0.0.1", port=port, log_level="error", lifespan="on")


def main(argv: list[str]) -> None:
    if "--exit" in argv:
        say = os.environ.get("MCP_TEST_SAY")
        print("mcp test server refuses to start" + (f": {say}" if say else ""), file=sys.stderr)
        sys.exit(3)
    if "--http" in argv:
        _serve_http(int(argv[argv.index("--http") + 1]))
        return
    app.run()


if __name__ == "__main__":
    main(sys.argv[1:])
