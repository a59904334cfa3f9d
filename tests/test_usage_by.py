"""``usage --by day|model|provider [--since] [--json]`` and services/usage_report.py: the ledger grouped.

Ledger rows are made the way the app makes them: real sends through litellm to the loopback server, or
``Store.record_reply_usage`` with explicit times (the ledger keeps local days).
"""

from __future__ import annotations

import json
import time
from datetime import date

import pytest

from agentspace_tui.cli import main
from agentspace_tui.services.budgets import Budget, statuses_of
from agentspace_tui.services.core import build_services
from agentspace_tui.services.usage_report import overview, parse_day, provider_of, report
from tests.conftest import run_cli
from tests.fakeserver import Reply

OPENAI, MINI, CLAUDE, LLAMA = "openai:gpt-4o", "openai:gpt-4o-mini", "anthropic:claude-sonnet-4-5", "ollama:llama3"


def noon(day: str) -> float:
    """Local noon of a YYYY-MM-DD day (the ledger files a request under its local day)."""
    d = date.fromisoformat(day)
    return time.mktime((d.year, d.month, d.day, 12, 0, 0, 0, 0, -1))


def record(store, session_id: str, day: str, model: str, cost: float | None, *, tokens=(1000, 200), cache_read=0,
           estimated=False, savings: float | None = None) -> None:
    store.record_reply_usage(
        session_id, model=model, input_tokens=tokens[0], output_tokens=tokens[1], cache_read_tokens=cache_read,
        cache_write_tokens=0, cost=cost, estimated=estimated, when=noon(day), cache_savings=savings,
    )


@pytest.fixture
def ledger(home):
    """Four days of spending over three providers, one unknown price, one estimated request."""
    services = build_services()
    store = services.store
    sid = store.create_session(title="spending")["id"]
    record(store, sid, "2026-02-27", MINI, 0.01)
    record(store, sid, "2026-03-01", CLAUDE, 0.20, cache_read=800, savings=0.0022)
    record(store, sid, "2026-03-01", CLAUDE, 0.30)
    record(store, sid, "2026-03-02", LLAMA, None)
    record(store, sid, "2026-03-02", OPENAI, 0.05)
    record(store, sid, "2026-03-03", OPENAI, 0.002, tokens=(10, 20), estimated=True)
    store.close()
    return home


# -- the service ----------------------------------------------------------------------------------------------
def test_grouping_by_day_model_provider(ledger):
    rows = build_services().store.ledger_rows()
    by_day = report(rows, "day")
    assert [r.key for r in by_day.rows] == ["2026-02-27", "2026-03-01", "2026-03-02", "2026-03-03"]
    assert by_day.rows[1].requests == 2 and by_day.rows[1].cost == pytest.approx(0.5)
    assert by_day.total.requests == 6 and by_day.total.cost == pytest.approx(0.562)

    by_model = report(rows, "model")
    assert [r.key for r in by_model.rows] == [CLAUDE, OPENAI, MINI, LLAMA]  # highest known cost first
    llama = by_model.rows[-1]
    assert llama.cost is None and llama.unknown_cost == 1 and llama.unknown_models == {LLAMA}

    by_provider = {r.key: r for r in report(rows, "provider").rows}
    assert set(by_provider) == {"anthropic", "openai", "ollama"}
    assert by_provider["openai"].requests == 3 and by_provider["openai"].cost == pytest.approx(0.062)
    assert by_provider["openai"].estimated == 1 and by_provider["openai"].estimated_cost == pytest.approx(0.002)
    assert by_provider["anthropic"].cache_read_tokens == 800
    assert by_provider["anthropic"].cache_savings == pytest.approx(0.0022)
    assert by_provider["ollama"].cost is None and by_provider["ollama"].cache_savings is None


def test_a_day_mixing_known_and_unknown_prices_keeps_both(ledger):
    day = report(build_services().store.ledger_rows(), "day", since="2026-03-02", until="2026-03-02").rows[0]
    assert day.cost == pytest.approx(0.05)  # the known part; the unknown request is not counted as $0
    assert day.unknown_cost == 1 and day.unknown_models == {LLAMA}
    assert day.as_json("day")["unknown_models"] == [LLAMA]


def test_since_filter_and_json_rows(ledger):
    rows = build_services().store.ledger_rows()
    since = report(rows, "model", since="2026-03-02")
    assert {r.key for r in since.rows} == {LLAMA, OPENAI}
    assert since.total.requests == 3
    assert report(rows, "day", since="2027-01-01").rows == []
    first = report(rows, "provider").as_json()[0]
    assert set(first) == {"provider", "requests", "input_tokens", "output_tokens", "cache_read_tokens",
                          "cache_write_tokens", "reasoning_tokens", "cost", "unknown_cost", "unknown_models",
                          "estimated", "estimated_cost", "cache_savings"}


def test_rows_without_a_savings_counter_are_unknown_not_zero():
    rows = [{"day": "2026-03-01", "model": MINI, "requests": 1, "cost": 0.1}]  # stored before the counter existed
    assert report(rows, "model").rows[0].cache_savings is None
    assert report(rows, "model").as_json()[0]["cache_savings"] is None


def test_parse_day_and_provider_of():
    assert parse_day("2026-03-01") == date(2026, 3, 1)
    for bad in ("2026-3-1", "yesterday", "2026-02-30", ""):
        with pytest.raises(ValueError, match="YYYY-MM-DD"):
            parse_day(bad)
    assert provider_of("openai:gpt-4o") == "openai" and provider_of("gpt-4o") == "unknown"
    with pytest.raises(ValueError, match="cannot group"):
        report([], "week")


def test_overview_window_stack_and_budgets(ledger):
    rows = build_services().store.ledger_rows()
    limits = [Budget("daily", 1.0), Budget("monthly", 2.0), Budget("monthly", 0.1, "openai")]
    statuses = statuses_of(limits, rows, date(2026, 3, 3), 0.8)
    ov = overview(rows, date(2026, 3, 3), days=3, budgets=statuses, top_models=1)
    assert ov.days == ["2026-03-01", "2026-03-02", "2026-03-03"]
    assert ov.total.requests == 5  # February's request is outside the window
    assert list(ov.stacked) == [CLAUDE, OPENAI]  # one model left over keeps its name; llama has no known cost
    assert ov.stacked[CLAUDE] == pytest.approx([0.5, 0, 0])
    assert ov.stacked[OPENAI] == pytest.approx([0, 0.05, 0.002])
    five = overview(rows, date(2026, 3, 3), days=5, top_models=1)
    assert list(five.stacked) == [CLAUDE, "other (2 models)"]
    assert five.stacked["other (2 models)"] == pytest.approx([0.01, 0, 0, 0.05, 0.002])
    assert ov.tokens_in == [2000, 2000, 10] and ov.tokens_out == [400, 400, 20]
    assert ov.savings == pytest.approx([0.0022, 0, 0])
    daily, monthly, openai = ov.budgets
    assert daily.spent.cost == pytest.approx(0.002) and daily.spent.unknown == 0
    assert monthly.spent.cost == pytest.approx(0.552) and monthly.spent.unknown == 1  # March only
    assert openai.spent.cost == pytest.approx(0.052) and openai.share == pytest.approx(0.52)
    assert not ov.ledger_empty
    assert overview([], date(2026, 3, 3)).ledger_empty


# -- the command line ---------------------------------------------------------------------------------------------
def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["usage", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_by_day_text(ledger, capsys):
    code, out, err = run(capsys, "--by", "day")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["day", "requests", "input", "output", "cache", "read", "cache", "savings", "cost"]
    assert lines[2].startswith("2026-02-27") and "$0.0100" in lines[2]
    march_2 = next(line for line in lines if line.startswith("2026-03-02"))
    assert "$0.0500 (+1 unknown)" in march_2
    march_3 = next(line for line in lines if line.startswith("2026-03-03"))
    assert "est." in march_3
    total = next(line for line in lines if line.startswith("total"))
    assert "$0.5620 (+1 unknown)" in total and " 6 " in total
    assert f"unknown price: 1 of 6 requests ({LLAMA})" in out
    assert "est.: 1 of 6 requests" in out


def test_cli_by_provider_json_and_since(ledger, capsys):
    code, out, _ = run(capsys, "--by", "provider", "--since", "2026-03-01", "--json")
    assert code == 0
    data = json.loads(out)
    assert [r["provider"] for r in data] == ["anthropic", "openai", "ollama"]
    ollama = data[-1]
    assert ollama["cost"] is None and ollama["unknown_cost"] == 1 and ollama["unknown_models"] == [LLAMA]
    assert data[0]["cache_savings"] == pytest.approx(0.0022)
    assert sum(r["requests"] for r in data) == 5  # February's request is before --since
    code, out, _ = run(capsys, "--since", "2026-03-03")  # --since alone groups by model
    assert code == 0 and out.splitlines()[0].startswith("model") and OPENAI in out and CLAUDE not in out
    code, out, _ = run(capsys, "--by", "model", "--since", "2030-01-01")
    assert code == 0 and out.strip() == "no usage recorded since 2030-01-01"


@pytest.mark.parametrize("since", ["2026-02-30", "last week", "03/01/2026"])
def test_cli_bad_since_is_one_line_and_exit_2(home, capsys, since):
    code, out, err = run(capsys, "--by", "day", "--since", since)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "--since" in err and "YYYY-MM-DD" in err and "Traceback" not in err


def test_cli_by_refuses_session(ledger, capsys):
    code, _, err = run(capsys, "--by", "model", "--session", "x")
    assert code == 2 and "--session" in err


def test_real_sends_land_in_the_grouped_ledger(home, llm, capsys):
    """Two real replies through litellm (OpenAI and Anthropic wire formats), then the process-level CLI."""
    for model in (MINI, CLAUDE):
        llm.script(Reply(text="hello", input_tokens=1000, output_tokens=200))
        assert main(["ask", "-m", model, "hi"]) == 0
    capsys.readouterr()
    result = run_cli(home, "usage", "--by", "provider", "--json")
    assert result.returncode == 0, result.stderr
    data = {r["provider"]: r for r in json.loads(result.stdout)}
    assert data["openai"]["requests"] == 1 and data["openai"]["input_tokens"] == 1000
    assert data["openai"]["cost"] == pytest.approx((1000 * 0.15 + 200 * 0.6) / 1e6)
    assert data["anthropic"]["cost"] == pytest.approx((1000 * 3 + 200 * 15) / 1e6)
    today = time.strftime("%Y-%m-%d")
    result = run_cli(home, "usage", "--by", "day")
    assert result.returncode == 0 and result.stdout.splitlines()[2].startswith(today)
    bad = run_cli(home, "usage", "--by", "day", "--since", "tomorrow")
    assert bad.returncode == 2 and bad.stderr.strip().startswith("agentspace-tui: --since:")
