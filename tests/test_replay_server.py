"""ReplayServer: recorded bodies come back byte for byte, on any POST path, framed as the metadata says."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fakeserver import Recording, ReplayServer, load_recording
from tests.fakeserver.replay import split_events

OPENAI_SSE = (
    b'data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant",'
    b'"content":""},"finish_reason":null}]}\n\n'
    b'data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Hi \\u00e9"},'
    b'"finish_reason":null}]}\n\n'
    b'data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\r\n\r\n'
    b"data: [DONE]\n\n"
)
OLLAMA_NDJSON = (
    b'{"model":"llama3.2","message":{"role":"assistant","content":"Hel"},"done":false}\n'
    b'{"model":"llama3.2","message":{"role":"assistant","content":"lo"},"done":false}\n'
    b'{"model":"llama3.2","message":{"role":"assistant","content":""},"done":true,"done_reason":"stop"}\n'
)


def write_recording(tmp_path: Path, rid: str, body: bytes, **meta: Any) -> Path:
    meta_path = tmp_path / f"{rid}.json"
    meta_path.write_text(json.dumps(meta), encoding="utf-8")
    (tmp_path / f"{rid}.body").write_bytes(body)
    return meta_path


def post_bytes(url: str, **kw: Any) -> tuple[httpx.Response, bytes]:
    with httpx.stream("POST", url, timeout=5, **kw) as resp:
        data = b"".join(resp.iter_raw())
    return resp, data


@pytest.fixture
def replay() -> Iterator[ReplayServer]:
    with ReplayServer() as srv:
        yield srv


def test_raw_sse_comes_back_byte_for_byte(replay: ReplayServer, tmp_path: Path) -> None:
    path = write_recording(
        tmp_path, "openai-hi", OPENAI_SSE, content_type="text/event-stream; charset=utf-8", framing="raw", wire="openai"
    )
    rec = load_recording(path)
    assert rec.id == "openai-hi" and rec.body == OPENAI_SSE and rec.meta["wire"] == "openai"
    replay.play(rec)
    resp, data = post_bytes(replay.url + "/v1/chat/completions?api-version=1", json={"stream": True})
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert "content-length" not in resp.headers and resp.headers["connection"] == "close"
    assert data == OPENAI_SSE
    # written event by event (blank-line boundaries, CRLF ones included), losslessly
    pieces = rec.pieces()
    assert len(pieces) == 4 and b"".join(pieces) == OPENAI_SSE
    assert all(p.endswith((b"\n\n", b"\r\n\r\n")) for p in pieces)


def test_raw_ndjson_any_path_and_requests_recorded(replay: ReplayServer, tmp_path: Path) -> None:
    replay.play(
        write_recording(
            tmp_path, "ollama-hello", OLLAMA_NDJSON, content_type="application/x-ndjson", framing="raw", wire="ollama"
        )
    )
    for path in ("/api/chat", "/anything/else?key=SECRET&alt=sse"):
        resp, data = post_bytes(replay.url + path, json={"model": "llama3.2"}, headers={"x-api-key": "sk-rec"})
        assert data == OLLAMA_NDJSON and resp.headers["content-type"] == "application/x-ndjson"
    assert [r.path for r in replay.requests] == ["/api/chat", "/anything/else?key=SECRET&alt=sse"]
    assert replay.requests[0].body == {"model": "llama3.2"} and replay.last.api_key == "sk-rec"
    assert split_events(OLLAMA_NDJSON, ndjson=True) == OLLAMA_NDJSON.splitlines(keepends=True)


def test_data_lines_openai_gets_done(replay: ReplayServer, tmp_path: Path) -> None:
    lines = [{"choices": [{"index": 0, "delta": {"content": "a"}}]}, {"choices": [{"index": 0, "delta": {}}]}]
    body = b"\n".join(json.dumps(x).encode() for x in lines) + b"\n\n"  # blank lines are skipped
    replay.play(
        write_recording(tmp_path, "o", body, content_type="text/event-stream", framing="data-lines", wire="openai")
    )
    resp, data = post_bytes(replay.url + "/v1/chat/completions", json={})
    expected = b"".join(b"data: " + json.dumps(x).encode() + b"\n\n" for x in lines) + b"data: [DONE]\n\n"
    assert data == expected and resp.headers["content-type"] == "text/event-stream"


def test_data_lines_anthropic_gets_event_names(replay: ReplayServer, tmp_path: Path) -> None:
    lines = [
        b'{"type":"message_start","message":{"id":"m"}}',
        b'{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"hi"}}',
        b'{"type":"message_stop"}',
    ]
    replay.play(
        write_recording(
            tmp_path, "a", b"\r\n".join(lines), content_type="text/event-stream", framing="data-lines", wire="anthropic"
        )
    )
    _, data = post_bytes(replay.url + "/v1/messages", json={})
    assert data == (
        b"event: message_start\ndata: " + lines[0] + b"\n\n"
        b"event: content_block_delta\ndata: " + lines[1] + b"\n\n"
        b"event: message_stop\ndata: " + lines[2] + b"\n\n"
    )  # no [DONE] for anthropic


def test_get_is_404_and_nothing_played_is_an_error(replay: ReplayServer, tmp_path: Path) -> None:
    resp = httpx.get(replay.url + "/v1/models", timeout=5)
    assert resp.status_code == 404 and "error" in resp.json()
    resp = httpx.post(replay.url + "/v1/messages", json={}, timeout=5)
    assert resp.status_code == 500 and "no recording" in resp.json()["error"]["message"]
    assert [r.method for r in replay.requests] == ["GET", "POST"]


def test_load_recording_rejects_unknown_formats(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="framing"):
        load_recording(write_recording(tmp_path, "x", b"", framing="chunks", wire="openai"))
    with pytest.raises(ValueError, match="wire"):
        load_recording(write_recording(tmp_path, "y", b"", framing="raw", wire="bedrock"))
    rec = Recording(id="z", meta={"framing": "raw", "wire": "gemini", "content_type": "text/event-stream"}, body=b"")
    assert rec.pieces() == []


def test_litellm_parses_a_replayed_openai_stream(
    replay: ReplayServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no network fetch of the cost map at import
    import litellm

    replay.play(
        write_recording(
            tmp_path, "openai-hi", OPENAI_SSE, content_type="text/event-stream", framing="raw", wire="openai"
        )
    )
    resp = litellm.completion(
        model="openai/gpt-4o-mini",
        api_base=replay.url + "/v1",
        api_key="sk-replay",
        messages=[{"role": "user", "content": "hi"}],
        stream=True,
        num_retries=0,
    )
    text = "".join(chunk.choices[0].delta.content or "" for chunk in resp if chunk.choices)
    assert text == "Hi \u00e9"
    assert replay.last.api_key == "sk-replay" and replay.last.path == "/v1/chat/completions"
