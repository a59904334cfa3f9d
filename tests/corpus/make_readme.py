"""Write tests/corpus/README.md from the recordings' metadata: `python -m tests.corpus.make_readme`."""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).parent

HEADER = """# Conformance corpus: real provider responses

Each recording is a streamed response body that a provider's server really sent, taken verbatim from a public
source (SDK test fixtures, recorded cassettes of client libraries, documentation) and replayed byte for byte by
`tests/fakeserver/replay.py`. `tests/test_corpus.py` sends a prompt through the real CLI (`ask --json`) and
litellm to the replay server and checks the answer text, reasoning, finish, tool calls, usage as the provider
reported it, and the cost, against `expected` in the recording's `.json` file. The expected values were read
from the bytes by hand and by a small independent parser, never by running this project's code.

Recordings are data: they are kept exactly as published, under their sources' licenses (named per row). No code
from those projects is used. `framing: data-lines` marks sources that kept only the JSON payload of each SSE
event (one per line); the replay server adds the `data: ` framing, and for OpenAI-style streams the `[DONE]`.

Conventions of `expected.usage`: `input_tokens` is the whole prompt, cache reads and writes included;
`output_tokens` is every billed output token, reasoning included (xAI states reasoning outside
`completion_tokens` but bills it as output); `reasoning_tokens` is the part of it the provider says was
reasoning; `source` is `estimated` when the response carries no token counts at all.

| id | provider | what it shows | source | license |
|---|---|---|---|---|
"""


def main() -> None:
    rows = []
    for path in sorted((HERE / "recordings").glob("*.json")):
        meta = json.loads(path.read_text())
        src = meta["source"]
        where = f"[{src['repo']}]({src['url']})" if src.get("url") else src["repo"]
        where += f" `{src['path']}`" if src.get("path") else ""
        shows = str(meta.get("shows", "")).replace("|", "\\|").replace("\n", " ")
        rows.append(f"| `{meta['id']}` | {meta['provider']} | {shows} | {where} | {src['license']} |")
    (HERE / "README.md").write_text(HEADER + "\n".join(rows) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
