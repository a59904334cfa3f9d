"""Model parameters: parsing and validation (services.params), what each provider's wire receives (the real
litellm against the loopback fake server), and the inspector's bound on a reply's cost."""

from __future__ import annotations

import pytest

from agentspace_tui.context import ContextInspector
from agentspace_tui.pricing import Price
from agentspace_tui.providers.errors import ProviderContext
from agentspace_tui.providers.events import Finish
from agentspace_tui.providers.stream import ChatRequest, stream_chat
from agentspace_tui.services.params import (
    PARAM_HELP,
    ModelParams,
    ParamError,
    canonical_name,
    check_for_model,
    parse_set_command,
)
from tests.fakeserver import FakeLLMServer

# -- parsing and validation ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "field"),
    [
        ("temperature", "temperature"),
        ("temp", "temperature"),
        ("TEMP", "temperature"),
        ("top_p", "top_p"),
        ("top-p", "top_p"),
        ("topp", "top_p"),
        ("max_tokens", "max_tokens"),
        ("max-tokens", "max_tokens"),
        ("max_output", "max_tokens"),
        ("max", "max_tokens"),
    ],
)
def test_aliases(name, field):
    assert canonical_name(name) == field


def test_unknown_name_is_one_line_with_the_usage():
    with pytest.raises(ParamError) as err:
        ModelParams().with_value("frequency", "1")
    message = str(err.value)
    assert "\n" not in message and "'frequency'" in message and PARAM_HELP in message


def test_with_value_sets_and_keeps_the_rest():
    params = ModelParams().with_value("temp", "0.2").with_value("top-p", " 0.9 ").with_value("max", "500")
    assert params == ModelParams(0.2, 0.9, 500)
    assert params.as_dict() == {"temperature": 0.2, "top_p": 0.9, "max_tokens": 500}
    assert isinstance(params.as_dict()["max_tokens"], int)
    assert params.describe() == "temperature 0.2 · top-p 0.9 · max 500 tokens"
    assert params.with_value("temperature", "1").temperature == 1.0


@pytest.mark.parametrize("word", ["default", "DEFAULT", "off", "none", "", "  "])
def test_unset_words(word):
    params = ModelParams(0.2, 0.9, 500).with_value("top_p", word)
    assert params == ModelParams(0.2, None, 500)
    assert "top_p" not in params.as_dict()


def test_nothing_set():
    assert ModelParams().as_dict() == {}
    assert ModelParams().describe() == "provider defaults"
    assert ModelParams(max_tokens=64).describe() == "max 64 tokens"


@pytest.mark.parametrize(
    ("name", "text", "label", "allowed"),
    [
        ("temperature", "2.5", "temperature '2.5'", "0 to 2"),
        ("temperature", "-0.1", "temperature '-0.1'", "0 to 2"),
        ("temperature", "nan", "temperature 'nan'", "0 to 2"),
        ("temperature", "warm", "temperature 'warm'", "0 to 2"),
        ("top_p", "0", "top-p '0'", "above 0, up to 1"),
        ("top_p", "1.01", "top-p '1.01'", "above 0, up to 1"),
        ("max_tokens", "0", "max-tokens '0'", "1 to 1000000"),
        ("max_tokens", "1000001", "max-tokens '1000001'", "1 to 1000000"),
        ("max_tokens", "12.5", "max-tokens '12.5'", "whole number"),
        ("max_tokens", "1e3", "max-tokens '1e3'", "whole number"),
    ],
)
def test_invalid_values_name_parameter_value_and_range(name, text, label, allowed):
    with pytest.raises(ParamError) as err:
        ModelParams().with_value(name, text)
    message = str(err.value)
    assert "\n" not in message and label in message and allowed in message and "'default'" in message


def test_bounds_are_inclusive_where_allowed():
    assert ModelParams().with_value("temperature", "0").temperature == 0.0
    assert ModelParams().with_value("temperature", "2").temperature == 2.0
    assert ModelParams().with_value("top_p", "1").top_p == 1.0
    assert ModelParams().with_value("max_tokens", "1000000").max_tokens == 1_000_000


def test_error_shows_hostile_value_on_one_short_printable_line():
    with pytest.raises(ParamError) as err:
        ModelParams().with_value("temperature", "\x1b[31m" + "9" * 100)
    message = str(err.value)
    assert "\x1b" not in message and "9" * 30 not in message and "..." in message


@pytest.mark.parametrize(
    ("arg", "expected"),
    [
        ("temperature 0.2", ("temperature", "0.2")),
        ("temperature=0.2", ("temperature", "0.2")),
        ("  top-p   0.5 ", ("top_p", "0.5")),
        ("max = 300", ("max_tokens", "300")),
        ("temp", ("temperature", "")),
        ("temp default", ("temperature", "default")),
    ],
)
def test_parse_set_command(arg, expected):
    assert parse_set_command(arg) == expected


@pytest.mark.parametrize("arg", ["", "   ", "=0.2", "seed 4"])
def test_parse_set_command_refuses(arg):
    with pytest.raises(ParamError) as err:
        parse_set_command(arg)
    assert PARAM_HELP in str(err.value)


def test_from_stored_keeps_valid_entries():
    stored = {"temperature": 0.7, "top_p": 1, "max_tokens": 256}
    params = ModelParams.from_stored(stored)
    assert params == ModelParams(0.7, 1.0, 256)
    assert ModelParams.from_stored(params.as_dict()) == params  # round trip
    assert ModelParams.from_stored({"max_tokens": 512.0}).max_tokens == 512  # JSON may have made it a float


@pytest.mark.parametrize(
    "stored",
    [
        None,
        "temperature=0.2",
        [0.2, 0.9],
        42,
        {"temperature": "0.2", "top_p": "high", "max_tokens": "500"},  # strings are not stored numbers
        {"temperature": True, "top_p": False, "max_tokens": True},  # bools are not numbers
        {"temperature": 3, "top_p": 0, "max_tokens": 0},  # out of range
        {"temperature": float("nan"), "top_p": float("inf"), "max_tokens": 10**12},
        {"temperature": None, "top_p": [], "max_tokens": 12.5, "seed": 7, 3: 4},
    ],
)
def test_from_stored_drops_corrupt_entries(stored):
    assert ModelParams.from_stored(stored) == ModelParams()


def test_from_stored_mixed_keeps_only_good():
    assert ModelParams.from_stored({"temperature": 9, "top_p": 0.5, "max_tokens": -1}) == ModelParams(top_p=0.5)


def test_check_for_model():
    check_for_model(ModelParams(max_tokens=8192), 8192)
    check_for_model(ModelParams(max_tokens=10**6), None)  # the limit is unknown: anything goes
    check_for_model(ModelParams(temperature=1.0), 100)
    with pytest.raises(ParamError) as err:
        check_for_model(ModelParams(max_tokens=8193), 8192)
    message = str(err.value)
    assert "\n" not in message and "8193" in message and "8192" in message and "max-tokens" in message


# -- on the wire ---------------------------------------------------------------------------------------------
WIRES = {
    # wire: (litellm model, api_base suffix, request path)
    "openai": ("openai/gpt-4o-mini", "/v1", "/v1/chat/completions"),
    "anthropic": ("anthropic/claude-sonnet-4-5", "", "/v1/messages"),
    "ollama": ("ollama_chat/llama3.2", "", "/api/chat"),
}
SET = ModelParams(temperature=0.2, top_p=0.9, max_tokens=500)


async def send(llm: FakeLLMServer, wire: str, params: ModelParams, model: str | None = None) -> dict:
    """One real request through stream_chat; the JSON body the fake server received."""
    litellm_model, suffix, path = WIRES[wire]
    request = ChatRequest(
        litellm_model=model or litellm_model,
        messages=[{"role": "user", "content": "hi"}],
        provider=ProviderContext(wire.title(), wire, None, None),
        api_key=None if wire == "ollama" else "sk-test-params-0123456789",
        api_base=llm.url + suffix,
        wire=wire,
        params=params.as_dict(),
    )
    events = [event async for event in stream_chat(request)]
    assert isinstance(events[-1], Finish), events[-1]
    (received,) = llm.requests_to(path)
    assert isinstance(received.body, dict)
    return received.body


async def test_openai_wire_receives_params(llm):
    body = await send(llm, "openai", SET)
    assert (body["temperature"], body["top_p"], body["max_tokens"]) == (0.2, 0.9, 500)


async def test_anthropic_wire_receives_params(llm):
    body = await send(llm, "anthropic", SET)
    assert (body["temperature"], body["top_p"], body["max_tokens"]) == (0.2, 0.9, 500)


async def test_ollama_wire_receives_params_as_options(llm):
    body = await send(llm, "ollama", SET)
    assert body["options"] == {"temperature": 0.2, "top_p": 0.9, "num_predict": 500}
    assert "temperature" not in body and "max_tokens" not in body


@pytest.mark.parametrize("wire", WIRES)
async def test_unset_params_are_not_sent(llm, wire):
    body = await send(llm, wire, ModelParams())
    flat = {**body, **(body.get("options") or {})}
    assert not {"temperature", "top_p", "num_predict", "max_completion_tokens"} & set(flat)
    if wire == "anthropic":
        # Anthropic requires max_tokens: litellm fills in the model's own max output (64k for Sonnet 4.5)
        assert body["max_tokens"] == 64000
    else:
        assert "max_tokens" not in body


async def test_only_the_set_param_is_sent(llm):
    body = await send(llm, "openai", ModelParams(max_tokens=77))
    assert body["max_tokens"] == 77 and "temperature" not in body and "top_p" not in body


async def test_openai_reasoning_model_quirks_pinned(llm):
    """litellm (drop_params=True, set in load_litellm) renames max_tokens for OpenAI reasoning models and
    silently drops a temperature / top-p they reject: the session's values are then not what was sent."""
    body = await send(llm, "openai", SET, model="openai/o3-mini")
    assert body.get("max_completion_tokens") == 500
    assert "max_tokens" not in body and "temperature" not in body and "top_p" not in body


# -- the inspector's bound on a reply's cost ---------------------------------------------------------------
def inspect(price: Price | None, max_output_tokens: int | None):
    return ContextInspector().inspect(
        model_id="anthropic:claude-sonnet-4-5",
        encoding="cl100k_base",
        exact=False,
        context_window=200_000,
        price=price,
        system_prompt=None,
        attachments=None,
        history=[],
        draft="hello",
        max_output_tokens=max_output_tokens,
    )


def test_output_cost_max_with_known_price():
    insp = inspect(Price(3.0, 15.0), 2000)
    assert insp.max_output_tokens == 2000
    assert insp.output_cost_max == pytest.approx(2000 * 15.0 / 1e6)
    data = insp.as_json()
    assert data["max_output_tokens"] == 2000 and data["output_cost_max"] == pytest.approx(0.03)


def test_output_cost_max_unknown_price_or_no_max():
    unknown = inspect(None, 2000)
    assert unknown.max_output_tokens == 2000 and unknown.output_cost_max is None
    unset = inspect(Price(3.0, 15.0), None)
    assert unset.max_output_tokens is None and unset.output_cost_max is None
    assert unset.as_json()["output_cost_max"] is None
    assert inspect(Price(0.0, 0.0, source="local"), 100).output_cost_max == 0.0  # free, not unknown
