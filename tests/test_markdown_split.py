"""The streaming splitter: segments + tail always reassemble the reply, giant fences and lists are split."""

from __future__ import annotations

import random

import pytest

from agentspace_tui.ui.markdown_split import MarkdownSplitter


def stream(text: str, chunk: int, seed: int = 1) -> tuple[list[str], MarkdownSplitter]:
    rng = random.Random(seed)
    sp = MarkdownSplitter()
    segments: list[str] = []
    i = 0
    while i < len(text):
        n = rng.randint(1, chunk)
        sp.feed(text[i : i + n])
        i += n
        segments += sp.settle()
    segments += sp.settle(final=True)
    return segments, sp


def test_plain_paragraphs_reassemble_exactly():
    text = "\n\n".join(f"Paragraph {i} " + "word " * 50 for i in range(60))
    segments, _ = stream(text, 40)
    assert "".join(segments) == text
    assert len(segments) > 5


def test_giant_code_fence_is_split_and_each_segment_is_closed():
    body = "\n".join(f"    x_{i} = compute({i})  # [not markup]" for i in range(3000))
    text = f"```python\n{body}\n```\n"
    segments, _ = stream(text, 30)
    assert len(segments) > 20
    for seg in segments:
        assert seg.startswith("```python\n")
        assert seg.rstrip("\n").endswith("```")
    # every code line survives exactly once, in order
    lines = [ln for seg in segments for ln in seg.split("\n") if ln.startswith("    x_")]
    assert lines == body.split("\n")


def test_giant_list_is_split_between_items():
    text = "\n".join(f"{i + 1}. item number {i} with [brackets]" for i in range(3000)) + "\n"
    segments, _ = stream(text, 25)
    assert len(segments) > 20
    assert "".join(segments) == text
    for seg in segments:
        assert seg.split("\n", 1)[0][0].isdigit()


@pytest.mark.parametrize("seed", range(5))
def test_mixed_markdown_round_trip(seed):
    rng = random.Random(seed)
    parts = []
    for i in range(200):
        kind = rng.choice(["p", "code", "list", "table", "h"])
        if kind == "p":
            parts.append("Some text " * rng.randint(5, 40))
        elif kind == "code":
            parts.append("```js\n" + "\n".join(f"let a{j} = {j};" for j in range(rng.randint(1, 90))) + "\n```")
        elif kind == "list":
            parts.append("\n".join(f"- item {j}" for j in range(rng.randint(1, 90))))
        elif kind == "table":
            parts.append("| a | b |\n|---|---|\n" + "\n".join(f"| {j} | {j * 2} |" for j in range(rng.randint(1, 30))))
        else:
            parts.append(f"## Heading {i}")
    text = "\n\n".join(parts) + "\n"
    segments, sp = stream(text, 50, seed)
    # remove the artificial fence close/reopen pairs, then it must equal the original
    joined = "".join(segments)
    assert joined.replace("\n```\n```js\n", "\n") == text
    assert sp.tail() == ""


def test_tail_stays_bounded_while_streaming():
    body = "\n".join(f"line {i}" for i in range(5000))
    sp = MarkdownSplitter()
    worst = 0
    for i in range(0, len(body), 7):
        sp.feed(body[i : i + 7])
        sp.settle()
        worst = max(worst, sp.tail().count("\n"))
    assert worst <= 3 * sp.max_lines  # bounded, whatever the reply length
