"""Untrusted text (model output, pasted text, file names, config) made safe for terminals and files.

Model text is input from the network. Written to a terminal as is, ``ESC ] 52`` sets the clipboard,
``ESC ] 0`` the window title and ``ESC [ 6n`` makes the terminal type its answer into the user's shell.
``for_terminal`` keeps newlines and tabs and turns every other control character into a visible stand-in,
so no byte of model text can act as a control sequence. ``repair`` fixes lone UTF-16 surrogates (a provider
splitting an emoji across two chunks), which strict UTF-8 writers refuse to encode.

Stored messages keep the provider's text (surrogates repaired); this runs at each edge that writes text
out: the terminal, the TUI's widgets and Markdown exports.
"""

from __future__ import annotations

import re

REPLACEMENT = "\ufffd"
# C0 controls except tab and newline, DEL, and the C1 controls (0x9b is a one-byte CSI on some terminals)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x20:
        return chr(0x2400 + code)  # Unicode control pictures: ESC shows as ␛, BEL as ␇, CR as ␍
    if code == 0x7F:
        return "\u2421"  # ␡
    return f"<{code:02X}>"  # C1 controls have no pictures; show the code point


def repair(text: str) -> str:
    """``text`` with surrogate pairs joined into their character and lone surrogates replaced by U+FFFD."""
    if text.isascii() or not _SURROGATE.search(text):
        return text
    # UTF-16 with surrogatepass joins valid high+low pairs; what is left alone is invalid and replaced.
    joined = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return _SURROGATE.sub(REPLACEMENT, joined)


def for_terminal(text: str) -> str:
    """``text`` safe to write to a terminal: newlines and tabs kept, other controls made visible.

    A CR before a newline is dropped (Windows line endings); any other CR is shown, because a bare CR lets
    later text overwrite what the line showed.
    """
    text = repair(text)
    if text.isprintable():  # the common case: no controls at all (newline and tab are not printable)
        return text
    if "\r\n" in text:
        text = text.replace("\r\n", "\n")
    return _CONTROL.sub(_visible, text)


class SurrogateJoiner:
    """Repairs streamed text piece by piece, holding back a trailing high surrogate until its pair arrives."""

    def __init__(self) -> None:
        self._held = ""

    def feed(self, piece: str) -> str:
        if self._held:
            piece, self._held = self._held + piece, ""
        if piece and "\ud800" <= piece[-1] <= "\udbff":
            piece, self._held = piece[:-1], piece[-1]
        return repair(piece)

    def flush(self) -> str:
        held, self._held = self._held, ""
        return repair(held)


class TerminalText:
    """``for_terminal`` for text that arrives in pieces: a CR at the end of a piece waits for the next one,
    so a CRLF split across two chunks still reads as a newline."""

    def __init__(self) -> None:
        self._joiner = SurrogateJoiner()
        self._cr = False

    def feed(self, piece: str) -> str:
        piece = self._joiner.feed(piece)
        if self._cr:
            piece, self._cr = "\r" + piece, False
        if piece.endswith("\r"):
            piece, self._cr = piece[:-1], True
        return for_terminal(piece)

    def flush(self) -> str:
        rest = self._joiner.flush() + ("\r" if self._cr else "")
        self._cr = False
        return for_terminal(rest)
