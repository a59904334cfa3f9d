"""The forecast before sending: input cost now plus an output range (session max tokens, this model's recent
replies, or the model's max output), in `context --json`, and `ask` held above confirm_above (--yes / exit 5)."""

from __future__ import annotations

import json

import pytest

from agentspace_tui.cli import main
from agentspace_tui.services.chat_session import ChatSession
from agentspace_tui.services.core import build_services
from agentspace_tui.services.forecast import forecast_request, make_forecast
from agentspace_tui.services.params import ModelParams
from tests.fakeserver import Reply
from tests.test_config_validation import write_config

OPENAI = "openai:gpt-4o-mini"  # $0.15 in / $0.60 out per million tokens


def cli(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def asked(capsys, *argv):
    code, out, err = cli(capsys, "ask", "-m", OPENAI, *argv)
    assert code == 0, err
    return out, err


def test_the_three_bases_and_an_unknown_price(home, llm, capsys):
    services = build_services()
    info = services.resolve_model(OPENAI)
    fresh = ChatSession(services, info)
    first = forecast_request(services, fresh, "hello there")
    assert first.basis == "model max output" and first.output_tokens_high == info.max_output
    assert first.output_tokens_low == 0 and first.output_cost_low == 0.0
    assert first.output_cost_high == pytest.approx(info.max_output * 0.6 / 1e6)
    assert first.input_cost == pytest.approx(first.input_tokens * 0.15 / 1e6) and first.input_cost > 0

    for words in (5, 40):
        llm.script(Reply(text="word " * words, output_tokens=words * 10))
        asked(capsys, "-c", "go") if words == 40 else asked(capsys, "go")
    session = services.latest_session()
    conversation, _ = ChatSession.open(services, session["id"])
    recent = forecast_request(services, conversation, "next")
    assert recent.basis == "recent replies"
    assert (recent.output_tokens_low, recent.output_tokens_high) == (50, 400)
    assert recent.output_cost_high == pytest.approx(400 * 0.6 / 1e6)

    conversation.set_params(ModelParams.from_stored({"max_tokens": 300}))
    bounded = forecast_request(services, conversation, "next")
    assert bounded.basis == "max_tokens" and (bounded.output_tokens_low, bounded.output_tokens_high) == (50, 300)

    unknown = make_forecast(conversation.inspect("x"), info, None, conversation.messages)
    assert unknown.input_cost is None and unknown.output_cost_high is None and unknown.total_high is None
    assert "price unknown" in unknown.describe()


def test_context_json_has_the_forecast(home, llm, capsys):
    llm.script(Reply(text="fine", output_tokens=120))
    asked(capsys, "hi")
    sid = build_services().latest_session()["id"]
    code, out, err = cli(capsys, "context", sid, "--json", "--draft", "and then?")
    assert code == 0, err
    forecast = json.loads(out)["forecast"]
    assert set(forecast) >= {"input_cost", "output_cost_low", "output_cost_high"}
    assert forecast["basis"] == "recent replies" and forecast["output_cost_high"] == pytest.approx(120 * 0.6 / 1e6)
    code, out, _ = cli(capsys, "context", sid)
    assert "forecast: input $" in out and "from recent replies" in out


def test_ask_above_confirm_above_needs_yes(home, llm, capsys):
    write_config(home, "confirm_above = 0.001\n")
    code, out, err = cli(capsys, "ask", "-m", OPENAI, "a question")  # up to the model's max output: > $0.001
    assert code == 5 and out == ""
    assert "above confirm_above $0.0010" in err and "--yes" in err and err.count("\n") == 1
    assert llm.requests_to("/v1/chat/completions") == []
    assert build_services().latest_session() is None  # nothing stored
    code, out, err = cli(capsys, "ask", "--yes", "-m", OPENAI, "a question")
    assert code == 0, err
    assert "[forecast: input $" in err
    # a small max output brings the forecast under the threshold: no --yes needed
    code, out, err = cli(capsys, "ask", "-m", OPENAI, "--max-tokens", "100", "short")
    assert code == 0, err


def test_ask_json_carries_the_forecast_and_prints_no_forecast_line(home, llm, capsys):
    code, out, err = cli(capsys, "ask", "--json", "-m", OPENAI, "hi")
    assert code == 0, err
    assert json.loads(out)["forecast"]["basis"] == "model max output"
    assert "[forecast" not in err
