"""Issue 8: Ollama's implicit tag, open fences in exports, "not billed", time to first token, today vs session."""

from __future__ import annotations

import json

import pytest

from agentspace_tui.cli import main
from tests.fakeserver import Reply


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def new_session(capsys, model: str) -> str:
    code, out, err = run(capsys, "ask", "--json", "-m", model, "hi")
    assert code == 0, err
    return json.loads(out)["session_id"]


# -- 1. "llama3.2" and "llama3.2:latest" are one Ollama model ---------------------------------------------
@pytest.mark.parametrize("model", ["ollama:llama3.2", "ollama:llama3.2:latest"])
def test_ollama_latest_tag_is_the_same_model_in_context(home, llm, capsys, model):
    sid = new_session(capsys, model)
    code, out, err = run(capsys, "context", sid, "--json")  # a fresh process: no discovery has run
    assert code == 0, err
    data = json.loads(out)
    assert data["model"] == "ollama:llama3.2"
    assert data["context_window"] == 131072
    code, out, _ = run(capsys, "sessions", "list", "--json")
    assert json.loads(out)[0]["model"] == "ollama:llama3.2"


def test_ollama_latest_tag_is_the_same_model_in_models(home, llm, capsys):
    code, out, _ = run(capsys, "models", "--provider", "ollama", "--json")
    ids = [m["id"] for m in json.loads(out)]
    assert "ollama:llama3.2" in ids and "ollama:llama3.2:latest" not in ids
    assert "ollama:qwen2.5-coder:7b" in ids  # a real tag is kept


# -- 2. an export never leaves a code fence open after a reply cut inside it ----------------------------------
def _fenced_lines(markdown: str) -> list[bool]:
    """For each line of ``markdown``: whether it is inside a code fence (CommonMark, ``` and ~~~)."""
    opening: str | None = None
    inside = []
    for line in markdown.splitlines():
        inside.append(opening is not None)
        stripped = line.strip()
        for char in "`~":
            if stripped.startswith(char * 3):
                fence = stripped[: len(stripped) - len(stripped.lstrip(char))]
                if opening is None:
                    opening = fence
                elif fence[0] == opening[0] and len(fence) >= len(opening) and stripped == fence:
                    opening = None
    return inside


@pytest.mark.parametrize("fence", ["```", "~~~~"])
def test_markdown_export_closes_a_fence_left_open_by_a_cut_reply(home, llm, capsys, fence):
    cut = ["Here:\n", f"{fence}python\n", "def f():\n", "    return 1\n", "# never sent"]
    llm.script(Reply(chunks=cut, kind="cutoff", cut_after=4), Reply(text="second answer"))
    code, out, err = run(capsys, "ask", "--json", "-m", "gpt-4o-mini", "write code")
    data = json.loads(out)
    assert data["finish"] in ("interrupted", "error"), data
    assert f"{fence}python" in data["text"] and "never sent" not in data["text"]
    code, out, err = run(capsys, "ask", "-s", data["session_id"], "again")
    assert code == 0, err
    code, md, err = run(capsys, "sessions", "export", data["session_id"])
    assert code == 0, err
    lines = md.splitlines()
    inside = _fenced_lines(md)
    headings = [i for i, line in enumerate(lines) if line.startswith("## ")]
    assert [lines[i] for i in headings] == ["## You", "## Assistant (openai:gpt-4o-mini)"] * 2
    assert not any(inside[i] for i in headings), md
    assert "second answer" in md and not inside[lines.index("second answer")]
    assert not inside[-1] and lines.count(fence) == 1  # closed once, with the opening fence's own length


# -- 3. a rejected request (401, 429) was not billed ------------------------------------------------------------
def write_config(home, text: str) -> None:
    (home / "config").mkdir(parents=True, exist_ok=True)
    (home / "config" / "config.toml").write_text(text, encoding="utf-8")


@pytest.mark.parametrize("status", [401, 429, 400, 404])
def test_ask_says_not_billed_for_a_rejected_request(home, llm, capsys, status):
    write_config(home, "max_retries = 0\n")
    llm.script(Reply(kind="status", status=status))
    code, out, err = run(capsys, "ask", "-m", "gpt-4o-mini", "hi")
    assert code != 0 and out == ""
    summary = next(line for line in err.splitlines() if line.startswith("[openai:gpt-4o-mini"))
    assert "not billed" in summary and "cost unknown" not in summary, err


def test_reply_summary_not_billed_only_without_any_output():
    from agentspace_tui.formatting import reply_summary

    rejected = {"model": "openai:gpt-4o-mini", "status": "error", "content": "", "reasoning": None, "usage": None,
                "cost": None, "error": "OpenAI rate limit reached (429)"}
    assert "not billed" in reply_summary(rejected) and "cost unknown" not in reply_summary(rejected)
    # any text or reasoning before the failure was generated, so billed: never "not billed"
    for extra in ({"content": "partial"}, {"reasoning": "thinking"}, {"status": "interrupted"},
                  {"status": "cancelled"}, {"status": "complete"}):
        assert "not billed" not in reply_summary({**rejected, **extra}), extra
    estimated = {**rejected, "status": "interrupted", "content": "partial", "usage": {"input_tokens": 10,
                 "output_tokens": 2}, "usage_source": "estimated", "cost": 0.00001}
    assert "(est.)" in reply_summary(estimated) and "not billed" not in reply_summary(estimated)


async def test_cost_footer_says_not_billed_for_a_rejected_request():
    from textual.app import App

    from agentspace_tui.ui.widgets.cost_footer import CostFooter

    class Host(App):
        def compose(self):
            yield CostFooter(id="f")

    rejected = {"model": "openai:gpt-4o-mini", "status": "error", "content": "", "usage": None, "cost": None}
    app = Host()
    async with app.run_test() as pilot:
        footer = app.query_one(CostFooter)
        footer.show(rejected, None, None)
        await pilot.pause()
        assert "not billed" in str(footer.render())
        footer.show({**rejected, "status": "interrupted", "content": "cut"}, None, None)
        await pilot.pause()
        assert "not billed" not in str(footer.render())


# -- 4. time to first token counts from the request going out, not from our start-up ---------------------------
def test_ttft_of_the_first_ask_in_a_fresh_process_leaves_out_our_start_up(home, llm):
    from tests.conftest import run_cli

    llm.script(Reply(text="quick answer", input_tokens=10, output_tokens=2))
    result = run_cli(home, "ask", "--json", "-m", "gpt-4o-mini", "hi")  # its own interpreter: litellm imported cold
    assert result.returncode == 0, result.stderr
    sid = json.loads(result.stdout)["session_id"]
    exported = json.loads(run_cli(home, "sessions", "export", sid, "--format", "json").stdout)
    reply = exported["messages"][-1]
    assert reply["ttft"] is not None and reply["duration"] is not None
    assert 0 <= reply["ttft"] < 1.0, reply["ttft"]  # the fake server answers at once; litellm's import takes seconds
    assert reply["ttft"] <= reply["duration"] < 2.0


# -- 5. the footer's "today" is never below the session's spending of today ------------------------------------
def _footer_costs(text: str) -> tuple[float, float]:
    import re

    parts = text.split("│")
    session = re.search(r"session \$([0-9.]+)", parts[1])
    today = re.search(r"today \$([0-9.]+)", parts[2])
    assert session and today, text
    return float(session.group(1)), float(today.group(1))


def test_footer_today_is_at_least_the_session_after_a_reply(home, llm, capsys):
    import asyncio

    from tests.conftest import run_cli
    from tests.test_ui_app import SIZE, footer, make_app, send_and_wait, started, until

    llm.script(Reply(text="from the CLI", input_tokens=2000, output_tokens=500))
    sid = new_session(capsys, "gpt-4o-mini")
    other = new_session(capsys, "gpt-4o-mini")

    async def scenario() -> None:
        app = make_app(model="openai:gpt-4o-mini", session=other)
        async with app.run_test(size=SIZE) as pilot:
            await started(pilot)
            # spending of today made elsewhere (another terminal) in the session the app then opens
            llm.script(Reply(text="more from the CLI", input_tokens=4000, output_tokens=1000))
            result = await asyncio.to_thread(run_cli, home, "ask", "-s", sid, "again")
            assert result.returncode == 0, result.stderr
            app.open_session(sid)
            await until(lambda: app.ready and (app.session or {}).get("id") == sid, what="the session to open")
            await until(lambda: "2 req" in footer(app).split("│")[1], what="the session's usage")

            def consistent() -> bool:
                session, today = _footer_costs(footer(app))
                return today >= session > 0

            await until(consistent, 10, f"today >= session in {footer(app)!r}")
            llm.script(Reply(text="from the app", input_tokens=100, output_tokens=20))
            await send_and_wait(pilot, "hi")
            await until(lambda: "3 req" in footer(app).split("│")[1], what="the usage refresh")
            session, today = _footer_costs(footer(app))
            assert today >= session > 0, footer(app)

    asyncio.run(scenario())
