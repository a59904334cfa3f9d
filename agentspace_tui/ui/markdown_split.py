"""Split a streaming Markdown reply into settled segments and a short live tail.

Re-rendering a whole reply per update is O(n^2), and a reply that is one giant code fence or list defeats
block-level stream mergers (GUIDE §3). So settled text is frozen into segments that are rendered once, and
only a bounded tail is re-rendered. Splits happen at block boundaries (blank lines outside fences), at list
items in long lists, and inside long code fences (the fence is closed in the frozen segment and reopened,
with its info string, in the tail). Pure text logic: no Textual.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

FENCE_RE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
LIST_ITEM_RE = re.compile(r"^ {0,3}([-*+]|\d{1,9}[.)])[ \t]")
TABLE_RE = re.compile(r"^\s*\|")


@dataclass
class MarkdownSplitter:
    """Feed text with ``feed``; ``settle`` returns segments that will not change any more.

    Scanning is incremental (each complete line is looked at once), so the cost per update is bounded by
    the new text, not the reply so far.
    """

    min_chars: int = 600  # don't freeze tiny pieces: fewer, larger segments
    max_lines: int = 16  # a tail longer than this is split even without a blank line
    text: list[str] = field(default_factory=list)
    _buffer: str = ""
    _frozen: int = 0  # buffer index up to which text is frozen
    _fence: str | None = None  # fence marker open at _frozen ("```"), None outside fences
    _fence_info: str = ""
    # incremental scan state
    _scan: int = 0  # buffer index of the next unscanned line
    _scan_fence: str | None = None
    _scan_info: str = ""
    _in_table: bool = False
    _lines_since_cut: int = 0
    _cuts: list[tuple[int, str | None, str, str]] = field(default_factory=list)  # (offset, fence, info, closer)

    def feed(self, chunk: str) -> None:
        self.text.append(chunk)

    def _sync(self) -> str:
        if self.text:
            self._buffer += "".join(self.text)
            self.text.clear()
        return self._buffer

    @property
    def full_text(self) -> str:
        return self._sync()

    def _reopen(self) -> str:
        return f"{self._fence}{self._fence_info}\n" if self._fence else ""

    def tail(self) -> str:
        """The live, unsettled Markdown (with a reopened fence if a code block continues)."""
        buf = self._sync()
        return self._reopen() + buf[self._frozen :]

    def settle(self, final: bool = False) -> list[str]:
        """Segments that became stable since the last call, each about ``max_lines`` lines at most (so each
        renders quickly). With ``final`` everything is settled."""
        buf = self._sync()
        if final:
            rest = buf[self._frozen :]
            last = [self._reopen() + rest] if rest else []
            self._frozen = self._scan = len(buf)
            self._fence = self._scan_fence = None
            self._cuts.clear()
            return last
        self._scan_lines(buf)
        out: list[str] = []
        for offset, fence_after, info_after, close in self._cuts:
            piece = buf[self._frozen : offset]
            if len(piece) < self.min_chars and piece.count("\n") < self.max_lines:
                continue  # too small on its own: it joins the next segment
            segment = self._reopen() + piece
            if close:
                segment = segment.rstrip("\n") + "\n" + close + "\n"
            out.append(segment)
            self._frozen = offset
            self._fence, self._fence_info = fence_after, info_after
        self._cuts = [c for c in self._cuts if c[0] > self._frozen]
        return out

    def _candidate(self, offset: int, fence: str | None, info: str, close: str) -> None:
        if offset > self._frozen and (not self._cuts or offset > self._cuts[-1][0]):
            self._cuts.append((offset, fence, info, close))

    def _scan_lines(self, buf: str) -> None:
        pos = self._scan
        while True:
            nl = buf.find("\n", pos)
            if nl < 0:
                break
            line = buf[pos:nl]
            next_pos = nl + 1
            m = FENCE_RE.match(line)
            fence = self._scan_fence
            long_run = self._lines_since_cut >= self.max_lines
            if fence is None:
                if m:
                    marker = m.group(1)
                    self._scan_fence, self._scan_info = marker[0] * len(marker), m.group(2).strip()
                    if long_run:
                        self._candidate(pos, None, "", "")
                elif not line.strip():
                    if not self._in_table:
                        self._candidate(next_pos, None, "", "")
                    self._in_table = False
                else:
                    starts_table = bool(TABLE_RE.match(line))
                    if long_run and not self._in_table and (LIST_ITEM_RE.match(line) or
                                                            self._lines_since_cut >= 2 * self.max_lines):
                        self._candidate(pos, None, "", "")  # long list or hard-wrapped text: cut before this line
                        self._lines_since_cut = 0
                    self._in_table = starts_table
            else:
                closes = m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence) and not m.group(2).strip()
                if closes:
                    self._scan_fence, self._scan_info = None, ""
                    self._candidate(next_pos, None, "", "")
                elif long_run:
                    # long code block: close it here, reopen it in the tail
                    self._candidate(next_pos, fence, self._scan_info, fence)
                    self._lines_since_cut = 0
            self._lines_since_cut += 1
            pos = next_pos
        self._scan = pos
