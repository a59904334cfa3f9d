"""Export a session as Markdown (each reply names its model) or JSON. Never includes keys: none are stored.

Model text is untrusted: the Markdown (also what ``sessions show`` prints) goes through ``for_terminal``, so no
byte of it acts as a control sequence in a terminal or a pager; the JSON keeps the text as data (JSON escapes
controls) with lone surrogates repaired and C1 controls escaped too.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from typing import Any

from ..formatting import format_time, json_text, outcome_notice, reply_summary
from ..text_safety import for_terminal
from .branches import active_path

_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})(.*)")


def close_fences(text: str) -> str:
    """``text`` with a code fence left open at its end (a reply cut inside a code block) closed, so that what
    follows it in the export (the next heading) is Markdown again, not code. CommonMark's rule: a fence is
    closed by a line of the same character, at least as long, with nothing after it."""
    opening: str | None = None
    for line in text.splitlines():
        match = _FENCE.fullmatch(line)
        if match is None:
            continue
        fence, rest = match.group(1), match.group(2)
        if opening is None:
            if not (fence[0] == "`" and "`" in rest):  # a backtick fence's info string has no backtick
                opening = fence
        elif fence[0] == opening[0] and len(fence) >= len(opening) and not rest.strip():
            opening = None
    if opening is None:
        return text
    return text + ("" if text.endswith("\n") else "\n") + opening


def to_markdown(session: Mapping[str, Any], messages: Sequence[Mapping[str, Any]]) -> str:
    lines = [f"# {session.get('title') or 'Untitled session'}", ""]
    lines.append(
        f"_Session {session['id']} · created {format_time(session.get('created_at'))} · "
        f"exported {time.strftime('%Y-%m-%d %H:%M')} by agentspace-tui_"
    )
    lines.append("")
    if session.get("system_prompt"):
        lines += ["## System prompt", "", close_fences(session["system_prompt"]), ""]
    for att in session.get("attachments") or []:
        lines += [f"_Attached: {att.get('name')} ({att.get('bytes', 0)} bytes)_", ""]
    for msg in active_path(messages):  # the branch the conversation is on (alternatives stay in the JSON export)
        if msg.get("hidden"):
            lines += ["_(left out of the context)_", ""]
        if msg.get("role") == "user":
            lines += ["## You", "", close_fences(msg.get("content") or ""), ""]
        elif msg.get("role") == "assistant":
            lines += [f"## Assistant ({msg.get('model') or 'unknown model'})", ""]
            if msg.get("reasoning"):
                # collapsed on renderers that know <details>; the blank lines keep its Markdown rendered
                lines += ["<details><summary>Thinking</summary>", "", close_fences(msg["reasoning"]), "", "</details>", ""]
            lines.append(close_fences(msg.get("content") or ""))
            if msg.get("error"):
                lines += ["", f"> {msg.get('status')}: {msg['error']}"]
            notice = outcome_notice(msg)
            if notice:
                lines += ["", f"> {notice}"]
            lines += ["", f"_{reply_summary(msg)}_", ""]
    return for_terminal("\n".join(lines).rstrip() + "\n")


def to_json(session: Mapping[str, Any], messages: Sequence[Mapping[str, Any]]) -> str:
    return json_text({"session": session, "messages": messages})
