"""Connections to the configured MCP servers (official MCP Python SDK), each started on demand and kept.

A server starts the first time its tools are listed or one is called, then stays connected until ``close()``.
The SDK's transports and ``ClientSession`` are anyio context managers that must be entered and left in one
task, so each server has an owner task that enters them, answers ``initialize`` and ``tools/list``, then waits
for ``close()`` and leaves them (which stops the server process and reaps it). Calls are made on the session
from the caller's own task (the SDK's sessions take concurrent requests from any task of the loop), so a
caller's cancellation cancels its call and nothing else. A server that dies is started again by the next call;
one that failed to start is not tried again for ``RETRY_AFTER`` seconds.

A stdio server's stderr goes to ``log_dir/mcp-NAME.log`` (never to ours: it would corrupt the full-screen app);
its last line explains a server that exits. Every message is one line with the ``env`` values of the config and
the bearer token replaced by ``***``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from ..config.mcp import McpServerConfig
from .results import last_line, one_line, result_text
from .specs import ToolSpec

if TYPE_CHECKING:
    from mcp import ClientSession

START_TIMEOUT = 15.0  # seconds for a server to start and answer initialize and tools/list
STOP_TIMEOUT = 10.0  # seconds close() waits for a server to stop before cancelling its owner task
RETRY_AFTER = 30.0  # a server that failed to start is not tried again sooner
CALL_GRACE = 5.0  # beyond the tool timeout, in case the SDK's own timeout does not fire
LIST_PAGES_MAX = 50
_LOG_TAIL = 8192


class ToolServerError(Exception):
    """A server that could not start or list its tools; the message is one line for the user."""


@dataclass(frozen=True)
class ToolOutcome:
    """A tool call's result text (or a one-line error), and how long it took in seconds."""

    text: str
    is_error: bool
    duration: float


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for sub in exc.exceptions for leaf in _leaves(sub)]
    return [exc]


class _Server:
    def __init__(self, config: McpServerConfig, log_dir: Path) -> None:
        self.config = config
        self.log_dir = log_dir
        self.specs: list[ToolSpec] | None = None
        self.session: ClientSession | None = None
        self.error: str | None = None
        self._failed_at = 0.0
        self._task: asyncio.Task[None] | None = None
        self._stop: asyncio.Event | None = None
        self._lock: asyncio.Lock | None = None
        self._log_path = log_dir / f"mcp-{config.name}.log"
        self._log_start = 0
        self._http_status: str | None = None

    @property
    def label(self) -> str:
        return f'MCP server "{self.config.name}"'

    def secrets(self) -> list[str]:
        found = [value for value in self.config.env.values() if len(value) >= 3]
        if self.config.bearer_token_env:
            found.append(os.environ.get(self.config.bearer_token_env, ""))
        return found

    def message(self, text: str) -> str:
        return one_line(f"{self.label} {text}", self.secrets())

    # -- the log ----------------------------------------------------------------------------------------
    def _open_log(self) -> TextIO:
        self.log_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self._log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with contextlib.suppress(OSError):
            os.fchmod(fd, 0o600)
        log = os.fdopen(fd, "a", encoding="utf-8", errors="replace")
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        log.write(f"--- {stamp} starting {one_line(self.config.describe(), self.secrets(), 1000)}\n")
        log.flush()
        self._log_start = os.fstat(fd).st_size
        return log

    def _note(self, line: str) -> None:
        with contextlib.suppress(OSError), open(self._log_path, "a", encoding="utf-8", errors="replace") as log:
            log.write(line + "\n")

    def last_stderr_line(self) -> str:
        try:
            with open(self._log_path, "rb") as log:
                size = os.fstat(log.fileno()).st_size
                log.seek(max(self._log_start, size - _LOG_TAIL))
                return last_line(log.read())
        except OSError:
            return ""

    def exited(self) -> str:
        if self.config.transport == "http":
            return self.message(f"closed the connection ({self.config.url})")
        last = self.last_stderr_line()
        return self.message(f"exited: {last}" if last else "exited")

    # -- starting and stopping --------------------------------------------------------------------------
    def alive(self) -> bool:
        return self.session is not None and self._task is not None and not self._task.done()

    async def start(self) -> list[ToolSpec]:
        """The server's tools, starting it if it is not running."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self.alive() and self.specs is not None:
                return self.specs
            if self.error and time.monotonic() - self._failed_at < RETRY_AFTER:
                raise ToolServerError(self.error)
            await self.stop()
            started, self._stop = asyncio.Event(), asyncio.Event()
            self.error = None
            self._task = asyncio.create_task(self._own(started, self._stop), name=f"mcp-{self.config.name}")
            await started.wait()
            if self.error or self.specs is None:
                self.error = self.error or self.message("could not start")
                self._failed_at = time.monotonic()
                raise ToolServerError(self.error)
            return self.specs

    async def stop(self) -> None:
        task, self._task = self._task, None
        if self._stop is not None:
            self._stop.set()
        if task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(task), STOP_TIMEOUT)
        except TimeoutError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.session = None

    def lost(self) -> None:
        """The connection closed under a call: leave it, so the next use starts the server again."""
        self.session = None
        if self._stop is not None:
            self._stop.set()

    async def _own(self, started: asyncio.Event, stop: asyncio.Event) -> None:
        """The owner task: enters the transport and session, keeps them until ``stop``, then leaves them."""
        try:
            async with contextlib.AsyncExitStack() as stack:
                session = await self._connect(stack)
                import anyio

                with anyio.fail_after(START_TIMEOUT):
                    await session.initialize()
                    specs = await self._list(session)
                self.session, self.specs = session, specs
                started.set()
                await stop.wait()
        except asyncio.CancelledError:
            if not started.is_set():
                self.error = self.message("was stopped while starting")
        except ToolServerError as exc:
            self.error = str(exc)
        except BaseException as exc:  # noqa: BLE001 - anything the SDK raises becomes one line for the user
            if not started.is_set():
                self.error = self._start_error(exc)
                self._note(f"--- {self.error}")
        finally:
            self.session = None
            started.set()

    async def _connect(self, stack: contextlib.AsyncExitStack) -> ClientSession:
        from mcp import ClientSession

        config = self.config
        log = stack.enter_context(self._open_log())
        if config.transport == "stdio":
            from mcp import StdioServerParameters, stdio_client

            if config.cwd and not Path(config.cwd).expanduser().is_dir():
                raise ToolServerError(self.message(f"could not start: folder {config.cwd} not found"))
            params = StdioServerParameters(
                command=config.command or "", args=list(config.args), env=dict(config.env) or None,
                cwd=str(Path(config.cwd).expanduser()) if config.cwd else None,
            )
            read, write = await stack.enter_async_context(stdio_client(params, errlog=log))
        else:
            import httpx2
            from mcp.client.streamable_http import streamable_http_client

            headers: dict[str, str] = {}
            if config.bearer_token_env:
                token = os.environ.get(config.bearer_token_env, "").strip()
                if not token:
                    raise ToolServerError(self.message(
                        f"could not start: environment variable {config.bearer_token_env} is not set"))
                headers["Authorization"] = f"Bearer {token}"

            async def remember_status(response: httpx2.Response) -> None:
                if response.status_code >= 400:
                    self._http_status = f"{response.status_code} {response.reason_phrase}".strip()

            self._http_status = None
            client = await stack.enter_async_context(httpx2.AsyncClient(
                headers=headers, timeout=httpx2.Timeout(30.0, read=300.0),
                event_hooks={"response": [remember_status]},
            ))
            read, write = await stack.enter_async_context(streamable_http_client(config.url or "", http_client=client))
        return await stack.enter_async_context(ClientSession(read, write))

    async def _list(self, session: ClientSession) -> list[ToolSpec]:
        from mcp.types import PaginatedRequestParams

        specs: list[ToolSpec] = []
        seen: set[str] = set()
        cursor: str | None = None
        for _ in range(LIST_PAGES_MAX):
            page = await session.list_tools(params=PaginatedRequestParams(cursor=cursor) if cursor else None)
            for tool in page.tools:
                spec = ToolSpec(self.config.name, tool.name, tool.description or "", dict(tool.input_schema or {}))
                if spec.name not in seen:  # two names that differ only in characters made "_": the first wins
                    seen.add(spec.name)
                    specs.append(spec)
            cursor = page.next_cursor
            if not cursor:
                break
        return specs

    def _start_error(self, exc: BaseException) -> str:
        from mcp import MCPError
        from mcp.types import CONNECTION_CLOSED

        leaves = [leaf for leaf in _leaves(exc) if not isinstance(leaf, asyncio.CancelledError)] or [exc]
        config = self.config
        for leaf in leaves:
            if isinstance(leaf, ToolServerError):
                return str(leaf)
            if isinstance(leaf, TimeoutError):
                last = self.last_stderr_line() if config.transport == "stdio" else ""
                return self.message(f"did not answer in {START_TIMEOUT:g} s" + (f": {last}" if last else ""))
            if isinstance(leaf, FileNotFoundError) and config.transport == "stdio":
                return self.message(f"could not start: {config.command} not found")
            if isinstance(leaf, PermissionError) and config.transport == "stdio":
                return self.message(f"could not start: {config.command} is not allowed to run")
        if self._http_status:
            return self.message(f"could not start: {config.url} answered HTTP {self._http_status}")
        for leaf in leaves:
            if isinstance(leaf, MCPError) and leaf.code == CONNECTION_CLOSED:
                return self.exited()
        leaf = leaves[0]
        if config.transport == "http" and type(leaf).__module__.startswith("httpx"):
            return self.message(f"could not start: cannot connect to {config.url} ({leaf or type(leaf).__name__})")
        if isinstance(leaf, OSError):
            return self.message(f"could not start: {leaf.strerror or leaf}")
        return self.message(f"could not start: {type(leaf).__name__}: {leaf}")


class McpHub:
    """The configured MCP servers, started on demand (see the module docstring). Use from one event loop."""

    def __init__(self, servers: Mapping[str, McpServerConfig], log_dir: Path) -> None:
        self.log_dir = log_dir  # mcp-NAME.log of each server (its stderr, and why it failed to start)
        self._servers = {name: _Server(config, log_dir) for name, config in servers.items()}

    @property
    def names(self) -> list[str]:
        return list(self._servers)

    def _server(self, name: str) -> _Server:
        server = self._servers.get(name)
        if server is None:
            raise ToolServerError(one_line(f'no MCP server "{name}" is configured'))
        return server

    async def tools(self, server: str) -> list[ToolSpec]:
        """The tools of one server, listed when it first starts (cached after); ToolServerError if it cannot."""
        entry = self._server(server)
        if entry.specs is not None:
            return list(entry.specs)
        return list(await entry.start())

    async def all_tools(self, names: Iterable[str] | None = None) -> tuple[list[ToolSpec], dict[str, str]]:
        """The tools of every server (or of ``names``), started concurrently; and server -> error for the rest."""
        wanted = list(self._servers) if names is None else [n for n in names if n in self._servers]
        results = await asyncio.gather(*(self.tools(name) for name in wanted), return_exceptions=True)
        specs: list[ToolSpec] = []
        errors: dict[str, str] = {}
        for name, result in zip(wanted, results, strict=True):
            if isinstance(result, ToolServerError):
                errors[name] = str(result)
            elif isinstance(result, BaseException):
                raise result
            else:
                specs.extend(result)
        return specs, errors

    def known_tools(self) -> list[ToolSpec]:
        """The tools listed so far, in the order of the config (no I/O)."""
        return [spec for server in self._servers.values() for spec in server.specs or ()]

    def listed(self) -> list[str]:
        """The servers whose tools have been listed (some may offer none), in the order of the config (no I/O)."""
        return [name for name, server in self._servers.items() if server.specs is not None]

    def errors(self) -> dict[str, str]:
        """Server -> the one-line reason it last failed to start (no I/O)."""
        return {name: server.error for name, server in self._servers.items() if server.error}

    async def call(self, spec: ToolSpec, arguments: dict[str, Any]) -> ToolOutcome:
        """Call a tool. Never raises for a failure of the server or the tool (the outcome is an error then);
        cancellation propagates."""
        started = time.monotonic()

        def failed(text: str) -> ToolOutcome:
            return ToolOutcome(text, True, time.monotonic() - started)

        try:
            server = self._server(spec.server)
            if not server.alive():
                await server.start()
        except ToolServerError as exc:
            return failed(str(exc))
        session = server.session
        if session is None:
            return failed(server.exited())
        import anyio
        from mcp import MCPError
        from mcp.types import CONNECTION_CLOSED, REQUEST_TIMEOUT

        timeout = server.config.timeout
        late = server.message(f"did not answer {spec.tool} in {timeout:g} s")
        try:
            with anyio.fail_after(timeout + CALL_GRACE):
                result = await session.call_tool(spec.tool, arguments, read_timeout_seconds=timeout)
        except MCPError as exc:
            if exc.code == REQUEST_TIMEOUT:
                return failed(late)
            if exc.code == CONNECTION_CLOSED:
                server.lost()
                await asyncio.sleep(0.05)  # let the last words of a dying server reach its log
                return failed(server.exited())
            return failed(server.message(f"refused {spec.tool}: {exc.message}"))
        except TimeoutError:
            return failed(late)
        except Exception as exc:  # noqa: BLE001 - a transport failure is the call's error, not a crash
            return failed(server.message(f"failed calling {spec.tool}: {type(exc).__name__}: {exc}"))
        text = result_text(result.content, result.structured_content)
        return ToolOutcome(text, bool(result.is_error), time.monotonic() - started)

    async def close(self) -> None:
        """Stop every server that was started, and wait for them (their processes are reaped)."""
        await asyncio.gather(*(server.stop() for server in self._servers.values()))
