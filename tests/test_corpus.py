"""Conformance: real recorded provider responses, replayed byte for byte, through the real CLI and litellm.

Each recording in tests/corpus/recordings is a response body a provider's server really sent (sources in
tests/corpus/README.md) with what a reader of the bytes expects from it: the answer text, the reasoning,
how it finished, the tool calls, the usage as the provider reported it, and the bill when the stream states
one. ``agentspace-tui ask --json`` must report exactly that, and price it right.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from agentspace_tui import cli
from tests.conftest import ANTHROPIC_KEY, OPENAI_KEY, PROVIDER_ENV
from tests.fakeserver.replay import ReplayServer, load_recording

CORPUS = Path(__file__).parent / "corpus" / "recordings"
RECORDINGS = sorted(CORPUS.glob("*.json"))
KEYS = {
    "OPENAI_API_KEY": OPENAI_KEY, "ANTHROPIC_API_KEY": ANTHROPIC_KEY, "GEMINI_API_KEY": "AIza-test-gemini-KEY-000",
    "MISTRAL_API_KEY": "mistral-test-KEY", "OPENROUTER_API_KEY": "sk-or-test-KEY", "GROQ_API_KEY": "gsk_testKEY0000",
    "DEEPSEEK_API_KEY": "sk-deepseek-test-KEY", "XAI_API_KEY": "xai-testKEY00000", "ZAI_API_KEY": "zai-test-KEY",
    "HF_TOKEN": "hf_testKEY",
}
# the key each provider's request must carry (None: the endpoint needs none, so no key at all)
EXPECTED_KEY = {
    "openai": OPENAI_KEY, "anthropic": ANTHROPIC_KEY, "gemini": KEYS["GEMINI_API_KEY"],
    "gemini-openai": KEYS["GEMINI_API_KEY"], "mistral": KEYS["MISTRAL_API_KEY"],
    "openrouter": KEYS["OPENROUTER_API_KEY"], "groq": KEYS["GROQ_API_KEY"], "deepseek": KEYS["DEEPSEEK_API_KEY"],
    "xai": KEYS["XAI_API_KEY"], "zai": KEYS["ZAI_API_KEY"], "huggingface": KEYS["HF_TOKEN"],
    "ollama": None, "vllm": None, "llamacpp": None,
}
LOCAL = {"ollama", "vllm", "llamacpp"}
CATALOG = {"openai": "openai", "anthropic": "anthropic", "gemini": "gemini", "mistral": "mistral",
           "openrouter": "openrouter", "groq": "groq", "deepseek": "deepseek", "xai": "xai"}


def _config(url: str) -> str:
    builtin = "\n".join(f'[providers.{p}]\napi_base = "{url}"\n' for p in
                        ("gemini", "mistral", "openrouter", "groq", "deepseek", "xai"))
    custom = "".join(
        f'[providers.{name}]\nkind = "openai"\napi_base = "{url}/v1"\n' + (f'api_key_env = "{env}"\n' if env else "")
        + ("local = true\n" if name in LOCAL else "") + "\n"
        for name, env in (("gemini-openai", "GEMINI_API_KEY"), ("zai", "ZAI_API_KEY"), ("huggingface", "HF_TOKEN"),
                          ("vllm", None), ("llamacpp", None))
    )
    return builtin + "\n" + custom


@pytest.fixture(scope="module")
def replay():
    with ReplayServer() as srv:
        yield srv


@pytest.fixture
def corpus_home(tmp_path, monkeypatch, replay, memkeyring):
    for name in PROVIDER_ENV:
        monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    (home / "config").mkdir(parents=True)
    (home / "config" / "config.toml").write_text(_config(replay.url), encoding="utf-8")
    monkeypatch.setenv("AGENTSPACE_HOME", str(home))
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    monkeypatch.setenv("OPENAI_BASE_URL", replay.url + "/v1")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", replay.url)
    monkeypatch.setenv("OLLAMA_HOST", replay.url)
    for env, value in KEYS.items():
        monkeypatch.setenv(env, value)
    return home


def _price_map() -> dict:
    spec = importlib.util.find_spec("litellm")
    assert spec is not None and spec.submodule_search_locations
    path = Path(spec.submodule_search_locations[0]) / "model_prices_and_context_window_backup.json"
    return json.loads(path.read_text())


def expected_cost(meta: dict, usage: dict) -> tuple[float | None, str | None]:
    """The bill: the provider's own figure, else litellm's catalog price times the reported tokens."""
    exp, provider, model = meta["expected"], meta["provider"], meta["model"]
    if exp.get("provider_cost") is not None:
        return exp["provider_cost"], "provider"
    if provider in LOCAL:
        return 0.0, "local"
    catalog = CATALOG.get(provider)
    prices = _price_map()
    entry = next((prices[k] for k in (f"{catalog}/{model}", model)
                  if k in prices and prices[k].get("litellm_provider") == catalog), None)
    if entry is None or entry.get("input_cost_per_token") is None or entry.get("output_cost_per_token") is None:
        return None, None
    read, write = usage["cache_read_tokens"], usage["cache_write_tokens"]
    cost = ((usage["input_tokens"] - read - write) * entry["input_cost_per_token"]
            + read * entry.get("cache_read_input_token_cost", entry["input_cost_per_token"])
            + write * entry.get("cache_creation_input_token_cost", entry["input_cost_per_token"])
            + usage["output_tokens"] * entry["output_cost_per_token"])
    return cost, "catalog"


def ask_json(capsys, *args: str) -> tuple[int, dict, str]:
    code = cli.main(["ask", "--json", *args])
    out, err = capsys.readouterr()
    return code, json.loads(out), err


def test_corpus_covers_enough_providers():
    metas = [json.loads(p.read_text()) for p in RECORDINGS]
    assert len(metas) >= 30
    assert len({m["provider"] for m in metas}) >= 10
    for m in metas:
        assert (CORPUS / f"{m['id']}.body").exists(), m["id"]
        source = m["source"]
        assert source["repo"] and source["license"] and (source.get("commit") or source.get("url")), m["id"]


def test_corpus_readme_lists_every_recording():
    readme = (CORPUS.parent / "README.md").read_text()
    for path in RECORDINGS:
        meta = json.loads(path.read_text())
        row = next((line for line in readme.splitlines() if f"`{meta['id']}`" in line), None)
        assert row is not None, f"{meta['id']} has no row in tests/corpus/README.md"
        assert meta["source"]["repo"] in row and meta["source"]["license"] in row


@pytest.mark.parametrize("path", RECORDINGS, ids=[p.stem for p in RECORDINGS])
def test_recording(path: Path, corpus_home, replay, capsys):
    recording = load_recording(path)
    meta, exp = recording.meta, recording.meta["expected"]
    replay.play(recording)
    before = len(replay.requests)
    code, out, err = ask_json(capsys, "-m", f"{meta['provider']}:{meta['model']}", "What does the recording say?")

    # one request (Ollama's model discovery aside), carrying this provider's own key or none at all
    sent = [r for r in replay.requests[before:] if not r.path.startswith(("/api/show", "/api/tags"))]
    assert len(sent) == 1, err
    key = sent[0].headers.get("x-goog-api-key") or sent[0].api_key
    assert key == EXPECTED_KEY[meta["provider"]]

    assert out["text"] == exp["text"]
    assert out["reasoning"] == (exp["reasoning"] or None)
    assert out["finish"] == exp["finish"], (out["error"], err)
    assert [(c["name"], c["arguments"] or "{}") for c in out["tool_calls"]] == [
        (c["name"], c["arguments"] or "{}") for c in exp.get("tool_calls") or []
    ]
    assert code == (4 if exp["finish"] in ("interrupted", "error") else 0), err
    if exp["finish"] not in ("stop", "interrupted", "error"):
        assert f"agentspace-tui: {'truncated' if exp['finish'] == 'length' else ''}" in err

    usage, want = out["usage"], exp["usage"]
    assert usage["source"] == want["source"]
    if want["source"] == "provider":
        for key in ("input_tokens", "output_tokens", "reasoning_tokens", "cache_read_tokens", "cache_write_tokens"):
            assert usage[key] == want[key], key
        cost, source = expected_cost(meta, usage)
        assert out["cost_source"] == source
        assert out["cost"] == (pytest.approx(cost, rel=1e-6) if cost is not None else None)
    else:  # counted locally, and said so
        assert usage["output_tokens"] > 0 or not (exp["text"] or exp["reasoning"])
        assert out["cost_source"] in ("catalog", "local", None)
