"""Pure core pieces: model ids, catalog, pricing arithmetic, token counts, context inspection."""

from __future__ import annotations

import pytest

from agentspace_tui.catalog.catalog import Catalog
from agentspace_tui.catalog.models import ModelError
from agentspace_tui.catalog.ollama import OllamaModel
from agentspace_tui.catalog.providers import BUILTIN_PROVIDERS, ProviderConfigError, apply_config
from agentspace_tui.context import ContextInspector
from agentspace_tui.pricing import Price, Usage, format_cost, reply_cost, resolve_price
from agentspace_tui.tokens import count, encoding_for


@pytest.fixture
def catalog():
    return Catalog(BUILTIN_PROVIDERS, [OllamaModel("llama3.2:latest", 131072)])


@pytest.mark.parametrize(
    "given, expected",
    [
        ("openai:gpt-4o-mini", "openai:gpt-4o-mini"),
        ("openai/gpt-4o-mini", "openai:gpt-4o-mini"),
        ("gpt-4o-mini", "openai:gpt-4o-mini"),
        ("claude-sonnet-4-5", "anthropic:claude-sonnet-4-5"),
        ("gemini-2.5-flash", "gemini:gemini-2.5-flash"),
        ("llama3.2", "ollama:llama3.2"),  # Ollama's implicit ":latest" tag
        ("ollama:llama3.2", "ollama:llama3.2"),
        ("openrouter:anthropic/claude-3.5-sonnet", "openrouter:anthropic/claude-3.5-sonnet"),
    ],
)
def test_model_ids_resolve(catalog, given, expected):
    assert catalog.resolve(given).id == expected


def test_litellm_prefixes(catalog):
    assert catalog.resolve("ollama:llama3.2").litellm_model == "ollama_chat/llama3.2"
    assert catalog.resolve("claude-sonnet-4-5").litellm_model == "anthropic/claude-sonnet-4-5"
    assert catalog.resolve("ollama:llama3.2").context_window == 131072


def test_unknown_bare_name_suggests(catalog):
    with pytest.raises(ModelError, match="did you mean .*gpt-4o-mini"):
        catalog.resolve("gpt-4o-mni")
    with pytest.raises(ModelError, match="unknown provider 'nope'"):
        catalog.resolve("nope:thing")


def test_catalog_knows_windows_and_prices(catalog):
    info = catalog.resolve("anthropic:claude-sonnet-4-5")
    assert info.context_window == 200_000
    assert info.input_per_mtok == pytest.approx(3.0)
    assert info.output_per_mtok == pytest.approx(15.0)
    # a provider-qualified model the catalog does not know: allowed, price and window unknown
    unknown = catalog.resolve("openai:my-finetune")
    assert unknown.input_per_mtok is None and unknown.context_window is None


def test_configured_endpoint():
    providers = apply_config(
        BUILTIN_PROVIDERS,
        {"lmstudio": {"kind": "openai", "api_base": "http://localhost:1234/v1", "local": True,
                      "models": ["qwen2.5-7b"], "context_window": 32768},
         "openai": {"api_base": "https://gw.example/v1"}},
    )
    cat = Catalog(providers)
    info = cat.resolve("qwen2.5-7b")
    assert info.id == "lmstudio:qwen2.5-7b" and info.litellm_model == "openai/qwen2.5-7b"
    assert info.local and info.context_window == 32768
    assert providers["openai"].api_base == "https://gw.example/v1"
    with pytest.raises(ProviderConfigError, match="api_base"):
        apply_config(BUILTIN_PROVIDERS, {"x": {"kind": "openai"}})
    with pytest.raises(ProviderConfigError, match="kind"):
        apply_config(BUILTIN_PROVIDERS, {"x": {"kind": "grpc", "api_base": "http://x"}})


def test_prices_override_local_unknown():
    p = resolve_price("openai:gpt-4o-mini", local=False, catalog_input=0.15, catalog_output=0.6)
    assert p.source == "catalog"
    o = resolve_price("openai:gpt-4o-mini", local=False, catalog_input=0.15, catalog_output=0.6,
                      overrides={"openai:gpt-4o-mini": {"input_per_mtok": 1.0, "output_per_mtok": 2.0}})
    assert o.source == "override" and o.input_per_mtok == 1.0
    assert resolve_price("ollama:x", local=True, catalog_input=None, catalog_output=None).input_per_mtok == 0.0
    assert resolve_price("openrouter:x", local=False, catalog_input=None, catalog_output=None) is None


def test_reply_cost_never_double_counts_cache():
    price = Price(3.0, 15.0, 0.3, 3.75)
    # 10k prompt tokens of which 8k cache reads and 1k cache writes; 1k output
    usage = Usage(input_tokens=10_000, output_tokens=1_000, cache_read_tokens=8_000, cache_write_tokens=1_000)
    expected = (1_000 * 3.0 + 8_000 * 0.3 + 1_000 * 3.75 + 1_000 * 15.0) / 1e6
    assert reply_cost(price, usage) == pytest.approx(expected)
    assert reply_cost(None, usage) is None
    assert reply_cost(Price(0, 0, 0, 0, "local"), usage) == 0.0


def test_cost_formatting_tells_unknown_from_free():
    assert format_cost(None) == "unknown"
    assert format_cost(0.0) == "$0"
    assert format_cost(0.0123) == "$0.0123"
    assert format_cost(12.5) == "$12.50"


def test_token_counts_offline():
    assert encoding_for("openai", "gpt-4o-mini") == "o200k_base"
    assert encoding_for("openai", "gpt-4") == "cl100k_base"
    assert encoding_for("anthropic", "claude-sonnet-4-5") == "cl100k_base"
    assert count("hello world", "o200k_base") == 2
    assert count("", "cl100k_base") == 0
    big = "word [bracket] " * 50_000
    assert count(big + "x") >= count(big) > 50_000


def _history(n_turns: int, size: int = 400) -> list[dict]:
    out = []
    for i in range(n_turns):
        out.append({"id": f"u{i}", "role": "user", "content": f"question {i} " + "x " * size})
        out.append({"id": f"a{i}", "role": "assistant", "content": f"answer {i} " + "y " * size})
    return out


def test_context_sections_and_exclusion():
    insp = ContextInspector()
    history = _history(10)
    price = Price(1.0, 2.0)
    full = insp.inspect(model_id="m", encoding="cl100k_base", exact=False, context_window=None, price=price,
                        system_prompt="Be brief.", attachments=[{"name": "a.txt", "content": "hello"}],
                        history=history, draft="hi")
    names = [s.name for s in full.sections]
    assert names == ["system_prompt", "attachments", "history", "tools", "user_message"]
    assert full.total.tokens == sum(s.tokens for s in full.sections)
    assert full.section("history").tokens > 8000
    assert full.excluded_messages == 0
    assert full.total.cost == pytest.approx(full.total.tokens / 1e6)
    # a window that holds only part of the history: oldest whole turns are left out
    window = full.total.tokens // 2
    part = insp.inspect(model_id="m", encoding="cl100k_base", exact=False, context_window=window, price=None,
                        system_prompt="Be brief.", attachments=[], history=history, draft="hi")
    assert part.excluded_messages > 0 and part.excluded_messages % 2 == 0
    assert part.total.tokens <= window
    assert part.total.cost is None and not part.price_known
    msgs = insp.request_messages(part, system_prompt="Be brief.", attachments=[], history=history, user_text="hi")
    assert msgs[0]["role"] == "system" and msgs[-1] == {"role": "user", "content": "hi"}
    assert len(msgs) == 2 + len(history) - part.excluded_messages
    assert msgs[1]["content"].startswith(f"question {part.excluded_messages // 2} ")


def test_context_draft_changes_only_user_section():
    insp = ContextInspector()
    history = _history(5)
    kw = dict(model_id="m", encoding="cl100k_base", exact=False, context_window=100_000, price=Price(1, 1),
              system_prompt="s", attachments=[], history=history)
    a = insp.inspect(**kw, draft="")
    b = insp.inspect(**kw, draft="one two three four five")
    assert b.section("user_message").tokens == a.section("user_message").tokens + 5
    assert b.section("history").tokens == a.section("history").tokens
    assert b.used_fraction > a.used_fraction
