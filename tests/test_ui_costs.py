"""Pilot tests: estimates and provider-reported bills are marked where the app shows costs."""

from __future__ import annotations

from tests.fakeserver import Reply
from tests.test_ui_app import SIZE, footer, make_app, send_and_wait, started, summary


async def test_estimated_usage_is_marked_in_the_reply_and_the_footer(home, llm):
    app = make_app(model="openai:gpt-4o-mini")
    async with app.run_test(size=SIZE) as pilot:
        await started(pilot)
        llm.script(Reply(text="counted by the provider", input_tokens=20, output_tokens=4))
        block = await send_and_wait(pilot, "first")
        assert "est." not in summary(block) and "est." not in footer(app)
        llm.script(Reply(text="this stream carries no usage at all", usage=False))
        block = await send_and_wait(pilot, "second")
        assert "(est.)" in summary(block)
        text = footer(app)
        assert "est." in text.split("│")[0]  # the last reply
        assert "2 req, 1 est." in text  # the session (and today) say one of two requests was estimated
