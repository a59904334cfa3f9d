"""Provider stats: the reply log (written when a reply finishes, built once from old sessions), the figures
(percentiles, rates, 7 vs 30 day windows), ``stats --json`` through the real CLI, and the stats screen."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from textual.app import App

from agentspace_tui import cli
from agentspace_tui.services.core import build_services
from agentspace_tui.services.stats import compute, model_stats, percentile, provider_stats
from agentspace_tui.storage.reply_log import REPLY_LOG_NAME, infer_error_kind, log_rows
from agentspace_tui.ui.screens.stats import StatsScreen, StatsTable
from tests.conftest import run_cli
from tests.fakeserver import Reply

DAY = 86400.0
NOW = 1_767_225_600.0  # 2026-01-01 00:00 UTC
CLAUDE = "anthropic:claude-sonnet-4-5"
MINI = "openai:gpt-4o-mini"
GPT41 = "openai:gpt-4.1"
LOCAL = "ollama:llama3.2"


def reply(mid: str, model: str, at: float, *, ttft: float | None = 0.5, duration: float | None = 2.5,
          output: int | None = 100, status: str = "complete", **extra) -> dict:
    usage = {"input_tokens": 10, "output_tokens": output} if output is not None else None
    return {"id": mid, "role": "assistant", "content": "x", "model": model, "status": status, "ttft": ttft,
            "duration": duration, "usage": usage, "created_at": at, **extra}


def seed(services, sid: str, messages: list[dict]) -> None:
    services.store.bulk_import({"id": sid, "title": "seeded", "model": messages[-1].get("model"),
                                "created_at": messages[0]["created_at"]}, messages)



# -- the figures ------------------------------------------------------------------------------------------------
def test_percentile_interpolates_and_is_none_without_values():
    assert percentile([], 0.5) is None
    assert percentile([3.0], 0.95) == 3.0
    assert percentile([4.0, 1.0, 3.0, 2.0], 0.5) == 2.5
    assert percentile([float(n) for n in range(1, 101)], 0.95) == pytest.approx(95.05)


def test_model_stats_rates_speed_and_no_data():
    rows = [
        {"status": "complete", "ttft": 1.0, "duration": 3.0, "output_tokens": 100},  # 50 tok/s
        {"status": "complete", "ttft": 0.5, "duration": 1.5, "output_tokens": 100},  # 100 tok/s
        {"status": "error", "error_kind": "rate_limit", "ttft": None, "duration": 0.2},
        {"status": "error", "error_kind": "overloaded", "ttft": None},
        {"status": "interrupted", "error_kind": "interrupted", "ttft": 0.25, "duration": 9, "output_tokens": 5},
        {"status": "cancelled", "ttft": None},
    ]
    s = model_stats(CLAUDE, rows)
    assert (s.provider, s.requests, s.cancelled, s.errors, s.rate_limited) == ("anthropic", 6, 1, 3, 2)
    assert s.error_rate == pytest.approx(3 / 5) and s.rate_limit_rate == pytest.approx(2 / 5)  # cancelled left out
    assert s.ttft_p50 == 0.5 and s.tokens_per_s_p50 == pytest.approx(75.0)  # interrupted: no speed
    empty = model_stats(MINI, [{"status": "cancelled"}, {"status": "error", "error_kind": "auth"},
                               {"status": "error", "error_kind": "server"}])
    assert empty.ttft_p50 is None and empty.ttft_p95 is None and empty.tokens_per_s_p50 is None
    # a rejected key says nothing about the provider: counted apart, not in the rates
    assert empty.request_errors == 1 and empty.error_rate == 1.0 and empty.rate_limit_rate == 0.0
    only_cancelled = model_stats(MINI, [{"status": "cancelled"}])
    assert only_cancelled.error_rate is None and only_cancelled.rate_limit_rate is None  # no data, not 0 %


def test_windows_of_7_and_30_days_with_explicit_times():
    rows = [
        {"when": NOW - 2 * DAY, "model": MINI, "status": "complete", "ttft": 1.0},
        {"when": NOW - 10 * DAY, "model": MINI, "status": "complete", "ttft": 3.0},
        {"when": NOW - 29.9 * DAY, "model": CLAUDE, "status": "error", "error_kind": "server"},
        {"when": NOW - 40 * DAY, "model": CLAUDE, "status": "complete", "ttft": 9.0},
        {"when": NOW + DAY, "model": MINI, "status": "complete", "ttft": 99.0},  # a clock that ran ahead
    ]
    week, month = compute(rows, 7, NOW), compute(rows, 30, NOW)
    assert [(m.model, m.requests, m.ttft_p50) for m in week.models] == [(MINI, 1, 1.0)]
    assert [(m.model, m.requests, m.ttft_p50) for m in month.models] == [(CLAUDE, 1, None), (MINI, 2, 2.0)]
    assert month.by_model()[CLAUDE].error_rate == 1.0


def test_error_kind_of_old_replies_is_read_from_their_message():
    assert infer_error_kind("error", "Anthropic rate limit reached (429); retry after 3 s") == "rate_limit"
    assert infer_error_kind("error", "Anthropic is overloaded; retry in a minute") == "overloaded"
    assert infer_error_kind("error", "OpenAI server error (500): boom; retry later") == "server"
    assert infer_error_kind("error", "cannot reach OpenAI at http://x: connection refused") == "unreachable"
    assert infer_error_kind("interrupted", "the app stopped while this reply was streaming") == "interrupted"
    assert infer_error_kind("complete", None) is None
    assert log_rows({"role": "user", "content": "hi", "id": "u"}) == []
    assert log_rows({"role": "assistant", "status": "streaming", "model": MINI, "id": "r"}) == []


# -- the log ----------------------------------------------------------------------------------------------------
def test_log_is_written_when_replies_finish_including_errors(home, llm, capsys):
    (home / "config").mkdir(parents=True)
    (home / "config" / "config.toml").write_text("max_retries = 0\n")
    llm.script(Reply(text="one two three four", output_tokens=4), Reply(kind="status", status=500))
    assert cli.main(["ask", "-m", MINI, "hi"]) == 0
    assert cli.main(["ask", "-m", MINI, "again", "-c"]) != 0
    capsys.readouterr()
    rows = build_services().store.reply_log()
    assert [(r["model"], r["provider"], r["status"], r["error_kind"]) for r in rows] == [
        (MINI, "openai", "complete", None), (MINI, "openai", "error", "server"),
    ]
    ok, failed = rows
    assert ok["ttft"] > 0 and ok["duration"] >= ok["ttft"] and ok["output_tokens"] == 4
    assert failed["ttft"] is None and failed["output_tokens"] is None
    stored = build_services().store.get_messages(failed["session_id"])[-1]
    assert stored["error_kind"] == "server"


def test_backfill_builds_the_log_once_from_old_sessions(home):
    services = build_services()
    now = time.time()
    seed(services, "aaaa00000001", [
        {"id": "u1", "role": "user", "content": "hi", "created_at": now - 3 * DAY},
        reply("r1", MINI, now - 3 * DAY, ttft=0.4),
        reply("r2", CLAUDE, now - 2 * DAY, ttft=None, output=None, status="error",
              error="Anthropic rate limit reached (429); wait a moment and retry"),
    ])
    seed(services, "aaaa00000002", [reply("r3", GPT41, now - DAY, ttft=1.2)])
    log = services.store.data_dir / REPLY_LOG_NAME
    assert not log.exists()
    rows = services.store.reply_log()
    assert log.exists()
    assert [(r["id"], r["model"], r["error_kind"]) for r in rows] == [
        ("r1", MINI, None), ("r2", CLAUDE, "rate_limit"), ("r3", GPT41, None),
    ]
    # a reply finished later is added once; the backfill does not run (nor count) again
    services.store.log_reply({**reply("r4", MINI, now - 10, ttft=0.2), "session_id": "aaaa00000002"})
    services.store.log_reply({**reply("r4", MINI, now - 10, ttft=0.2), "session_id": "aaaa00000002"})
    assert services.store.backfill_reply_log() == 0
    assert [r["id"] for r in build_services().store.reply_log()] == ["r1", "r2", "r3", "r4"]
    report = provider_stats(services.store, 7)
    assert report.by_model()[MINI].ttft_p50 == pytest.approx(0.3)
    assert report.by_model()[CLAUDE].rate_limit_rate == 1.0


def test_a_reply_finished_before_any_backfill_is_not_counted_twice(home):
    services = build_services()
    now = time.time()
    seed(services, "bbbb00000001", [reply("r1", MINI, now - DAY)])
    services.store.log_reply({**reply("r1", MINI, now - DAY), "session_id": "bbbb00000001"})  # log started first
    assert [r["id"] for r in services.store.reply_log()] == ["r1"]


def test_a_damaged_log_is_rebuilt_from_the_session_files(home):
    services = build_services()
    now = time.time()
    seed(services, "cccc00000001", [reply("r1", MINI, now - DAY), reply("r2", MINI, now - DAY / 2)])
    services.store.reply_log()
    (services.store.data_dir / REPLY_LOG_NAME).write_text('{"meta": {"1": {"schema": 1}}, "replies": {"1": {"id"')
    fresh = build_services()
    assert [r["id"] for r in fresh.store.reply_log()] == ["r1", "r2"]
    assert any("reply log" in w for w in fresh.store.warnings)


# -- the CLI ----------------------------------------------------------------------------------------------------
def test_stats_json_through_the_cli(home):
    services = build_services()
    now = time.time()
    seed(services, "dddd00000001", [
        reply("r1", MINI, now - DAY, ttft=0.2), reply("r2", MINI, now - 2 * DAY, ttft=0.4),
        reply("r3", MINI, now - 20 * DAY, ttft=2.0),
        reply("r4", CLAUDE, now - 3 * DAY, ttft=None, output=None, status="error", error_kind="overloaded",
              error="Anthropic is overloaded"),
    ])
    done = run_cli(home, "stats", "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["rate_limit_kinds"] == ["overloaded", "rate_limit"]
    week, month = data["windows"]
    assert (week["days"], month["days"]) == (7, 30)
    week_models = {m["model"]: m for m in week["models"]}
    assert week_models[MINI]["requests"] == 2 and week_models[MINI]["ttft_p50"] == pytest.approx(0.3)
    assert week_models[CLAUDE]["ttft_p50"] is None and week_models[CLAUDE]["rate_limit_rate"] == 1.0
    assert {m["model"]: m["requests"] for m in month["models"]} == {MINI: 3, CLAUDE: 1}
    one = run_cli(home, "stats", "--json", "--days", "7")
    assert [w["days"] for w in json.loads(one.stdout)["windows"]] == [7]
    text = run_cli(home, "stats")
    assert text.returncode == 0 and "last 7 days" in text.stdout and "0.30 s" in text.stdout
    assert CLAUDE in text.stdout and "100% (1)" in text.stdout


def test_stats_of_an_empty_data_dir(home, capsys):
    assert cli.main(["stats"]) == 0
    assert "no replies in this period" in capsys.readouterr().out


# -- the screen -------------------------------------------------------------------------------------------------
def seed_screen() -> None:
    services = build_services()
    messages = []
    for n in range(12):
        messages.append(reply(f"o{n:02}", MINI, NOW - (n + 1) * DAY / 3, ttft=0.3 + n * 0.05, duration=2.0 + n * 0.1,
                              output=150))
    for n in range(6):
        messages.append(reply(f"c{n:02}", CLAUDE, NOW - (n + 1) * DAY, ttft=0.9 + n * 0.2, duration=6.0, output=400))
    messages += [
        reply("c90", CLAUDE, NOW - DAY / 2, ttft=None, output=None, status="error", error_kind="rate_limit"),
        reply("c91", CLAUDE, NOW - DAY / 4, ttft=None, output=None, status="error", error_kind="overloaded"),
        reply("g01", GPT41, NOW - 20 * DAY, ttft=0.7, duration=4.0, output=300,
              failover=[{"model": CLAUDE, "error": "Anthropic rate limit reached (429)", "kind": "rate_limit"}],
              requested_model=CLAUDE),
        reply("g02", GPT41, NOW - 12 * DAY, status="cancelled", ttft=None, output=None),
        reply("l01", LOCAL, NOW - 3 * DAY, status="error", ttft=None, output=None, error_kind="unreachable"),
    ]
    seed(services, "eeee00000001", sorted(messages, key=lambda m: m["created_at"]))
    services.store.close()


class StatsApp(App):
    def __init__(self, **screen) -> None:
        super().__init__()
        self.screen_args = screen

    def on_mount(self) -> None:
        self.push_screen(StatsScreen(build_services(), **self.screen_args))


@pytest.fixture
def keep_old_rows(monkeypatch):
    """The screen's data is dated 2026-01-01 (a fixed ``now``): keep its rows whatever today's date is."""
    from agentspace_tui.storage import reply_log

    monkeypatch.setattr(reply_log, "RETENTION", 100 * 365 * DAY)


def test_stats_screen_snapshot(snap_compare, home, utc, keep_old_rows):
    seed_screen()
    app = StatsApp(now=NOW)

    async def run_before(pilot) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 20
        while not (isinstance(app.screen, StatsScreen) and app.screen.loaded):
            assert loop.time() < deadline, "the stats never loaded"
            await pilot.pause(0.05)
        await pilot.pause()

    assert snap_compare(app, terminal_size=(140, 24), run_before=run_before)


async def test_stats_screen_sorts_and_switches_windows(home, utc, keep_old_rows):
    seed_screen()
    app = StatsApp(now=NOW)
    async with app.run_test(size=(140, 30)) as pilot:
        while not (isinstance(app.screen, StatsScreen) and app.screen.loaded):
            await pilot.pause(0.05)
        table = app.screen.query_one(StatsTable)
        assert table.keys_in_order == [CLAUDE, LOCAL, GPT41, MINI]  # by provider, then model
        table.sort_by(3)  # TTFT p50: slowest first, no data last
        assert table.keys_in_order == [CLAUDE, GPT41, MINI, LOCAL]
        table.sort_by(3)
        assert table.keys_in_order == [LOCAL, MINI, GPT41, CLAUDE]
        table.sort_by(1)  # model: a to z
        assert table.keys_in_order == [CLAUDE, LOCAL, GPT41, MINI]
        await pilot.press("w")  # 7 days: gpt-4.1 only has older replies
        assert table.keys_in_order == [CLAUDE, LOCAL, MINI]
        await pilot.press("escape")
        assert not isinstance(app.screen, StatsScreen)


async def test_f9_and_the_palette_open_the_stats_screen(home, llm):
    from textual.command import CommandPalette

    from tests.test_ui_app import make_app, started, until

    app = make_app()
    async with app.run_test(size=(140, 45)) as pilot:
        await started(pilot)
        await pilot.press("f9")
        await until(lambda: isinstance(app.screen, StatsScreen) and app.screen.loaded, what="the stats screen")
        assert "No replies in the last 30 days" in str(app.screen.query_one("#stats-empty").visual)
        await pilot.press("f9")
        await until(lambda: not isinstance(app.screen, StatsScreen), what="F9 to close it")
        await pilot.press("ctrl+p")
        await until(lambda: isinstance(app.screen, CommandPalette), what="the palette")
        await pilot.press(*"Provider stats")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await until(lambda: isinstance(app.screen, StatsScreen), what="the stats screen from the palette")


def test_rows_older_than_the_retention_are_dropped(home):
    from agentspace_tui.storage.reply_log import RETENTION

    services = build_services()
    now = time.time()
    seed(services, "abab00000001", [reply("old", MINI, now - RETENTION - DAY), reply("new", MINI, now - DAY)])
    assert [r["id"] for r in services.store.reply_log()] == ["new"]
