"""A tool an MCP server offers, as the model sees it: its function name, its definition, and what that costs.

The function name is ``server__tool`` with every character outside ``[A-Za-z0-9_-]`` replaced by ``_`` and at
most 64 characters (the limit of OpenAI and Anthropic); a longer one is cut and ends with a short hash of the
whole, so two long names stay apart. The definition is the server's input schema made acceptable to every
provider: an object schema (``{"type": "object", "properties": {}}`` when the server gave none or another
kind), without the top-level ``$schema``, and a description of at most 1,024 characters.

A tool's definition is sent with every request while it is on: ``tool_tokens`` / ``schema_tokens`` count
``json.dumps`` of it the way the context inspector does (context/__init__.py).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..tokens import counter

NAME_MAX = 64
DESCRIPTION_MAX = 1024
SEPARATOR = "__"
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
_EMPTY_SCHEMA: dict[str, Any] = {"type": "object", "properties": {}}


def function_name(server: str, tool: str) -> str:
    """``server__tool`` made safe for every provider (see the module docstring)."""
    raw = f"{server}{SEPARATOR}{tool}"
    name = _UNSAFE.sub("_", raw)
    if len(name) <= NAME_MAX:
        return name
    digest = hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{name[: NAME_MAX - len(digest) - 1]}_{digest}"


def safe_schema(schema: object) -> dict[str, Any]:
    """The server's input schema as a JSON object schema every provider takes."""
    if not isinstance(schema, Mapping) or schema.get("type", "object") != "object":
        return dict(_EMPTY_SCHEMA, properties={})
    out = {str(k): v for k, v in schema.items() if k != "$schema"}
    out["type"] = "object"
    if not isinstance(out.get("properties"), Mapping):
        out["properties"] = {}
    if "required" in out and not (
        isinstance(out["required"], list) and all(isinstance(r, str) for r in out["required"])
    ):
        del out["required"]
    return out


def cap_description(text: str, limit: int = DESCRIPTION_MAX) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


@dataclass(frozen=True)
class ToolSpec:
    """One tool of one server: its names, the server's description and input schema (untrusted text)."""

    server: str
    tool: str
    description: str
    input_schema: dict[str, Any]

    @property
    def name(self) -> str:
        """The function name the model sees and calls."""
        return function_name(self.server, self.tool)

    def function(self) -> dict[str, Any]:
        """The OpenAI-style tool definition sent with each request (litellm translates it per provider)."""
        description = cap_description(self.description) or f"Tool {self.tool} of MCP server {self.server}."
        return {
            "type": "function",
            "function": {"name": self.name, "description": description, "parameters": safe_schema(self.input_schema)},
        }


def tool_tokens(spec: ToolSpec, encoding: str) -> int:
    """Tokens this tool's definition adds to every request while it is on."""
    return counter(encoding).count(json.dumps(spec.function()))


def schema_tokens(specs: Iterable[ToolSpec], encoding: str) -> int:
    """Tokens the definitions of ``specs`` add to every request, counted as the context inspector counts them."""
    functions = [spec.function() for spec in specs]
    return counter(encoding).count(json.dumps(functions)) if functions else 0


def split_name(name: str, specs: Iterable[ToolSpec]) -> ToolSpec | None:
    """The tool a function name the model used stands for, among ``specs``; None when it is none of them."""
    for spec in specs:
        if spec.name == name:
            return spec
    return None
