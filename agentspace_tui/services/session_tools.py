"""One session's MCP tools as the tools screen and ``/tools`` show and change them (no UI here, no server I/O
except ``start_server``).

``overview`` lists every configured server with its state (not started, starting, listed, or failed with its
one-line error) and, once listed, its tools: on or off in this session, always allowed or not, and the tokens each
definition adds to every request for the session's model. ``set_on`` and ``set_always_allow`` store a choice with
the session (services/tools.py ``toggled`` semantics: a choice equal to the default is not kept); a chat not sent
yet is created the way ``/attach`` and ``/system`` create it, so a choice made before the first message is kept.
The storing functions are blocking: call them from a worker thread, holding ``chat.lock``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from ..config.settings import ConfigError
from ..domain import SessionRecord, SessionTools
from ..pricing import input_cost
from ..tokens import encoding_for
from .tools import always_allowed, server_on, toggled, tool_on, with_always_allow

if TYPE_CHECKING:
    from ..catalog.models import ModelInfo
    from ..config.mcp import McpServerConfig
    from ..toolservers.specs import ToolSpec
    from .chat_session import ChatSession
    from .core import Services

ServerState = Literal["not started", "starting", "listed", "failed"]
NO_SERVERS = ('no MCP servers are configured: add one to config.toml, e.g. [mcp.time] command = "uvx" '
              'args = ["mcp-server-time"]')
USAGE = "usage: /tools (the tools screen) · /tools on NAME · /tools off NAME (NAME: a server or server__tool)"


class ToolChoiceError(ConfigError):
    """A name that is neither a configured server nor one of their tools; the message is one line."""


@dataclass(frozen=True)
class ToolRow:
    name: str  # the function name the model sees: server__tool
    server: str
    tool: str
    description: str  # from the server: untrusted text
    tokens: int  # what its definition adds to every request while it is on
    on: bool
    always_allowed: bool


@dataclass(frozen=True)
class ServerRow:
    name: str
    transport: str  # "stdio" or "http"
    where: str  # the command line or the URL (never a secret)
    on: bool  # its tools' default in this session (each tool may differ)
    state: ServerState
    error: str  # the one-line reason when failed
    tools: tuple[ToolRow, ...]


@dataclass(frozen=True)
class ToolsOverview:
    servers: tuple[ServerRow, ...]
    model: str
    tokens: int  # the enabled tools' definitions, added to every request
    cost: float | None  # what those tokens cost as input per request (None: price unknown)

    @property
    def enabled(self) -> int:
        return sum(1 for server in self.servers for tool in server.tools if tool.on)


def session_choices(session: SessionRecord | Mapping[str, Any] | None) -> SessionTools:
    tools: Mapping[str, Any] = (session or {}).get("tools") or {}
    return {
        "enabled": list(tools.get("enabled") or []), "disabled": list(tools.get("disabled") or []),
        "always_allow": list(tools.get("always_allow") or []),
    }


def _listed(services: Services) -> tuple[dict[str, list[ToolSpec]], dict[str, str]]:
    """Server -> its tools, for the servers listed so far; server -> error for those that failed (no I/O)."""
    toolbox = services.tools
    if not toolbox.configured:
        return {}, {}
    hub = toolbox.hub
    listed: dict[str, list[ToolSpec]] = {name: [] for name in hub.listed()}
    for spec in hub.known_tools():
        listed.setdefault(spec.server, []).append(spec)
    return listed, hub.errors()


def overview(
    services: Services, session: SessionRecord | Mapping[str, Any] | None, model: ModelInfo,
    starting: Collection[str] = (),
) -> ToolsOverview:
    """Every configured server and its tools as this session has them (``starting``: servers being started)."""
    from ..toolservers.specs import schema_tokens, tool_tokens

    choices = session_choices(session)
    encoding = encoding_for(model.provider, model.name)
    servers = services.tools.servers
    listed, errors = _listed(services)
    rows: list[ServerRow] = []
    enabled_specs: list[ToolSpec] = []
    for name, config in servers.items():
        tools = []
        for spec in listed.get(name, []):
            on = tool_on(spec, servers, choices)
            if on:
                enabled_specs.append(spec)
            tools.append(ToolRow(spec.name, spec.server, spec.tool, spec.description, tool_tokens(spec, encoding), on,
                                 always_allowed(choices, spec.name)))
        state: ServerState = (
            "failed" if name in errors else "listed" if name in listed else "starting" if name in starting
            else "not started"
        )
        rows.append(ServerRow(name, config.transport, config.describe(), server_on(config, choices), state,
                              errors.get(name, ""), tuple(tools)))
    tokens = schema_tokens(enabled_specs, encoding)
    return ToolsOverview(tuple(rows), model.id, tokens, input_cost(services.price_for(model), tokens))


def chat_overview(chat: ChatSession, starting: Collection[str] = ()) -> ToolsOverview:
    return overview(chat.services, chat.session, chat.model, starting)


async def start_server(services: Services, name: str) -> str:
    """Start one configured server and list its tools; "" when listed, else its one-line error. Runs on the app's
    event loop (the hub's servers belong to it)."""
    from ..toolservers.hub import ToolServerError

    try:
        await services.tools.hub.tools(name)
    except ToolServerError as exc:
        return str(exc)
    return ""


async def start_for_session(services: Services, session: SessionRecord | Mapping[str, Any] | None) -> dict[str, str]:
    """Start the servers this session uses (so the inspector counts their tools before the first send)."""
    if not services.tools.configured:
        return {}
    _, errors = await services.tools.for_session(session_choices(session))
    return errors


def unstarted_in_use(services: Services, session: SessionRecord | Mapping[str, Any] | None) -> list[str]:
    """The servers this session uses that are neither listed nor failed yet (no I/O)."""
    from .tools import servers_in_use

    toolbox = services.tools
    if not toolbox.configured:
        return []
    listed, errors = _listed(services)
    return [n for n in servers_in_use(toolbox.servers, session_choices(session)) if n not in listed and n not in errors]


# -- choices -------------------------------------------------------------------------------------------------------
def server_of(name: str, servers: Mapping[str, McpServerConfig]) -> str | None:
    """The server a tool's function name belongs to (the longest configured name that prefixes it)."""
    found = [s for s in servers if name.startswith(f"{s}__") and len(name) > len(s) + 2]
    return max(found, key=len) if found else None


def _unknown(services: Services, name: str) -> ToolChoiceError:
    listed, _ = _listed(services)
    names = [*services.tools.servers, *(spec.name for specs in listed.values() for spec in specs)]
    shown = ", ".join(names[:30]) + (f" and {len(names) - 30} more" if len(names) > 30 else "")
    return ToolChoiceError(f"no server or tool {name!r}; there are: {shown}")


def toggle_choices(
    services: Services, choices: SessionTools | Mapping[str, Any] | None, name: str, on: bool
) -> SessionTools:
    """``choices`` with ``name`` (a server, or a tool listed or of a server not listed yet) on or off. A server's
    own tools follow it: their earlier per-tool choices are dropped. ToolChoiceError for an unknown name."""
    servers = services.tools.servers
    if name in servers:
        def other(entry: str) -> bool:
            return server_of(entry, servers) != name

        current = session_choices({"tools": choices})
        kept: SessionTools = {
            "enabled": [e for e in current.get("enabled", []) if other(e)],
            "disabled": [e for e in current.get("disabled", []) if other(e)],
            "always_allow": current.get("always_allow", []),
        }
        return toggled(kept, name, on, servers[name].enabled)
    server = server_of(name, servers)
    listed, _ = _listed(services)
    if server is None or (server in listed and name not in {s.name for s in listed[server]}):
        raise _unknown(services, name)
    return toggled(choices, name, on, server_on(servers[server], choices))


def is_on(services: Services, choices: SessionTools | Mapping[str, Any] | None, name: str) -> bool:
    servers = services.tools.servers
    if name in servers:
        return server_on(servers[name], choices)
    listed, _ = _listed(services)
    for spec in listed.get(server_of(name, servers) or "", []):
        if spec.name == name:
            return tool_on(spec, servers, choices)
    raise _unknown(services, name)


def store_choices(chat: ChatSession, choices: SessionTools) -> SessionRecord:
    """Store the session's tool choices; a chat not sent yet is created first (as ``/attach`` does)."""
    store = chat.services.store
    if chat.session is None:
        chat.session = store.create_session(title="New chat", model=chat.model.id)
    chat.session = store.update_session(chat.session["id"], tools=choices)
    return chat.session


def set_on(chat: ChatSession, name: str, on: bool) -> str:
    """``/tools on|off NAME``: store the choice; a one-line outcome. ToolChoiceError for an unknown name."""
    services = chat.services
    if not services.tools.configured:
        raise ToolChoiceError(NO_SERVERS)
    store_choices(chat, toggle_choices(services, session_choices(chat.session), name, on))
    note = ""
    server = name if name in services.tools.servers else server_of(name, services.tools.servers)
    if server is not None and server not in _listed(services)[0] and name != server:
        note = f" ({server} has not listed its tools yet)"
    return f"{name} {'on' if on else 'off'} for this chat{note}"


def set_always_allow(chat: ChatSession, name: str, allow: bool) -> str:
    """Let a tool run without asking in this session (or ask again)."""
    store_choices(chat, with_always_allow(session_choices(chat.session), name, allow))
    return f"{name} {'runs without asking' if allow else 'asks before running'} in this chat"


__all__ = [
    "NO_SERVERS", "USAGE", "ServerRow", "ToolChoiceError", "ToolRow", "ToolsOverview", "chat_overview", "is_on",
    "overview", "server_of", "session_choices", "set_always_allow", "set_on", "start_for_session", "start_server",
    "store_choices", "toggle_choices", "unstarted_in_use",
]
