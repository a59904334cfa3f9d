"""An MCP tool result as the text sent back to the model, and one-line messages about servers.

Text blocks are kept as they are; images, audio and binary resources become a short placeholder such as
``[image/png, 12,345 bytes]`` (the text models cannot take them back as tool results everywhere); structured
content is JSON when there is no text. The whole is capped at ``RESULT_MAX`` characters with a note.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable
from typing import Any

from ..text_safety import for_terminal

RESULT_MAX = 100_000
LINE_MAX = 300
EMPTY_RESULT = "(the tool returned nothing)"


def _decoded_size(data: str) -> int:
    try:
        return len(base64.b64decode(data, validate=False))
    except (binascii.Error, ValueError):
        return len(data) * 3 // 4


def _placeholder(kind: str, mime: str | None, data: str | None, where: str = "") -> str:
    parts = [f"{kind}/{mime.split('/', 1)[1]}" if mime and mime.startswith(kind + "/") else (mime or kind)]
    if where:
        parts.append(where)
    if data is not None:
        parts.append(f"{_decoded_size(data):,} bytes")
    return "[" + ", ".join(parts) + "]"


def block_text(block: Any) -> str:
    """One MCP content block as text."""
    kind = getattr(block, "type", None)
    if kind == "text":
        return str(block.text)
    if kind in ("image", "audio"):
        return _placeholder(kind, getattr(block, "mime_type", None), getattr(block, "data", None))
    if kind == "resource_link":
        return f"[resource {block.uri}" + (f" ({block.mime_type})" if block.mime_type else "") + "]"
    if kind == "resource":
        resource = block.resource
        text = getattr(resource, "text", None)
        if isinstance(text, str):
            return text
        return _placeholder("resource", resource.mime_type, getattr(resource, "blob", None), str(resource.uri))
    return f"[{kind or 'unknown'} content]"


def result_text(content: Iterable[Any], structured: Any = None, limit: int = RESULT_MAX) -> str:
    """The text of a tool result: its blocks joined, structured content as JSON if there is no text, capped."""
    blocks = list(content)
    parts = [block_text(block) for block in blocks]
    if structured is not None and not any(getattr(b, "type", None) == "text" for b in blocks):
        try:
            parts.append(json.dumps(structured, ensure_ascii=False))
        except (TypeError, ValueError):
            parts.append(str(structured))
    text = "\n".join(part for part in parts if part)
    if not text:
        return EMPTY_RESULT
    if len(text) > limit:
        note = f"\n[cut: the tool returned {len(text):,} characters; the first {limit:,} are shown]"
        text = text[:limit] + note
    return text


def one_line(text: str, secrets: Iterable[str] = (), limit: int = LINE_MAX) -> str:
    """``text`` as one printable line of at most ``limit`` characters, with every secret replaced by ***."""
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, "***")
    text = " ".join(for_terminal(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def last_line(data: bytes) -> str:
    """The last line of a log's tail that is not blank."""
    for line in reversed(data.decode("utf-8", "replace").splitlines()):
        if line.strip():
            return line.strip()
    return ""
