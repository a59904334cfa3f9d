"""Budgets: the service (spend per budget, unknown prices named, estimates flagged, projection) and the CLI
(`budget set/list/unset`, config.toml budgets, `ask` refused with exit 5 / sent with --over-budget), against the
loopback server."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest

from agentspace_tui.cli import main
from agentspace_tui.config.settings import BudgetLimit
from agentspace_tui.services import budgets
from agentspace_tui.services.core import build_services
from agentspace_tui.services.forecast import Forecast
from agentspace_tui.services.send_gate import check_send
from tests.conftest import run_cli
from tests.fakeserver import Reply
from tests.test_config_validation import write_config

OPENAI = "openai:gpt-4o-mini"
CLAUDE = "anthropic:claude-sonnet-4-5"


def cli(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def spend(services, model, cost, *, when=None, estimated=False):
    """A request counted in the ledger, as a finished reply is."""
    session = services.store.create_session(model=model)
    services.store.record_reply_usage(session["id"], model=model, input_tokens=100, output_tokens=10,
                                      cache_read_tokens=0, cache_write_tokens=0, cost=cost, estimated=estimated,
                                      when=when)


def at(day: dt.date, hour: int = 12) -> float:
    return time.mktime((day.year, day.month, day.day, hour, 0, 0, 0, 0, -1))


# -- the service ---------------------------------------------------------------------------------------------
def test_spend_counts_known_and_estimated_names_unknown_and_filters_provider(home):
    services = build_services()
    today = dt.date.today()
    spend(services, OPENAI, 1.25)
    spend(services, OPENAI, 0.25, estimated=True)
    spend(services, OPENAI, None)
    spend(services, OPENAI, None)
    spend(services, CLAUDE, 2.0)
    spend(services, CLAUDE, 5.0, when=at(today - dt.timedelta(days=1)) if today.day > 1 else at(today))
    services.settings.budgets = [BudgetLimit("daily", 2.0, "openai"), BudgetLimit("daily", 10.0)]
    found = {s.budget.name: s for s in budgets.budget_statuses(services.settings, services.store, today=today)}
    mine = found["daily budget for openai"]
    assert mine.spent.cost == pytest.approx(1.5)
    assert mine.spent.unknown == 2 and mine.spent.estimated == 1
    assert mine.spent.estimated_cost == pytest.approx(0.25)
    assert "2 requests of unknown price not counted" in mine.describe()
    assert "$0.25 of it estimated" in mine.describe()
    assert mine.share == pytest.approx(0.75) and mine.state == "ok"
    everyone = found["daily budget"]
    expected = 3.5 + (0 if today.day > 1 else 5.0)
    assert everyone.spent.cost == pytest.approx(expected)
    # only the budgets a request to anthropic counts against
    for_claude = budgets.budget_statuses(services.settings, services.store, today=today, provider="anthropic")
    assert [s.budget.name for s in for_claude] == ["daily budget"]


def test_month_end_projection_and_monthly_spend_with_a_fixed_date(home):
    services = build_services()
    spend(services, OPENAI, 3.0, when=at(dt.date(2026, 4, 2)))
    spend(services, OPENAI, 3.0, when=at(dt.date(2026, 4, 10)))
    spend(services, OPENAI, 100.0, when=at(dt.date(2026, 3, 31)))  # last month: not counted
    services.settings.budgets = [BudgetLimit("monthly", 20.0)]
    [status] = budgets.budget_statuses(services.settings, services.store, today=dt.date(2026, 4, 10))
    assert status.spent.cost == pytest.approx(6.0)
    assert status.projection == pytest.approx(6.0 / 10 * 30)  # April: 30 days
    assert budgets.month_end_projection(31.0, dt.date(2026, 2, 28)) == pytest.approx(31.0)
    data = budgets.report(services.settings, services.store, today=dt.date(2026, 4, 10))
    assert data["month"]["cost"] == pytest.approx(6.0) and data["today"]["cost"] == pytest.approx(3.0)
    assert data["month_end_projection"] == pytest.approx(18.0)


def test_gate_holds_only_for_the_budgets_provider_and_says_how_to_raise_it(home):
    services = build_services()
    spend(services, OPENAI, 5.12)
    services.settings.budgets = [BudgetLimit("daily", 5.0, "openai")]
    found = budgets.budget_statuses(services.settings, services.store)
    paid = Forecast(OPENAI, 0.001, 0.0, 0.002, 0, 100, "recent replies")
    gate = check_send(services.settings, paid, found)
    [hold] = gate.holds
    assert hold.kind == "budget" and hold.flag == "--over-budget"
    assert "daily budget for openai $5.00 is used up ($5.12 spent today)" in hold.message
    assert "agentspace-tui budget set --daily 10 --provider openai" in hold.message
    other = Forecast(CLAUDE, 0.001, 0.0, 0.002, 0, 100, "recent replies")
    assert check_send(services.settings, other, found).holds == []
    free = Forecast("ollama:llama3.2", 0.0, 0.0, 0.0, 0, 100, "recent replies")
    assert check_send(services.settings, free, found).holds == []


def test_warning_at_warn_at_share(home):
    services = build_services()
    spend(services, OPENAI, 0.85)
    services.settings.budgets = [BudgetLimit("daily", 1.0)]
    gate = check_send(services.settings, Forecast(OPENAI, 0.0, 0.0, 0.0, 0, 0, "max_tokens"),
                      budgets.budget_statuses(services.settings, services.store))
    assert gate.holds == [] and len(gate.warnings) == 1 and "85%" in gate.warnings[0]


# -- the CLI -------------------------------------------------------------------------------------------------
def test_budget_set_list_unset_and_config_sources(home, capsys):
    write_config(home, "[budgets]\ndaily = 3\nmonthly = 40\n[budgets.providers.openai]\nmonthly = 10\n")
    assert cli(capsys, "budget", "set", "--daily", "7.5")[0] == 0
    code, out, err = cli(capsys, "budget", "list", "--json")
    assert code == 0, err
    data = json.loads(out)
    by_name = {b["name"]: b for b in data["budgets"]}
    assert by_name["daily budget"]["amount"] == 7.5 and by_name["daily budget"]["source"] == "stored"
    assert by_name["monthly budget"]["source"] == "config"
    assert by_name["monthly budget for openai"]["amount"] == 10.0
    code, out, _ = cli(capsys, "budget", "list")
    assert "stored" in out and "config" in out and "by the month's end" in out
    code, out, _ = cli(capsys, "budget", "unset", "--daily")
    assert code == 0 and "config.toml's applies again" in out
    data = json.loads(cli(capsys, "budget", "list", "--json")[1])
    assert {b["name"]: b["amount"] for b in data["budgets"]}["daily budget"] == 3.0
    code, _, err = cli(capsys, "budget", "unset", "--monthly")
    assert code == 2 and "comes from" in err and "config.toml" in err


@pytest.mark.parametrize("argv, message", [
    (["budget", "set"], "needs --daily"),
    (["budget", "set", "--daily", "abc"], "not an amount"),
    (["budget", "set", "--daily", "-1"], "not allowed"),
    (["budget", "set", "--monthly", "nan"], "not allowed"),
    (["budget", "set", "--daily", "5", "--provider", "nosuch"], "unknown provider"),
    (["budget", "unset", "--daily"], "no daily budget is set"),
])
def test_budget_cli_errors_are_one_line_exit_2(home, capsys, argv, message):
    code, _, err = cli(capsys, *argv)
    assert code == 2 and message in err and err.count("\n") == 1


def test_ask_over_budget_is_refused_with_exit_5_and_nothing_stored(home, llm):
    llm.script(Reply(text="paid", input_tokens=1000, output_tokens=100))
    services = build_services(home)
    spend(services, OPENAI, 6.0)
    sessions_before = len(services.store.list_sessions())
    assert run_cli(home, "budget", "set", "--daily", "5").returncode == 0
    done = run_cli(home, "ask", "-m", OPENAI, "hello")
    assert done.returncode == 5, done.stderr
    assert "daily budget $5.00 is used up ($6.00 spent today)" in done.stderr
    assert "budget set --daily 10" in done.stderr and "--over-budget" in done.stderr
    assert done.stderr.count("\n") == 1 and done.stdout == ""
    assert llm.requests_to("/v1/chat/completions") == []
    assert len(build_services(home).store.list_sessions()) == sessions_before
    sent = run_cli(home, "ask", "--over-budget", "-m", OPENAI, "hello")
    assert sent.returncode == 0, sent.stderr
    assert sent.stdout == "paid\n" and "sending anyway (--over-budget)" in sent.stderr
    assert len(llm.requests_to("/v1/chat/completions")) == 1
    # a budget of another provider does not hold
    assert run_cli(home, "budget", "unset", "--daily").returncode == 0
    assert run_cli(home, "budget", "set", "--daily", "1", "--provider", "anthropic").returncode == 0
    assert run_cli(home, "ask", "-m", OPENAI, "again").returncode == 0


def test_ask_warns_once_near_a_budget(home, llm, capsys):
    services = build_services(home)
    spend(services, OPENAI, 0.9)
    write_config(home, "[budgets]\ndaily = 1\nwarn_at = 0.5\n")
    code, out, err = cli(capsys, "ask", "-m", OPENAI, "hi")
    assert code == 0, err
    assert err.count("warning: daily budget $1.00: $0.90 spent today (90%)") == 1


def test_unknown_priced_requests_are_named_in_budget_list(home, capsys):
    services = build_services(home)
    spend(services, OPENAI, None)
    spend(services, OPENAI, 0.5, estimated=True)
    write_config(home, "[budgets]\ndaily = 1\n")
    code, out, err = cli(capsys, "budget", "list")
    assert code == 0, err
    assert "1 request of unknown price not counted" in out and "$0.50 of it estimated" in out
    data = json.loads(cli(capsys, "budget", "list", "--json")[1])
    assert data["budgets"][0]["spent"]["unknown_price_requests"] == 1
    assert data["budgets"][0]["spent"]["estimated"] == 1
