"""Export a session as Markdown (each reply names its model) or JSON. Never includes keys: none are stored.

Model text is untrusted: the Markdown (also what ``sessions show`` prints) goes through ``for_terminal``, so no
byte of it acts as a control sequence in a terminal or a pager; the JSON keeps the text as data (JSON escapes
controls) with lone surrogates repaired and C1 controls escaped too.
"""

from __future__ import annotations

import time

from ..formatting import format_time, json_text, outcome_notice, reply_summary
from ..text_safety import for_terminal


def to_markdown(session: dict, messages: list[dict]) -> str:
    lines = [f"# {session.get('title') or 'Untitled session'}", ""]
    lines.append(
        f"_Session {session['id']} · created {format_time(session.get('created_at'))} · "
        f"exported {time.strftime('%Y-%m-%d %H:%M')} by agentspace-tui_"
    )
    lines.append("")
    if session.get("system_prompt"):
        lines += ["## System prompt", "", session["system_prompt"], ""]
    for att in session.get("attachments") or []:
        lines += [f"_Attached: {att.get('name')} ({att.get('bytes', 0)} bytes)_", ""]
    for msg in messages:
        if msg.get("role") == "user":
            lines += ["## You", "", msg.get("content", ""), ""]
        elif msg.get("role") == "assistant":
            lines += [f"## Assistant ({msg.get('model') or 'unknown model'})", ""]
            if msg.get("reasoning"):
                # collapsed on renderers that know <details>; the blank lines keep its Markdown rendered
                lines += ["<details><summary>Thinking</summary>", "", msg["reasoning"], "", "</details>", ""]
            lines.append(msg.get("content", ""))
            if msg.get("error"):
                lines += ["", f"> {msg.get('status')}: {msg['error']}"]
            notice = outcome_notice(msg)
            if notice:
                lines += ["", f"> {notice}"]
            lines += ["", f"_{reply_summary(msg)}_", ""]
    return for_terminal("\n".join(lines).rstrip() + "\n")


def to_json(session: dict, messages: list[dict]) -> str:
    return json_text({"session": session, "messages": messages})
