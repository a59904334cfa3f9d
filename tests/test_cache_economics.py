"""Cache economics: what prompt caching saved (per reply, per session, in the ledger), Anthropic cache breakpoints
on the wire with ``prompt_cache = "auto"``, and the forecast of what the next request has likely cached.

Real sends through litellm against the loopback server, which reports cache reads and writes in each provider's
own wire format (Anthropic message_start usage, OpenAI prompt_tokens_details.cached_tokens)."""

from __future__ import annotations

import json

import pytest

from agentspace_tui.cli import main
from agentspace_tui.formatting import cache_line, reply_cache_savings, reply_summary
from agentspace_tui.pricing import Price, Usage, cache_savings, format_savings
from agentspace_tui.providers.prompt_cache import breakpoint_indexes, prefix_fingerprint, with_breakpoints
from agentspace_tui.services.cache_forecast import (
    ANTHROPIC_LIFETIME,
    cache_style,
    forecast_cache,
    last_request,
    session_cache_forecast,
)
from agentspace_tui.services.chat_session import ChatSession
from agentspace_tui.services.core import build_services
from agentspace_tui.storage import usage as usage_math
from agentspace_tui.storage.charges import Charge, charge_of
from tests.fakeserver import Reply
from tests.test_chat_session import _run

CLAUDE = "anthropic:claude-sonnet-4-5"  # catalog: $3 in, $15 out, $0.30 cache read, $3.75 cache write per Mtok
OPENAI = "openai:gpt-4o-mini"  # catalog: $0.15 in, $0.075 cache read
SYSTEM = "You answer in one short sentence and never use lists. " * 120  # well over 1,024 tokens
SONNET = Price(3.0, 15.0, 0.3, 3.75)


# -- pricing ---------------------------------------------------------------------------------------------------------
def test_savings_are_reads_saved_minus_writes_paid_extra():
    usage = Usage(input_tokens=1700, output_tokens=10, cache_read_tokens=1200, cache_write_tokens=300)
    assert cache_savings(SONNET, usage) == pytest.approx((1200 * (3.0 - 0.3) - 300 * (3.75 - 3.0)) / 1e6)
    # a first request only writes: caching cost extra, so the savings are negative
    assert cache_savings(SONNET, Usage(2000, 10, 0, 2000)) == pytest.approx(-2000 * 0.75 / 1e6)
    assert cache_savings(SONNET, Usage(500, 10)) == 0.0  # no cache use: saved nothing, and that is known


def test_unknown_price_means_unknown_savings_never_zero():
    usage = Usage(1700, 10, 1200, 300)
    assert cache_savings(None, usage) is None
    assert cache_savings(SONNET, None) is None
    # no cache prices known: billed at the input price (as reply_cost does), so nothing saved or lost
    assert cache_savings(Price(3.0, 15.0), usage) == 0.0
    assert cache_savings(Price(0.0, 0.0, 0.0, 0.0, "local"), usage) == 0.0  # free stays free


def test_savings_wording():
    assert format_savings(0.0031) == "saved $0.0031"
    assert format_savings(-0.0015) == "cost $0.0015 extra"
    assert format_savings(None) == "savings unknown"
    reply = {"usage": {"cache_read_tokens": 1200, "cache_write_tokens": 300}, "cache_savings": 0.0031}
    assert cache_line(reply) == "cache: 1,200 read · 300 written · saved $0.0031"
    assert cache_line({"usage": {"input_tokens": 5}}) is None  # no cache use: no line
    assert cache_line({**reply, "cache_savings": None}) == "cache: 1,200 read · 300 written · savings unknown"


def test_a_reply_stored_before_the_field_is_worked_out_from_its_price_snapshot():
    old = {"usage": {"input_tokens": 1700, "cache_read_tokens": 1200, "cache_write_tokens": 300},
           "prices": {**SONNET.snapshot()}}
    assert reply_cache_savings(old) == pytest.approx(cache_savings(SONNET, Usage(1700, 0, 1200, 300)))
    assert reply_cache_savings({**old, "cache_savings": None}) is None  # stored as unknown: stays unknown
    assert reply_cache_savings({"usage": old["usage"]}) is None  # no snapshot: unknown


# -- buckets ---------------------------------------------------------------------------------------------------------
def test_buckets_sum_known_savings_and_old_rows_count_as_zero():
    bucket = usage_math.add_request(None, {"input_tokens": 10}, 0.01, cache_savings=0.004)
    bucket = usage_math.add_request(bucket, {"input_tokens": 10}, 0.01, cache_savings=-0.001)
    bucket = usage_math.add_request(bucket, {"input_tokens": 10}, None, cache_savings=None)
    assert bucket["cache_savings"] == pytest.approx(0.003)
    old_row = {"requests": 2, "input_tokens": 5, "cost": 0.5}  # written before cache_savings existed
    summary = usage_math.summarize([("m", bucket), ("m", old_row), ("n", old_row)])
    assert summary["per_model"]["n"]["cache_savings"] == 0.0
    assert summary["total"]["cache_savings"] == pytest.approx(0.003)
    unknown = usage_math.add_request(None, {"input_tokens": 10}, None)
    assert usage_math.summarize([("m", unknown)])["total"]["cache_savings"] is None  # every price unknown


def test_charges_carry_savings_through_the_journal_and_from_stored_replies():
    charge = Charge("m", {"input_tokens": 3}, 0.1, cache_savings=-0.002)
    assert Charge.from_json(json.loads(json.dumps(charge.as_json()))) == charge
    assert Charge.from_json({"model": "m", "tokens": {}}).cache_savings is None  # a journal from before
    stored = {"id": "r1", "model": "m", "usage": {"input_tokens": 3}, "cost": 0.1, "cache_savings": 0.25}
    assert charge_of(stored).cache_savings == 0.25
    assert charge_of({k: v for k, v in stored.items() if k != "cache_savings"}).cache_savings is None


# -- breakpoints -----------------------------------------------------------------------------------------------------
def test_breakpoints_go_on_the_system_prompt_and_the_end_of_the_history():
    msgs = [{"role": "system", "content": "sys"}, {"role": "user", "content": "q1"},
            {"role": "assistant", "content": "a1"}, {"role": "user", "content": "q2"}]
    assert breakpoint_indexes(msgs) == [0, 2]
    marked = with_breakpoints(msgs)
    assert marked[0]["content"] == [{"type": "text", "text": "sys", "cache_control": {"type": "ephemeral"}}]
    assert marked[2]["content"][0]["cache_control"] == {"type": "ephemeral"}
    assert marked[1] == msgs[1] and marked[3] == msgs[3]  # the new message is not marked
    assert msgs[0]["content"] == "sys"  # the input is left alone
    assert breakpoint_indexes([{"role": "user", "content": "first"}]) == []  # nothing stable yet
    assert breakpoint_indexes([{"role": "system", "content": ""}, {"role": "user", "content": "x"}]) == []
    fingerprint = prefix_fingerprint(msgs, breakpoints=True)
    assert [fingerprint["prefixes"][k][0] for k in ("system", "history", "request")] == [1, 3, 4]


# -- real sends ------------------------------------------------------------------------------------------------------
def _config(home, **values: str) -> None:
    (home / "config").mkdir(parents=True, exist_ok=True)
    lines = ["max_retries = 0"] + [f"{k} = {v}" for k, v in values.items()]
    (home / "config" / "config.toml").write_text("\n".join(lines) + "\n")


def _cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def _json(capsys, *argv: str):
    code, out, err = _cli(capsys, *argv, "--json")
    assert code == 0, err
    return json.loads(out)


def _cache_controls(body) -> int:
    return json.dumps(body).count('"cache_control"')


def _replies(capsys, session_id: str) -> list[dict]:
    exported = _json_export(capsys, session_id)
    return [m for m in exported["messages"] if m["role"] == "assistant"]


def _json_export(capsys, session_id: str) -> dict:
    code, out, err = _cli(capsys, "sessions", "export", session_id, "--format", "json")
    assert code == 0, err
    return json.loads(out)


def test_anthropic_auto_marks_the_wire_and_counts_savings_everywhere(home, llm, capsys):
    _config(home, prompt_cache='"auto"')
    llm.script(Reply(text="First.", input_tokens=100, cache_write_tokens=2000, output_tokens=10),
               Reply(text="Second.", input_tokens=100, cache_read_tokens=2000, cache_write_tokens=300,
                     output_tokens=10))
    code, _, err = _cli(capsys, "ask", "-m", CLAUDE, "--system", SYSTEM, "hi")
    assert code == 0, err
    first = llm.last.body
    # the system prompt goes out as a list of blocks, its last one a breakpoint; nothing else to mark yet
    assert first["system"][-1]["cache_control"] == {"type": "ephemeral"} and _cache_controls(first) == 1
    assert "cache: 2,000 written, cost $0.0015 extra" in err  # the summary on stderr: writes cost extra
    code, _, err = _cli(capsys, "ask", "-c", "and again")
    assert code == 0, err
    second = llm.last.body
    assert second["system"][-1]["cache_control"] == {"type": "ephemeral"}
    history_end = second["messages"][-2]  # the first reply: the end of the stable history
    assert history_end["role"] == "assistant" and history_end["content"][-1]["cache_control"] == {"type": "ephemeral"}
    assert "cache_control" not in json.dumps(second["messages"][-1])  # the new message is not marked
    assert _cache_controls(second) == 2  # at most 4 allowed
    saved = (2000 * (3.0 - 0.3) - 300 * (3.75 - 3.0)) / 1e6
    assert f"cache: 2,000 read, 300 written, saved ${saved:.4f}" in err

    session_id = _json(capsys, "sessions", "list")[0]["id"]
    replies = _replies(capsys, session_id)
    assert replies[0]["cache_savings"] == pytest.approx(-2000 * 0.75 / 1e6)
    assert replies[1]["cache_savings"] == pytest.approx(saved)
    assert replies[1]["usage"]["cache_read_tokens"] == 2000 and replies[1]["usage"]["cache_write_tokens"] == 300
    assert replies[1]["cache_prefix"]["breakpoints"] is True
    total = saved - 2000 * 0.75 / 1e6
    usage = _json(capsys, "usage")
    assert usage["total"]["cache_savings"] == pytest.approx(total)
    assert usage["per_model"][CLAUDE]["cache_savings"] == pytest.approx(total)
    assert usage["total"]["cache_read_tokens"] == 2000 and usage["total"]["cache_write_tokens"] == 2300
    assert _json(capsys, "usage", "--session", session_id)["total"]["cache_savings"] == pytest.approx(total)
    assert _json(capsys, "sessions", "list")[0]["cache_savings"] == pytest.approx(total)
    code, out, _ = _cli(capsys, "usage")
    assert f"cache: 2,000 read · 2,300 written · saved ${total:.4f} (against the uncached input price)" in out


def test_openai_cached_tokens_count_and_its_request_is_left_alone(home, llm, capsys):
    _config(home, prompt_cache='"auto"')
    llm.script(Reply(text="Cached.", input_tokens=3000, cache_read_tokens=2048, output_tokens=5))
    code, _, err = _cli(capsys, "ask", "-m", OPENAI, "--system", SYSTEM, "hi")
    assert code == 0, err
    body = llm.last.body
    assert _cache_controls(body) == 0 and isinstance(body["messages"][0]["content"], str)
    saved = 2048 * (0.15 - 0.075) / 1e6
    assert "cache: 2,048 read, saved" in err
    assert _json(capsys, "usage")["total"]["cache_savings"] == pytest.approx(saved)


def test_prompt_cache_off_sends_no_breakpoints(home, llm, capsys):
    llm.script(Reply(text="Plain."), Reply(text="Plain again."))
    assert _cli(capsys, "ask", "-m", CLAUDE, "--system", SYSTEM, "hi")[0] == 0
    assert _cli(capsys, "ask", "-c", "more")[0] == 0
    assert _cache_controls(llm.last.body) == 0
    usage = _json(capsys, "usage")
    assert usage["total"]["cache_savings"] == 0.0  # known price, no cache use: saved nothing


def test_a_reply_without_a_known_price_has_unknown_savings(home, llm, capsys):
    _config(home, prompt_cache='"auto"')
    llm.script(Reply(text="Hm.", input_tokens=100, cache_read_tokens=2000, output_tokens=3))
    assert _cli(capsys, "ask", "-m", "anthropic:claude-unpriced-9", "hi")[0] == 0
    usage = _json(capsys, "usage")
    assert usage["total"]["cost"] is None and usage["total"]["cache_savings"] is None


# -- the forecast ----------------------------------------------------------------------------------------------------
def _conversation(home, llm, model: str, **config: str) -> tuple[ChatSession, list[dict]]:
    _config(home, **config)
    services = build_services(home)
    chat = ChatSession(services, services.resolve_model(model))
    llm.script(Reply(text="One."), Reply(text="Two."))
    replies = [_run(chat, "first question", system_prompt=SYSTEM), _run(chat, "second question")]
    return chat, replies


def _forecast(chat: ChatSession, now: float):
    inspection = chat.inspect("a draft")
    return session_cache_forecast(chat.services, chat.session, chat.messages, chat.history_for_request(),
                                  chat.model, inspection, now=now), inspection


def test_forecast_anthropic_reads_what_the_last_request_marked(home, llm):
    chat, replies = _conversation(home, llm, CLAUDE, prompt_cache='"auto"')
    last = replies[-1]
    assert last_request(chat.messages)["id"] == last["id"]
    forecast, inspection = _forecast(chat, last["created_at"] + 60)
    path = [m for m in chat.history_for_request() if m["role"] in ("user", "assistant")]
    system_tokens = inspection.section("system_prompt").tokens
    first_turn = sum(m["tokens"][inspection.encoding] for m in path[:2])
    # the last request marked the system prompt and its history (the first turn): that is what it wrote
    assert forecast.mode == "breakpoints" and not forecast.expired
    assert forecast.cached_tokens == system_tokens + first_turn
    assert forecast.cached_parts == "system prompt, 2 messages"
    history_tokens = inspection.section("history").tokens
    assert forecast.write_tokens == history_tokens - first_turn  # the second turn is written now
    read, write, rest = forecast.cached_tokens, forecast.write_tokens, inspection.total.tokens
    rest -= read + write
    assert forecast.cost == pytest.approx((read * 0.3 + write * 3.75 + rest * 3.0) / 1e6)
    assert forecast.uncached_cost == pytest.approx(inspection.total.tokens * 3.0 / 1e6)
    assert forecast.saving > 0
    # the app's own inspection carries it too (the inspector shows it)
    assert inspection.cache is not None and inspection.cache.cached_tokens == forecast.cached_tokens
    assert inspection.as_json()["cache"]["cached_tokens"] == forecast.cached_tokens

    expired, _ = _forecast(chat, last["created_at"] + ANTHROPIC_LIFETIME + 1)
    assert expired.expired and expired.cached_tokens == 0
    assert expired.write_tokens == system_tokens + history_tokens  # all written again
    assert expired.age == pytest.approx(ANTHROPIC_LIFETIME + 1)

    chat.session = chat.services.store.update_session(chat.session["id"], system_prompt=SYSTEM + " Be kind.")
    changed, _ = _forecast(chat, last["created_at"] + 60)
    assert changed.cached_tokens == 0 and "changed" in changed.note


def test_forecast_without_breakpoints_caches_nothing_and_says_how_to_turn_it_on(home, llm):
    chat, replies = _conversation(home, llm, CLAUDE)
    forecast, _ = _forecast(chat, replies[-1]["created_at"] + 10)
    assert forecast.mode == "off" and forecast.cached_tokens == 0 and forecast.write_tokens == 0
    assert not forecast.expired and 'prompt_cache = "auto"' in forecast.note
    assert forecast.cost == forecast.uncached_cost


def test_forecast_openai_caches_the_whole_last_prompt_by_itself(home, llm):
    chat, replies = _conversation(home, llm, OPENAI)
    forecast, inspection = _forecast(chat, replies[-1]["created_at"] + 60)
    path = [m for m in chat.history_for_request() if m["role"] in ("user", "assistant")]
    prefix = inspection.section("system_prompt").tokens + sum(m["tokens"][inspection.encoding] for m in path[:3])
    assert forecast.mode == "automatic" and forecast.write_tokens == 0
    assert forecast.cached_tokens == prefix - prefix % 128  # in 128-token steps
    assert forecast.cached_parts == "system prompt, 3 messages"
    assert forecast.cost < forecast.uncached_cost


def test_forecast_math_with_explicit_times():
    style = cache_style(build_style_spec(), "claude-sonnet-4-5", "auto")
    prefix = [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}, {"role": "assistant", "content": "a"}]
    last = {"role": "assistant", "model": CLAUDE, "created_at": 1000.0, "status": "complete",
            "cache_prefix": prefix_fingerprint([*prefix[:2], {"role": "user", "content": "next"}], breakpoints=True)}
    kw = dict(model_id=CLAUDE, prefix=prefix, prefix_tokens=[1500, 100, 100], input_tokens=1800, price=SONNET)
    hit = forecast_cache(style, last=last, now=1000.0 + 299, **kw)
    assert hit.cached_tokens == 1600 and hit.write_tokens == 100 and not hit.expired
    assert forecast_cache(style, last=last, now=1000.0 + 301, **kw).expired
    assert forecast_cache(style, last=None, now=0, **kw).note.startswith("first request")
    other = forecast_cache(style, last={**last, "model": "anthropic:claude-opus-4-1"}, now=1001, **kw)
    assert other.cached_tokens == 0 and "another model" in other.note
    # another model answered last (a failover, a switch): none of this model's cache is there to expire
    assert not forecast_cache(style, last={**last, "model": "openai:gpt-4.1"}, now=1000.0 + 900, **kw).expired
    short = forecast_cache(style, last=last, now=1001, **{**kw, "prefix_tokens": [500, 100, 100]})
    assert short.cached_tokens == 0 and short.write_tokens == 0 and "under 1,024" in short.note
    unknown = forecast_cache(style, last=last, now=1001, **{**kw, "price": None})
    assert unknown.cost is None and unknown.uncached_cost is None and unknown.saving is None


def build_style_spec():
    from agentspace_tui.catalog.providers import BUILTIN_PROVIDERS

    return BUILTIN_PROVIDERS["anthropic"]


def test_context_json_reports_the_cache(home, llm, capsys):
    _config(home, prompt_cache='"auto"')
    llm.script(Reply(text="One."))
    assert _cli(capsys, "ask", "-m", CLAUDE, "--system", SYSTEM, "hi")[0] == 0
    session_id = _json(capsys, "sessions", "list")[0]["id"]
    data = _json(capsys, "context", session_id)
    assert data["cache"]["mode"] == "breakpoints" and data["cache"]["cached_tokens"] > 1024
    assert data["cache"]["cached_parts"] == "system prompt"
    code, out, _ = _cli(capsys, "context", session_id)
    assert code == 0 and "prompt cache: likely cached" in out and "(system prompt)" in out and "instead of" in out


def test_reply_summary_for_a_stored_reply():
    reply = {"model": CLAUDE, "usage": {"input_tokens": 1700, "output_tokens": 9, "cache_read_tokens": 1200},
             "cost": 0.001, "cache_savings": 0.00324}
    assert "1.7k in / 9 out · cache: 1,200 read, saved $0.0032 · $0.0010" in reply_summary(reply)


def test_a_damaged_ledger_is_rebuilt_with_its_savings(home, llm, capsys):
    _config(home, prompt_cache='"auto"')
    llm.script(Reply(text="One.", input_tokens=100, cache_write_tokens=2000, output_tokens=3),
               Reply(text="Two.", input_tokens=100, cache_read_tokens=2000, output_tokens=3))
    assert _cli(capsys, "ask", "-m", CLAUDE, "--system", SYSTEM, "hi")[0] == 0
    assert _cli(capsys, "ask", "-c", "again")[0] == 0
    before = _json(capsys, "usage")["total"]["cache_savings"]
    assert before == pytest.approx((2000 * 2.7 - 2000 * 0.75) / 1e6)
    (home / "data" / "usage.json").write_bytes(b"\x00garbage{")
    assert _json(capsys, "usage")["total"]["cache_savings"] == pytest.approx(before)  # from the session files
