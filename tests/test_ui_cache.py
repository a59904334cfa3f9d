"""Pilot tests of cache economics in the app, against the loopback server: the reply summary and the details
screen show cache reads, writes and savings; the inspector shows what the next request has likely cached and
warns when the provider's cache has likely expired."""

from __future__ import annotations

import time

from agentspace_tui.ui.screens.message_details import MessageDetailsScreen
from tests.fakeserver import Reply
from tests.test_ui_app import SIZE, inspector_text, make_app, screen_text, send_and_wait, started, summary, until

CLAUDE = "anthropic:claude-sonnet-4-5"
SYSTEM = "You answer in one short sentence and never use lists. " * 120  # well over 1,024 tokens


def _config(home) -> None:
    (home / "config").mkdir(parents=True, exist_ok=True)
    (home / "config" / "config.toml").write_text(
        f'max_retries = 0\nprompt_cache = "auto"\nsystem_prompt = "{SYSTEM}"\n'
    )


async def test_reply_summary_details_and_inspector_show_the_cache(home, llm):
    _config(home)
    llm.script(Reply(text="First.", input_tokens=100, cache_write_tokens=2000, output_tokens=5),
               Reply(text="Second.", input_tokens=100, cache_read_tokens=2000, cache_write_tokens=300,
                     output_tokens=5))
    app = make_app(model=CLAUDE, warm_litellm=False)
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot, measured=True)
        first = await send_and_wait(pilot, "hello")
        assert "cache: 2,000 written, cost $0.0015 extra" in summary(first)
        assert llm.last.body["system"][-1]["cache_control"] == {"type": "ephemeral"}
        block = await send_and_wait(pilot, "and again")
        saved = (2000 * (3.0 - 0.3) - 300 * (3.75 - 3.0)) / 1e6
        assert f"cache: 2,000 read, 300 written, saved ${saved:.4f}" in summary(block)
        # the session's total in the footer: both replies, the first one's extra write cost included
        total = saved - 2000 * (3.75 - 3.0) / 1e6
        footer = app.main_screen.cost_footer
        await until(lambda: f"cache saved ${total:.4f}" in str(footer.render()), what="the session's cache total")

        # the inspector: the last request marked the system prompt and the first turn
        await until(lambda: app.last_inspection is not None and app.last_inspection.cache is not None
                    and app.last_inspection.cache.cached_tokens > 0, what="the cache forecast")
        text = " ".join(inspector_text(app).split())
        assert "Prompt cache" in text and "cache breakpoints on" in text
        assert "likely cached" in text and "system prompt, 2 messages" in text
        assert "instead of" in text and "expired" not in text

        # the details screen of the newest reply
        assert app.main_screen.conversation.focus_last_message()
        await pilot.pause()
        await pilot.press("d")
        await until(lambda: isinstance(app.screen, MessageDetailsScreen), what="the details")
        await pilot.pause()
        details = screen_text(app)
        assert f"2,000 read · 300 written · saved ${saved:.4f}" in details
        await pilot.press("escape")
        await until(lambda: not isinstance(app.screen, MessageDetailsScreen), what="the details to close")

        # ten minutes later (the replies stored as sent back then): Anthropic's cache has likely expired
        store, sid = app.services.store, app.session["id"]
        for message in store.get_messages(sid):
            store.update_message(sid, message["id"], created_at=message["created_at"] - 600)
        app.conversation.reload()
        app.refresh_inspector()
        await pilot.pause()
        text = " ".join(inspector_text(app).split())  # the sidebar wraps long lines
        assert "cache likely expired: last request 10 min ago, Anthropic keeps it 5 min" in text
        assert "likely cached" not in text
        assert app.last_inspection.cache.expired and app.last_inspection.cache.cached_tokens == 0
        assert time.time() - app.last_inspection.cache.last_request_at > 600
