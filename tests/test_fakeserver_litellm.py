"""The fake LLM server driven by the real litellm: a regression test of the pairing.

Each test pins a behaviour of litellm against the server's three wire formats that the app relies on
(what real providers send is pinned by tests/test_corpus.py). If a litellm upgrade changes one, the failing
test says which.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import litellm  # noqa: E402
from litellm.exceptions import MidStreamFallbackError  # noqa: E402

from tests.fakeserver import FakeLLMServer, Reply, markdown_chunks, split_chunks  # noqa: E402

litellm.suppress_debug_info = True

PROVIDERS = {
    # name: (model, api_base suffix, request path)
    "openai": ("openai/gpt-4o-mini", "/v1", "/v1/chat/completions"),
    "anthropic": ("anthropic/claude-sonnet-4-5", "", "/v1/messages"),
    "ollama": ("ollama_chat/llama3.2", "", "/api/chat"),
}
SECRET = "sk-SECRET-123456"
HISTORY = [
    {"role": "system", "content": "be brief"},
    {"role": "user", "content": "first question"},
    {"role": "assistant", "content": "first answer"},
    {"role": "user", "content": "second question"},
]


@pytest.fixture(scope="module")
def server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as srv:
        yield srv


@pytest.fixture
def srv(server: FakeLLMServer) -> FakeLLMServer:
    server.clear()
    server.default = Reply()
    return server


async def call(srv: FakeLLMServer, provider: str, *, stream: bool = True, **kw: Any) -> Any:
    model, suffix, _ = PROVIDERS[provider]
    args: dict[str, Any] = dict(
        model=model,
        messages=HISTORY,
        api_base=srv.url + suffix,
        api_key=SECRET,
        num_retries=0,
    )
    if stream:
        args.update(stream=True, stream_options={"include_usage": True})
    args.update(kw)
    return await litellm.acompletion(**args)


async def collect(resp: Any) -> list[Any]:
    return [chunk async for chunk in resp]


def text_of(chunks: list[Any]) -> str:
    return "".join((c.choices[0].delta.content or "") for c in chunks if c.choices)


def finish_reasons(chunks: list[Any]) -> list[str]:
    return [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]


def usages(chunks: list[Any]) -> list[Any]:
    return [u for c in chunks if (u := getattr(c, "usage", None)) is not None]


# --------------------------------------------------------------------------------------------- ok streams


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_ok_stream_text_usage_and_request(srv: FakeLLMServer, provider: str) -> None:
    reply = Reply(
        text="one two three four five six seven",
        input_tokens=100,
        output_tokens=7,
        cache_read_tokens=30,
        cache_write_tokens=20,
    )
    srv.script(reply)
    resp = await call(srv, provider)
    chunks = await collect(resp)

    assert text_of(chunks) == reply.text
    assert finish_reasons(chunks) == ["stop"]
    assert resp.received_finish_reason == "stop"  # the provider's own terminator arrived

    # usage comes once, on the last chunk, which has no choices content
    us = usages(chunks)
    assert len(us) == 1 and usages(chunks[-1:]) == us
    usage = us[0]
    assert usage.completion_tokens == 7
    if provider == "openai":
        assert usage.prompt_tokens == 100  # OpenAI's prompt_tokens already includes cached tokens
        assert usage.prompt_tokens_details.cached_tokens == 30
    elif provider == "anthropic":
        # litellm folds Anthropic's separate cache counts into prompt_tokens: 100 + 30 read + 20 written
        assert usage.prompt_tokens == 150
        assert usage.cache_read_input_tokens == 30
        assert usage.cache_creation_input_tokens == 20
        assert usage.prompt_tokens_details.cached_tokens == 30
        assert usage.prompt_tokens_details.text_tokens == 100
    else:
        assert usage.prompt_tokens == 100
    assert usage.total_tokens == usage.prompt_tokens + 7

    # the request reached the provider's endpoint with the key in the provider's header and the history
    (req,) = srv.requests_to(PROVIDERS[provider][2])
    assert req.method == "POST"
    if provider == "anthropic":
        assert req.headers["x-api-key"] == SECRET
        assert "anthropic-version" in req.headers
    else:
        assert req.headers["authorization"] == f"Bearer {SECRET}"
    assert req.messages == [(m["role"], m["content"]) for m in HISTORY]  # provider-neutral view
    if provider == "anthropic":  # litellm moves the system prompt out and sends content as parts
        assert req.body["system"][0]["text"] == "be brief"
        assert req.body["messages"][0]["content"] == [{"type": "text", "text": "first question"}]
    assert req.body["stream"] is True


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_default_usage_estimate_and_length_finish(srv: FakeLLMServer, provider: str) -> None:
    srv.script(Reply(text="alpha beta gamma delta", finish_reason="length"))
    resp = await call(srv, provider)
    chunks = await collect(resp)
    assert finish_reasons(chunks) == ["length"]
    assert resp.received_finish_reason == "length"
    (usage,) = usages(chunks)
    assert usage.completion_tokens == 4  # default: words in the reply
    assert usage.prompt_tokens > 10  # default: request chars // 4 + 10


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_non_stream(srv: FakeLLMServer, provider: str) -> None:
    srv.script(Reply(text="a b c", input_tokens=50, output_tokens=5))
    r = await call(srv, provider, stream=False)
    assert r.choices[0].message.content == "a b c"
    assert r.choices[0].finish_reason == "stop"
    assert (r.usage.prompt_tokens, r.usage.completion_tokens) == (50, 5)


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_slow_stream_chunks_arrive_one_by_one(srv: FakeLLMServer, provider: str) -> None:
    srv.script(Reply(chunks=["a ", "b ", "c ", "d"], delay=0.05))
    resp = await call(srv, provider)
    stamps = []
    async for chunk in resp:
        if chunk.choices and chunk.choices[0].delta.content:
            stamps.append(time.monotonic())
    assert len(stamps) == 4
    assert stamps[-1] - stamps[0] >= 0.12  # not buffered into one read


# --------------------------------------------------------------------------------------------- HTTP errors

STATUS_CASES = {
    "401": (Reply(kind="status", status=401), litellm.AuthenticationError, 401),
    "429": (Reply(kind="status", status=429, retry_after=7), litellm.RateLimitError, 429),
    "500": (Reply(kind="status", status=500), litellm.InternalServerError, 500),
    "400ctx": (
        Reply(kind="status", status=400, error_type="context_length_exceeded"),
        litellm.ContextWindowExceededError,
        400,
    ),
}


@pytest.mark.parametrize("case", STATUS_CASES)
@pytest.mark.parametrize("provider", PROVIDERS)
async def test_status_errors_raise_at_await(srv: FakeLLMServer, provider: str, case: str) -> None:
    reply, exc_type, status = STATUS_CASES[case]
    if provider == "ollama" and case == "400ctx":
        exc_type = litellm.BadRequestError  # litellm has no context-window mapping for Ollama's message
    srv.script(reply)
    with pytest.raises(exc_type) as info:
        await call(srv, provider)  # raised here, before any iteration
    exc = info.value
    assert exc.status_code == status
    assert SECRET not in str(exc) and SECRET not in repr(exc)
    if case == "429":
        # exc.response is a synthetic httpx.Response with no headers; the real ones are here:
        assert exc.litellm_response_headers["retry-after"] == "7"
        assert exc.response.headers.get("retry-after") is None
    assert len(srv.requests_to(PROVIDERS[provider][2])) == 1  # num_retries=0: no retry


# --------------------------------------------------------------------------------------------- cut-offs


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_cutoff_close_delimited_looks_like_success(srv: FakeLLMServer, provider: str) -> None:
    srv.script(Reply(text="one two three four five six seven", kind="cutoff", cut_after=2))
    resp = await call(srv, provider)
    chunks = await collect(resp)  # no exception
    assert text_of(chunks) == "one two three four five six"
    assert finish_reasons(chunks) == ["stop"]  # synthetic
    assert resp.received_finish_reason is None  # ... which is how to tell
    assert resp.intermittent_finish_reason is None
    (usage,) = usages(chunks)  # usage is made up locally
    assert usage.completion_tokens > 0


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_cutoff_chunked_raises_midstream(srv: FakeLLMServer, provider: str) -> None:
    srv.script(Reply(text="one two three four five six seven", kind="cutoff", cut_after=2, transfer="chunked"))
    resp = await call(srv, provider)
    got: list[Any] = []
    with pytest.raises(MidStreamFallbackError) as info:
        async for chunk in resp:
            got.append(chunk)
    assert text_of(got) == "one two three four five six"
    exc = info.value
    assert isinstance(exc, litellm.ServiceUnavailableError)
    assert isinstance(exc.original_exception, litellm.APIConnectionError)
    assert exc.generated_content == "one two three four five six"


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_error_event_midstream(srv: FakeLLMServer, provider: str) -> None:
    srv.script(Reply(text="one two three four five six seven", kind="error_event", cut_after=1))
    resp = await call(srv, provider)
    got: list[Any] = []
    with pytest.raises(Exception) as info:
        async for chunk in resp:
            got.append(chunk)
    assert text_of(got) == "one two three"
    exc = info.value
    if provider == "ollama":
        assert type(exc) is litellm.BadRequestError and exc.status_code == 400
        assert "an error was encountered" in str(exc)
    else:
        assert isinstance(exc, MidStreamFallbackError) and exc.status_code == 500
        expected = litellm.InternalServerError if provider == "anthropic" else litellm.APIConnectionError
        assert isinstance(exc.original_exception, expected)
        assert exc.generated_content == "one two three"
    assert SECRET not in str(exc)


# --------------------------------------------------------------------------------------------- hangs


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_hang_after_headers_times_out_during_iteration(srv: FakeLLMServer, provider: str) -> None:
    srv.script(Reply(kind="hang", cut_after=1))
    t0 = time.monotonic()
    resp = await call(srv, provider, timeout=0.3)  # headers came: acompletion returns
    with pytest.raises(MidStreamFallbackError) as info:
        await collect(resp)
    assert time.monotonic() - t0 < 2
    exc = info.value
    # a read timeout mid-stream is NOT litellm.Timeout
    assert not isinstance(exc, litellm.Timeout)
    assert isinstance(exc.original_exception, litellm.APIConnectionError)
    assert "Timeout on reading data from socket" in str(exc)
    assert SECRET not in str(exc)


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_hang_before_headers_raises_timeout_at_await(srv: FakeLLMServer, provider: str) -> None:
    srv.script(Reply(kind="status", status=500, first_delay=3))  # nothing at all for 3 s
    t0 = time.monotonic()
    with pytest.raises(litellm.Timeout) as info:
        await call(srv, provider, timeout=0.3)
    assert time.monotonic() - t0 < 2
    assert info.value.status_code == 408


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_cancel_closes_the_connection(srv: FakeLLMServer, provider: str) -> None:
    srv.script(Reply(kind="hang", cut_after=1))

    async def consume() -> None:
        resp = await call(srv, provider)
        await collect(resp)

    task = asyncio.create_task(consume())
    assert await asyncio.to_thread(srv.wait_for_requests, 1, 10)
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    (req,) = srv.requests_to(PROVIDERS[provider][2])
    deadline = time.monotonic() + 2
    while not req.client_gone and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    assert req.client_gone


# --------------------------------------------------------------------------------------------- server alone


def http(srv: FakeLLMServer, method: str, path: str, body: Any = None, headers: dict | None = None) -> tuple:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(srv.url + path, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def test_ollama_metadata(srv: FakeLLMServer) -> None:
    status, _, raw = http(srv, "GET", "/api/tags")
    assert status == 200
    models = json.loads(raw)["models"]
    assert [m["name"] for m in models] == ["llama3.2:latest", "qwen2.5-coder:7b"]
    assert "context_length" not in models[0]
    status, _, raw = http(srv, "POST", "/api/show", {"model": "llama3.2"})
    assert json.loads(raw)["model_info"]["llama.context_length"] == 131072
    status, _, raw = http(srv, "POST", "/api/show", {"name": "qwen2.5-coder:7b"})
    assert json.loads(raw)["model_info"]["qwen2.context_length"] == 32768
    assert http(srv, "POST", "/api/show", {"model": "nope"})[0] == 404
    assert json.loads(http(srv, "GET", "/api/version")[2])["version"]


def test_models_lists_and_script_for(srv: FakeLLMServer) -> None:
    ids = [m["id"] for m in json.loads(http(srv, "GET", "/v1/models")[2])["data"]]
    assert "gpt-4o-mini" in ids
    anth = json.loads(http(srv, "GET", "/v1/models", headers={"x-api-key": "k"})[2])
    assert anth["data"][0]["type"] == "model" and anth["has_more"] is False
    srv.script(Reply(text="for the chat"))  # metadata endpoints do not consume the shared queue
    srv.script_for("/api/tags", Reply(kind="status", status=500))
    assert http(srv, "GET", "/api/tags")[0] == 500
    assert http(srv, "GET", "/api/tags")[0] == 200
    assert srv.pending == 1
    assert http(srv, "GET", "/nope")[0] == 404


def test_stop_is_prompt_during_hang() -> None:
    fake = FakeLLMServer().start()
    fake.script(Reply(kind="hang", cut_after=0))
    import threading

    result: dict[str, Any] = {}

    def client() -> None:
        result["r"] = http(fake, "POST", "/api/chat", {"model": "m", "messages": []})

    th = threading.Thread(target=client, daemon=True)
    th.start()
    assert fake.wait_for_requests(1, 5)
    time.sleep(0.1)
    t0 = time.monotonic()
    fake.stop()
    assert time.monotonic() - t0 < 1
    th.join(2)
    assert not th.is_alive()


def test_chunking_helpers() -> None:
    text = "  lead  and\ntrailing words here  "
    assert "".join(split_chunks(text)) == text
    assert split_chunks("") == [""]
    chunks = markdown_chunks(200)
    assert len(chunks) == 200
    joined = "".join(chunks)
    assert "```python" in joined and "| name |" in joined and "## Section" in joined
