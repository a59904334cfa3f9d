"""Per-keystroke cost of re-inspecting the next request for a session with a 100k-token history.

    python benchmarks/bench_context.py [--tokens 100000] [--keystrokes 300]

Prints cold (first) inspection time and per-keystroke p50/p95/max while a draft is typed one character at a
time, for an OpenAI (o200k, exact) and an Anthropic (cl100k, estimate) model. Target: p95 under 2 ms.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agentspace_tui.catalog.catalog import Catalog  # noqa: E402
from agentspace_tui.catalog.providers import BUILTIN_PROVIDERS  # noqa: E402
from agentspace_tui.context import ContextInspector  # noqa: E402
from agentspace_tui.pricing import resolve_price  # noqa: E402
from agentspace_tui.tokens import count, encoding_for, is_exact  # noqa: E402

WORDS = (
    "the model streams tokens while the inspector counts bytes and cost for every section of the request "
    "def handler(request): return [x for x in range(10)] ```python``` | table | cell |"
).split()


def make_history(target_tokens: int, seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    history: list[dict] = []
    total = 0
    i = 0
    while total < target_tokens:
        role = "user" if i % 2 == 0 else "assistant"
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(40, 400)))
        history.append({"id": f"m{i}", "role": role, "content": text})
        total += count(text)
        i += 1
    return history


def bench(model_id: str, history: list[dict], keystrokes: int) -> dict:
    info = Catalog(BUILTIN_PROVIDERS).resolve(model_id)
    price = resolve_price(
        info.id, local=info.local, catalog_input=info.input_per_mtok, catalog_output=info.output_per_mtok
    )
    encoding = encoding_for(info.provider, info.name)
    inspector = ContextInspector()
    kwargs = dict(
        model_id=info.id,
        encoding=encoding,
        exact=is_exact(info.provider, info.name),
        context_window=info.context_window,
        price=price,
        system_prompt="You are helpful.",
        attachments=[{"name": "notes.txt", "content": "pinned notes " * 200}],
        history=history,
    )
    for m in history:  # counts persisted with messages, as the app stores them
        m.pop("tokens", None)
    t0 = time.perf_counter()
    first = inspector.inspect(**kwargs, draft="")
    cold = time.perf_counter() - t0
    draft_text = "Please explain how the context inspector keeps up with typing at [speed] " * 20
    times = []
    last = first
    for i in range(1, keystrokes + 1):
        t0 = time.perf_counter()
        last = inspector.inspect(**kwargs, draft=draft_text[:i])
        times.append(time.perf_counter() - t0)
    times.sort()
    return {
        "model": info.id,
        "history_tokens": first.section("history").tokens,
        "messages": len(history),
        "cold_ms": cold * 1000,
        "p50_ms": statistics.median(times) * 1000,
        "p95_ms": times[int(len(times) * 0.95) - 1] * 1000,
        "max_ms": times[-1] * 1000,
        "total_tokens": last.total.tokens,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tokens", type=int, default=100_000)
    ap.add_argument("--keystrokes", type=int, default=300)
    args = ap.parse_args()
    history = make_history(args.tokens)
    # warm the encodings so the cold figure is about our work, not loading tiktoken's files
    count("warm", "o200k_base"), count("warm", "cl100k_base")
    ok = True
    print(f"{'model':32} {'history':>8} {'msgs':>5} {'cold ms':>8} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7}")
    for model in ("openai:gpt-4o-mini", "anthropic:claude-sonnet-4-5"):
        r = bench(model, history, args.keystrokes)
        ok &= r["p95_ms"] < 2.0
        print(
            f"{r['model']:32} {r['history_tokens']:>8} {r['messages']:>5} {r['cold_ms']:>8.1f} "
            f"{r['p50_ms']:>7.3f} {r['p95_ms']:>7.3f} {r['max_ms']:>7.3f}"
        )
    print(f"per-keystroke inspection p95 < 2 ms: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
