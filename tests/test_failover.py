"""Failover chains ([failover] in config.toml) end to end: the real CLI, litellm and the loopback server's failure
modes (429, 529 overloaded, 500, a closed port, a timeout); the answering model is stored, billed and shown."""

from __future__ import annotations

import json
import socket

import pytest

from agentspace_tui import cli
from agentspace_tui.services.core import build_services
from tests.fakeserver import Reply

CLAUDE = "anthropic:claude-sonnet-4-5"
GPT41 = "openai:gpt-4.1"
MINI = "openai:gpt-4o-mini"
ANTHROPIC_PATH = "/v1/messages"
OPENAI_PATH = "/v1/chat/completions"


def write_config(home, chain: list[str], *, model: str = CLAUDE, extra: str = "") -> None:
    (home / "config").mkdir(parents=True, exist_ok=True)
    listed = ", ".join(f'"{m}"' for m in chain)
    (home / "config" / "config.toml").write_text(
        f'max_retries = 2\nrequest_timeout = 2\n{extra}\n[failover]\n"{model}" = [{listed}]\n', encoding="utf-8"
    )


def ask(capsys, *args: str) -> tuple[int, dict, str]:
    code = cli.main(["ask", "--json", *args])
    out, err = capsys.readouterr()
    return code, json.loads(out), err


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(autouse=True)
def _litellm_loaded():
    from agentspace_tui.providers.stream import load_litellm

    load_litellm()


FAILURES = {
    "rate_limit": Reply(kind="status", status=429, retry_after=1),
    "overloaded": Reply(kind="status", status=529, error_type="overloaded_error", error_message="Overloaded"),
    "server": Reply(kind="status", status=500, error_message="boom"),
    "timeout": Reply(kind="status", status=500, first_delay=4),  # nothing at all within request_timeout (2 s)
}


@pytest.mark.parametrize("kind", [*FAILURES, "unreachable"])
def test_each_failure_before_text_fails_over_at_once(home, llm, capsys, monkeypatch, kind):
    write_config(home, [MINI])
    if kind == "unreachable":
        monkeypatch.setenv("ANTHROPIC_BASE_URL", f"http://127.0.0.1:{closed_port()}")
    else:
        llm.script(FAILURES[kind])
    llm.script(Reply(text="answered by the fallback"))
    code, data, err = ask(capsys, "-m", CLAUDE, "hi")
    assert code == 0, err
    assert data["text"] == "answered by the fallback"
    assert data["answered_by"] == MINI and data["model"] == MINI and data["requested_model"] == CLAUDE
    assert [f["model"] for f in data["failover"]] == [CLAUDE]
    assert data["failover"][0]["kind"] == kind and data["failover"][0]["error"]
    assert f"{CLAUDE} failed (" in err and f"failing over to {MINI}" in err
    # no retries burnt on a model that has a next one
    assert len(llm.requests_to(ANTHROPIC_PATH)) == (0 if kind == "unreachable" else 1)
    assert len(llm.requests_to(OPENAI_PATH)) == 1


def test_chain_of_two_failures_falls_through_to_the_third(home, llm, capsys):
    write_config(home, [GPT41, MINI])
    llm.script(Reply(kind="status", status=429), Reply(kind="status", status=503, error_message="down"),
               Reply(text="third time"))
    code, data, err = ask(capsys, "-m", CLAUDE, "hi")
    assert code == 0, err
    assert data["answered_by"] == MINI and data["text"] == "third time"
    assert [(f["model"], f["kind"]) for f in data["failover"]] == [(CLAUDE, "rate_limit"), (GPT41, "server")]
    assert err.count("failed (") == 2
    stored = build_services().store.get_messages(data["session_id"])[-1]
    assert stored["model"] == MINI and stored["requested_model"] == CLAUDE and stored["status"] == "complete"
    assert [f["model"] for f in stored["failover"]] == [CLAUDE, GPT41]
    # the session keeps the model the user chose: the next request asks it first again
    assert build_services().store.get_session(data["session_id"])["model"] == CLAUDE


def test_when_every_model_fails_the_error_names_each_failure(home, llm, capsys):
    write_config(home, [MINI])
    llm.script(Reply(kind="status", status=529, error_type="overloaded_error"), Reply(kind="status", status=500),
               Reply(kind="status", status=500), Reply(kind="status", status=500))
    code, data, err = ask(capsys, "-m", CLAUDE, "hi")
    assert code != 0
    assert data["finish"] == "error" and data["answered_by"] == MINI
    error = data["error"]
    assert "no model of the failover chain answered" in error
    assert f"{CLAUDE}: Anthropic is overloaded" in error and f"{MINI}: OpenAI server error (500)" in error
    # the last model of the chain is retried as max_retries says (2 here): 1 + 2 requests
    assert len(llm.requests_to(OPENAI_PATH)) == 3 and len(llm.requests_to(ANTHROPIC_PATH)) == 1


def test_a_failure_after_text_started_never_fails_over(home, llm, capsys):
    write_config(home, [MINI])
    llm.script(Reply(text="partial words then trouble", kind="error_event", cut_after=2,
                     error_type="overloaded_error"))
    code, data, err = ask(capsys, "-m", CLAUDE, "hi")
    assert code != 0
    assert data["text"] and "partial" in data["text"]
    assert data["answered_by"] == CLAUDE and data["failover"] == []
    assert len(llm.requests) == 1 and not llm.requests_to(OPENAI_PATH)
    assert "failed (" not in err


def test_a_rejected_key_is_not_failed_over(home, llm, capsys):
    write_config(home, [MINI])
    llm.script(Reply(kind="status", status=401))
    code, data, _ = ask(capsys, "-m", CLAUDE, "hi")
    assert code != 0 and data["failover"] == [] and not llm.requests_to(OPENAI_PATH)


def test_a_next_model_without_a_key_is_skipped(home, llm, capsys, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY")
    write_config(home, [MINI])
    llm.script(Reply(kind="status", status=429), Reply(kind="status", status=429), Reply(kind="status", status=429))
    code, data, _ = ask(capsys, "-m", CLAUDE, "hi")
    assert code != 0 and data["failover"] == [] and not llm.requests_to(OPENAI_PATH)
    assert len(llm.requests_to(ANTHROPIC_PATH)) == 3  # no usable chain: retried as always


def test_the_answering_model_is_billed_at_its_own_price(home, llm, capsys):
    write_config(home, [MINI])
    llm.script(Reply(kind="status", status=429), Reply(text="cheap", input_tokens=1000, output_tokens=1000))
    code, data, err = ask(capsys, "-m", CLAUDE, "hi")
    assert code == 0, err
    services = build_services()
    price = services.price_for(services.resolve_model(MINI))
    assert data["cost"] == pytest.approx((1000 * price.input_per_mtok + 1000 * price.output_per_mtok) / 1e6)
    stored = services.store.get_messages(data["session_id"])[-1]
    assert stored["prices"]["input_per_mtok"] == price.input_per_mtok
    ledger = services.store.usage()["per_model"]
    assert set(ledger) == {MINI} and ledger[MINI]["output_tokens"] == 1000


def test_failover_is_in_the_reply_log(home, llm, capsys):
    write_config(home, [MINI])
    llm.script(Reply(kind="status", status=429), Reply(text="ok"))
    code, data, err = ask(capsys, "-m", CLAUDE, "hi")
    assert code == 0, err
    rows = build_services().store.reply_log()
    assert [(r["model"], r["status"], r["error_kind"]) for r in rows] == [
        (CLAUDE, "error", "rate_limit"), (MINI, "complete", None),
    ]
    assert rows[1]["ttft"] is not None and rows[0]["ttft"] is None


# -- the app ----------------------------------------------------------------------------------------------------
async def test_the_conversation_header_shows_the_failover(home, llm):
    from tests.test_ui_app import header, make_app, send_and_wait, started, summary

    write_config(home, [MINI])
    llm.script(Reply(kind="status", status=429), Reply(text="the fallback answers", delay=0.05))
    app = make_app(model=CLAUDE)
    async with app.run_test(size=(140, 45)) as pilot:
        await started(pilot)
        block = await send_and_wait(pilot, "hi")
        assert header(block).startswith(f"● {CLAUDE}")
        assert f"↪ answered by {MINI} (anthropic rate limit)" in header(block)
        assert summary(block).startswith(MINI)  # billed as the model that answered
        assert app.chat_session.model.id == CLAUDE  # the next request asks the chosen model first again
        stored = app.services.store.get_messages(app.session["id"])[-1]
        assert stored["model"] == MINI and stored["failover"][0]["kind"] == "rate_limit"


async def test_the_model_switcher_shows_p50_time_to_first_token(home, llm):
    import time

    from textual.widgets import OptionList

    from agentspace_tui.ui.screens.model_switcher import ModelSwitcherScreen
    from tests.test_ui_app import make_app, started, until

    services = build_services()
    now = time.time()
    replies = [{"id": f"r{n}", "role": "assistant", "content": "x", "model": MINI, "status": "complete",
                "ttft": ttft, "duration": 2.0, "created_at": now - 3600 * (n + 1)} for n, ttft in enumerate((0.2, 0.4, 9))]
    services.store.bulk_import({"id": "ffff00000001", "title": "old", "model": MINI, "created_at": now - 86400},
                               replies)
    app = make_app(model=MINI)
    async with app.run_test(size=(140, 45)) as pilot:
        await started(pilot)
        await pilot.press("ctrl+o")
        await until(lambda: isinstance(app.screen, ModelSwitcherScreen), what="the switcher")

        def rows() -> list[str]:
            options = app.screen.query_one("#switcher-list", OptionList)
            return [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]

        await until(lambda: any("TTFT p50 0.40 s" in r for r in rows()), what="the p50 in the switcher")
        mini = next(r for r in rows() if r.lstrip("● ").startswith(MINI))
        assert "TTFT p50 0.40 s" in mini and mini.index("per Mtok") < mini.index("TTFT p50")
        assert not any("TTFT" in r for r in rows() if not r.lstrip("● ").startswith(MINI + " "))
