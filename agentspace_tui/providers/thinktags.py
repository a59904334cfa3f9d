"""Split ``<think>…</think>`` at the start of a reply's content into reasoning and answer, while it streams.

R1-style models (through Ollama, Groq, Hugging Face, vLLM) put their reasoning inside the content. Only a
think block that opens the reply counts; tags are matched across chunk boundaries, so a tag split as
``<thi`` + ``nk>`` is still found. Pure and O(chunk) per feed.
"""

from __future__ import annotations

OPEN, CLOSE = "<think>", "</think>"


class ThinkSplitter:
    def __init__(self) -> None:
        self._state = "start"  # start -> think -> answer, or start -> answer
        self._buffer = ""
        self.found = False  # a think block opened the reply

    def feed(self, text: str) -> list[tuple[str, str]]:
        """Pieces of ``text`` as ("reasoning" | "answer", text); some text may be held until the next feed."""
        if self._state == "answer":
            return [("answer", text)] if text else []
        self._buffer += text
        out: list[tuple[str, str]] = []
        if self._state == "start":
            head = self._buffer.lstrip()
            if head.startswith(OPEN):
                self._state, self.found = "think", True
                self._buffer = head[len(OPEN):]
            elif OPEN.startswith(head):  # empty, or a tag still arriving
                return out
            else:
                self._state, rest, self._buffer = "answer", self._buffer, ""
                return [("answer", rest)]
        # inside the think block
        end = self._buffer.find(CLOSE)
        if end >= 0:
            thought, rest = self._buffer[:end], self._buffer[end + len(CLOSE):].lstrip("\r\n")
            self._state, self._buffer = "answer", ""
            if thought:
                out.append(("reasoning", thought))
            if rest:
                out.append(("answer", rest))
            return out
        keep = _partial_suffix(self._buffer, CLOSE)
        ready, self._buffer = self._buffer[: len(self._buffer) - keep], self._buffer[len(self._buffer) - keep:]
        if ready:
            out.append(("reasoning", ready))
        return out

    def flush(self) -> list[tuple[str, str]]:
        """What is still held when the stream ends."""
        rest, self._buffer = self._buffer, ""
        if not rest:
            return []
        return [("reasoning" if self._state == "think" else "answer", rest)]


def _partial_suffix(text: str, tag: str) -> int:
    """Length of the longest suffix of ``text`` that is a proper prefix of ``tag``."""
    for n in range(min(len(tag) - 1, len(text)), 0, -1):
        if text.endswith(tag[:n]):
            return n
    return 0
