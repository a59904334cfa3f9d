"""Cancelling a streaming reply (Esc, Ctrl-C) must always cancel it, whenever the cancel lands.

On Python 3.11, ``asyncio.wait_for`` around each chunk could swallow a cancellation that arrived while a chunk
did: the reply then ran on to "complete" (seen 4 times in 100 Esc presses in the app)."""

from __future__ import annotations

import asyncio
import random

from agentspace_tui.providers.events import TextDelta
from agentspace_tui.services.chat import ChatService
from agentspace_tui.services.core import build_services
from tests.fakeserver import Reply, markdown_chunks


async def test_cancel_always_lands_while_chunks_flow(home, llm):
    services = build_services()
    chat = ChatService(services)
    rng = random.Random(7)
    outcomes = []
    for _ in range(30):
        llm.script(Reply(chunks=markdown_chunks(3000)))
        first = asyncio.Event()

        async def consume(first: asyncio.Event) -> None:
            async for event in chat.send("go", model_id="openai:gpt-4o-mini"):
                if isinstance(event, TextDelta):
                    first.set()

        task = asyncio.create_task(consume(first))
        await asyncio.wait_for(first.wait(), 60)
        await asyncio.sleep(rng.random() * 0.02)
        task.cancel()
        try:
            await task
            outcomes.append("ran to the end")
        except asyncio.CancelledError:
            outcomes.append("cancelled")
    assert outcomes == ["cancelled"] * 30
    statuses = {m["status"] for s in services.store.list_sessions() for m in services.store.get_messages(s["id"])
                if m["role"] == "assistant"}
    assert statuses == {"cancelled"}
