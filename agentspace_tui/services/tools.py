"""Which MCP tools a session offers the model, and the one hub that runs them.

A session's choices (``SessionTools``) name servers ("files") or tools ("files__read"); a tool is on when the
session turned it (or its server) on, off when it turned it (or its server) off, and otherwise follows its
server's ``enabled`` in config.toml. The more specific choice wins: a tool's own over its server's.
Servers start on demand (toolservers/hub.py): when a session that uses them sends, or when tools are listed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..config.mcp import McpServerConfig
from ..domain import SessionTools

if TYPE_CHECKING:
    from ..toolservers.hub import McpHub, ToolOutcome
    from ..toolservers.specs import ToolSpec


def _choices(tools: SessionTools | Mapping[str, Any] | None) -> tuple[set[str], set[str]]:
    tools = tools or {}
    return set(tools.get("enabled") or []), set(tools.get("disabled") or [])


def server_on(server: McpServerConfig, tools: SessionTools | Mapping[str, Any] | None) -> bool:
    """Whether a server's tools are on by default in this session (before per-tool choices)."""
    enabled, disabled = _choices(tools)
    if server.name in disabled:
        return False
    return server.name in enabled or server.enabled


def tool_on(spec: ToolSpec, servers: Mapping[str, McpServerConfig], tools: SessionTools | Mapping[str, Any] | None) -> bool:
    enabled, disabled = _choices(tools)
    if spec.name in disabled:
        return False
    if spec.name in enabled:
        return True
    server = servers.get(spec.server)
    return server is not None and server_on(server, tools)


def servers_in_use(servers: Mapping[str, McpServerConfig], tools: SessionTools | Mapping[str, Any] | None) -> list[str]:
    """Servers this session may take tools from: those on by default, and those with a tool turned on."""
    enabled, _ = _choices(tools)
    picked = {name.split("__", 1)[0] for name in enabled}
    return [name for name, cfg in servers.items() if server_on(cfg, tools) or name in picked]


def toggled(
    tools: SessionTools | Mapping[str, Any] | None, name: str, on: bool, default: bool
) -> SessionTools:
    """The session's choices with ``name`` (a server or a tool) turned on or off; a choice equal to the
    default is not kept, so a later change of config.toml still reaches it."""
    enabled, disabled = _choices(tools)
    enabled.discard(name)
    disabled.discard(name)
    if on != default:
        (enabled if on else disabled).add(name)
    out: SessionTools = {"enabled": sorted(enabled), "disabled": sorted(disabled)}
    out["always_allow"] = list((tools or {}).get("always_allow") or [])
    return out


def with_always_allow(tools: SessionTools | Mapping[str, Any] | None, name: str, allow: bool = True) -> SessionTools:
    enabled, disabled = _choices(tools)
    allowed = [n for n in (tools or {}).get("always_allow") or [] if n != name]
    if allow:
        allowed.append(name)
    return {"enabled": sorted(enabled), "disabled": sorted(disabled), "always_allow": allowed}


def always_allowed(tools: SessionTools | Mapping[str, Any] | None, name: str) -> bool:
    return name in ((tools or {}).get("always_allow") or [])


def functions(specs: Sequence[ToolSpec]) -> list[dict[str, Any]] | None:
    """The tool definitions a request carries (None: no tools)."""
    return [spec.function() for spec in specs] or None


class Toolbox:
    """The app's or a CLI run's MCP servers: one hub, started lazily, closed at exit."""

    def __init__(self, servers: Mapping[str, McpServerConfig], log_dir: Any) -> None:
        self.servers = dict(servers)
        self._log_dir = log_dir  # a Path, or a callable giving one (paths.log_dir creates the folder)
        self._hub: McpHub | None = None
        self._definitions: tuple[tuple[str, ...], list[dict[str, Any]]] | None = None

    @property
    def configured(self) -> bool:
        return bool(self.servers)

    @property
    def hub(self) -> McpHub:
        if self._hub is None:
            from ..toolservers.hub import McpHub  # imports the MCP SDK: only once tools are really used

            log_dir = self._log_dir() if callable(self._log_dir) else self._log_dir
            self._hub = McpHub(self.servers, log_dir)
        return self._hub

    def known(self, session_tools: SessionTools | Mapping[str, Any] | None) -> list[ToolSpec]:
        """The enabled tools of servers listed so far (no I/O: for the inspector, per keystroke)."""
        if self._hub is None:
            return []
        return [s for s in self._hub.known_tools() if tool_on(s, self.servers, session_tools)]

    def definitions(self, session_tools: SessionTools | Mapping[str, Any] | None) -> list[dict[str, Any]]:
        """``known``'s definitions, the same list object while the set is unchanged (the inspector counts a list
        once, not per keystroke)."""
        specs = self.known(session_tools)
        names = tuple(s.name for s in specs)
        if self._definitions is None or self._definitions[0] != names:
            self._definitions = (names, [s.function() for s in specs])
        return self._definitions[1]

    async def for_session(
        self, session_tools: SessionTools | Mapping[str, Any] | None
    ) -> tuple[list[ToolSpec], dict[str, str]]:
        """Start the servers this session uses and return its enabled tools, with one line per server that
        failed (its tools are simply not offered)."""
        wanted = servers_in_use(self.servers, session_tools)
        if not wanted:
            return [], {}
        specs, errors = await self.hub.all_tools(wanted)
        return [s for s in specs if tool_on(s, self.servers, session_tools)], errors

    async def call(self, spec: ToolSpec, arguments: dict[str, Any]) -> ToolOutcome:
        return await self.hub.call(spec, arguments)

    async def close(self) -> None:
        if self._hub is not None:
            hub, self._hub = self._hub, None
            await hub.close()
