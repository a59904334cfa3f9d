"""Hostile reply texts: what a model (or whoever controls its output) can send to attack a terminal client.

Each is plain reply text; the fake server's writers send it JSON-escaped (``json.dumps`` with
``ensure_ascii=True``), so control characters arrive as ``\\u001b`` / ``\\u009b`` escapes and lone surrogates
as ``\\ud83d`` / ``\\ude00`` escapes, exactly as a provider's JSON encoder would send them. Whether they reach
the screen, the clipboard, the window title, a session file or an export intact is for the client to decide;
these constants are the test inputs.

* :data:`HOSTILE_TEXTS` -- name -> text, one attack each;
* :data:`SURROGATE_CHUNKS` -- an emoji (U+1F600) split between two chunks: ``["a", "\\ud83d", "\\ude00", "b"]``;
  each half travels in its own event as a lone surrogate escape;
* :data:`HOSTILE_CHUNKS` -- every text of :data:`HOSTILE_TEXTS` as its own chunk, then :data:`SURROGATE_CHUNKS`;
* :func:`HOSTILE_REPLY` -- a :class:`~tests.fakeserver.base.Reply` streaming :data:`HOSTILE_CHUNKS` (keyword
  arguments override its fields, e.g. ``HOSTILE_REPLY(delay=0.01)``).

``python -m tests.fakeserver --hostile`` answers every request with :func:`HOSTILE_REPLY`.
"""

from __future__ import annotations

from typing import Any

from .base import Reply

__all__ = ["HOSTILE_CHUNKS", "HOSTILE_REPLY", "HOSTILE_TEXTS", "SURROGATE_CHUNKS", "hostile_text"]

HOSTILE_TEXTS: dict[str, str] = {
    # OSC 52: set the system clipboard (base64 "hello"), BEL- and ST-terminated
    "osc52_clipboard_bel": "\x1b]52;c;aGVsbG8=\x07",
    "osc52_clipboard_st": "\x1b]52;c;aGVsbG8=\x1b\\",
    # OSC 0: set the window title
    "osc0_title": "\x1b]0;pwned\x07",
    # DSR: ask the terminal to report the cursor position (the answer lands in the input stream)
    "csi_cursor_query": "\x1b[6n",
    # CSI: clear the screen
    "csi_clear_screen": "\x1b[2J",
    # C1 CSI (U+009B, one character) then SGR 31: red text without an ESC
    "c1_csi": "\x9b31m",
    # right-to-left override: the rest of the line displays reversed
    "bidi_override": "\u202eevil.exe\u202c",
    # Rich / Textual console markup: must be shown as text, never interpreted
    "markup_style": "[bold red]X[/]",
    "markup_close": "[/]",
    "markup_link": "[link=file:///etc/passwd]x[/link]",
    # lone surrogates (not valid Unicode on their own; cannot be encoded as UTF-8)
    "lone_high_surrogate": "\ud83d",
    "lone_low_surrogate": "\ude00",
}

SURROGATE_CHUNKS: list[str] = ["a", "\ud83d", "\ude00", "b"]

HOSTILE_CHUNKS: list[str] = [f"{text} " for text in HOSTILE_TEXTS.values()] + SURROGATE_CHUNKS


def hostile_text() -> str:
    """All of :data:`HOSTILE_CHUNKS` as one string (what a client receives when it joins the chunks)."""
    return "".join(HOSTILE_CHUNKS)


def HOSTILE_REPLY(**overrides: Any) -> Reply:  # noqa: N802 - a factory named like the constants it builds on
    """A reply streaming every hostile text, one per chunk, then the split emoji (a fresh Reply each call)."""
    fields: dict[str, Any] = {"chunks": list(HOSTILE_CHUNKS), "text": hostile_text()}
    fields.update(overrides)
    return Reply(**fields)
