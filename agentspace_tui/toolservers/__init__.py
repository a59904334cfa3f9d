"""MCP tool servers: the tools they offer as the models see them (specs.py), and the connections (hub.py).

Named ``toolservers``, not ``mcp``, so it never shadows the MCP SDK. No Textual here; the SDK is imported only
when a server starts.
"""

from __future__ import annotations

from .hub import McpHub, ToolOutcome, ToolServerError
from .specs import ToolSpec, function_name, schema_tokens, split_name, tool_tokens

__all__ = [
    "McpHub", "ToolOutcome", "ToolServerError", "ToolSpec", "function_name", "schema_tokens", "split_name",
    "tool_tokens",
]
