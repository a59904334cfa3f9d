"""Storage: round trips, usage arithmetic, schema, corruption recovery, atomicity, crashes, two processes."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from agentspace_tui.storage import SCHEMA_VERSION, StorageError, Store
from agentspace_tui.storage import atomic as atomic_mod
from agentspace_tui.storage.encoding import IncrementalEncoder
from agentspace_tui.storage.salvage import salvage

REPO = Path(__file__).resolve().parent.parent


def reply_usage(store: Store, session_id: str, model: str, cost: float | None, **extra) -> None:
    store.record_reply_usage(
        session_id,
        model=model,
        input_tokens=extra.get("input_tokens", 100),
        output_tokens=extra.get("output_tokens", 20),
        cache_read_tokens=extra.get("cache_read_tokens", 0),
        cache_write_tokens=extra.get("cache_write_tokens", 0),
        cost=cost,
        when=extra.get("when"),
    )


def session_file(root: Path, session_id: str) -> Path:
    return root / "sessions" / f"{session_id}.json"


def json_files(root: Path) -> list[Path]:
    return sorted(root.rglob("*.json"))


def leftovers(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.endswith(".tmp")]


def run_python(code: str, *args: str, **kwargs) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *args], env=env, **kwargs)


# -- basics ------------------------------------------------------------------------------------------------
def test_open_is_lazy(tmp_path: Path) -> None:
    root = tmp_path / "data"
    store = Store(root)
    assert not root.exists()
    assert store.list_sessions() == []
    assert store.latest_session() is None
    assert store.usage()["total"]["cost"] == 0.0
    assert store.price_overrides() == {}
    assert not root.exists()


def test_round_trip(tmp_path: Path) -> None:
    store = Store(tmp_path)
    session = store.create_session(title="Trip", model="openai:gpt-4o", system_prompt="Be brief.")
    assert len(session["id"]) == 12 and int(session["id"], 16) >= 0
    assert session["messages"] == 0 and session["cost"] == 0.0 and session["unknown_cost"] == 0
    user = store.append_message(session["id"], {"role": "user", "content": 'héllo "quoted" 東京\n'})
    reply = store.append_message(
        session["id"], {"role": "assistant", "content": "hi", "model": "openai:gpt-4o", "usage": {"in": 3}}
    )
    assert user["session_id"] == session["id"] and isinstance(user["created_at"], float)

    again = Store(tmp_path)  # another process's view
    messages = again.get_messages(session["id"])
    assert [m["id"] for m in messages] == [user["id"], reply["id"]]
    assert messages[0]["content"] == 'héllo "quoted" 東京\n'
    assert messages[1]["usage"] == {"in": 3} and messages[1]["model"] == "openai:gpt-4o"
    loaded = again.get_session(session["id"])
    assert loaded is not None
    assert (loaded["title"], loaded["model"], loaded["system_prompt"]) == ("Trip", "openai:gpt-4o", "Be brief.")
    assert loaded["messages"] == 2 and loaded["updated_at"] >= session["updated_at"]
    json.dumps(loaded)
    json.dumps(messages)


def test_returned_data_is_a_copy(tmp_path: Path) -> None:
    store = Store(tmp_path)
    sid = store.create_session()["id"]
    msg = {"role": "user", "content": "a", "usage": {"n": 1}}
    store.append_message(sid, msg)
    msg["usage"]["n"] = 99
    got = store.get_messages(sid)
    got[0]["usage"]["n"] = 42
    assert store.get_messages(sid)[0]["usage"] == {"n": 1}
    assert Store(tmp_path).get_messages(sid)[0]["usage"] == {"n": 1}


def test_prefix_lookup(tmp_path: Path) -> None:
    store = Store(tmp_path)
    a = store.bulk_import({"id": "abcd11112222", "title": "A"}, [])
    store.bulk_import({"id": "abcd33334444", "title": "B"}, [])
    assert store.get_session("abcd1")["id"] == a["id"]
    assert store.get_session("abcd11112222")["title"] == "A"
    assert store.get_session("abcd") is None  # ambiguous
    assert store.get_session("abc") is None  # too short
    assert store.get_session("ffff") is None
    with pytest.raises(StorageError, match="matches 2 sessions"):
        store.append_message("abcd", {"role": "user", "content": "x"})
    store.append_message("abcd3", {"role": "user", "content": "x"})
    assert store.get_session("abcd3333")["messages"] == 1
    with pytest.raises(StorageError, match="no session"):
        store.get_messages("0000")


def test_ordering(tmp_path: Path) -> None:
    store = Store(tmp_path)
    first = store.create_session(title="first")
    second = store.create_session(title="second")
    third = store.create_session(title="third")
    assert [s["title"] for s in store.list_sessions()] == ["third", "second", "first"]
    time.sleep(0.002)
    store.append_message(first["id"], {"role": "user", "content": "bump"})
    assert [s["title"] for s in store.list_sessions()] == ["first", "third", "second"]
    assert store.latest_session()["id"] == first["id"]
    store.update_session(second["id"], title="renamed")  # renaming is not activity
    assert store.list_sessions()[0]["id"] == first["id"]

    contents = [f"m{i}" for i in range(30)]
    for text in contents:
        store.append_message(third["id"], {"role": "user", "content": text, "created_at": 5.0})
    assert [m["content"] for m in Store(tmp_path).get_messages(third["id"])] == contents


def test_update_message(tmp_path: Path) -> None:
    store = Store(tmp_path)
    sid = store.create_session()["id"]
    store.append_message(sid, {"role": "user", "content": "q"})
    reply = store.append_message(sid, {"role": "assistant", "content": "", "status": "streaming"})
    for i in range(5):
        store.update_message(sid, reply["id"], content="x" * i, checkpoint_at=float(i))
    final = store.update_message(sid, reply["id"], content="done!", status="done", usage={"output_tokens": 2})
    assert final["content"] == "done!" and final["status"] == "done" and final["checkpoint_at"] == 4.0
    assert final["id"] == reply["id"] and final["role"] == "assistant"
    assert Store(tmp_path).get_messages(sid)[1] == final
    assert Store(tmp_path).get_session(sid)["messages"] == 2
    with pytest.raises(ValueError):
        store.update_message(sid, reply["id"], id="other")
    with pytest.raises(StorageError, match="no message"):
        store.update_message(sid, "nope", content="x")


def test_update_and_delete_session(tmp_path: Path) -> None:
    store = Store(tmp_path)
    sid = store.create_session(title="t")["id"]
    attachment = {"path": "/tmp/a.py", "name": "a.py", "content": "print(1)\n" * 100, "bytes": 900}
    updated = store.update_session(sid, title="new", model="m:x", system_prompt="sys", attachments=[attachment])
    assert updated["title"] == "new" and updated["attachments"] == [attachment]
    assert Store(tmp_path).get_session(sid)["attachments"] == [attachment]
    listed = store.list_sessions()[0]
    assert listed["attachments"] == [{"path": "/tmp/a.py", "name": "a.py", "bytes": 900}]  # index stays small
    assert "print(1)" not in (tmp_path / "index.json").read_text()
    with pytest.raises(ValueError):
        store.update_session(sid, messages=3)
    assert store.delete_session(sid) is True
    assert store.delete_session(sid) is False
    assert store.get_session(sid) is None and not session_file(tmp_path, sid).exists()


def test_search_sessions(tmp_path: Path) -> None:
    store = Store(tmp_path)
    a = store.create_session(title="Rust borrow checker")
    b = store.create_session(title="cooking")
    store.append_message(b["id"], {"role": "user", "content": "How long to boil an EGG? Ünïcode Straße"})
    store.append_message(b["id"], {"role": "assistant", "content": 'say "hi"'})
    store.create_session(title="empty")
    assert [s["id"] for s in store.search_sessions("BORROW")] == [a["id"]]
    assert [s["id"] for s in store.search_sessions("boil an egg")] == [b["id"]]
    assert [s["id"] for s in store.search_sessions("ünï")] == [b["id"]]
    assert [s["id"] for s in store.search_sessions('"hi"')] == [b["id"]]
    assert store.search_sessions("zebra") == []


def test_bulk_import(tmp_path: Path) -> None:
    store = Store(tmp_path)
    msgs = [{"role": "user" if i % 2 == 0 else "assistant", "content": f"c{i}"} for i in range(50)]
    session = store.bulk_import({"title": "imported", "model": "m:x", "created_at": 100.0}, msgs)
    assert session["messages"] == 50
    assert [m["content"] for m in Store(tmp_path).get_messages(session["id"])] == [m["content"] for m in msgs]
    store.append_message(session["id"], {"role": "user", "content": "after"})
    assert Store(tmp_path).get_session(session["id"])["messages"] == 51
    with pytest.raises(StorageError):
        store.bulk_import({"id": session["id"]}, [])


def test_price_overrides(tmp_path: Path) -> None:
    store = Store(tmp_path)
    entry = store.set_price_override("x:model", input_per_mtok=1, output_per_mtok=2.5, cache_read_per_mtok=0.1)
    assert entry["input_per_mtok"] == 1.0 and entry["cache_write_per_mtok"] is None
    store.set_price_override("x:model", input_per_mtok=3, output_per_mtok=4)
    store.set_price_override("y:model", input_per_mtok=0, output_per_mtok=0)
    overrides = Store(tmp_path).price_overrides()
    assert set(overrides) == {"x:model", "y:model"} and overrides["x:model"]["input_per_mtok"] == 3.0
    assert store.unset_price_override("x:model") is True
    assert store.unset_price_override("x:model") is False
    assert set(Store(tmp_path).price_overrides()) == {"y:model"}
    with pytest.raises(ValueError):
        store.set_price_override("z", input_per_mtok=-1, output_per_mtok=1)


# -- usage -------------------------------------------------------------------------------------------------
def test_usage_sums_and_unknown_cost(tmp_path: Path) -> None:
    store = Store(tmp_path)
    sid = store.create_session()["id"]
    assert store.usage(sid) == {"per_model": {}, "total": store.usage(sid)["total"]}
    assert store.usage(sid)["total"]["cost"] == 0.0  # no requests: 0.0, not None
    reply_usage(store, sid, "a:known", 0.25, input_tokens=1000, cache_read_tokens=300)
    reply_usage(store, sid, "a:known", 0.5, output_tokens=7)
    reply_usage(store, sid, "b:unknown", None)
    reply_usage(store, sid, "b:unknown", None)

    usage = store.usage(sid)
    known, unknown = usage["per_model"]["a:known"], usage["per_model"]["b:unknown"]
    assert known["requests"] == 2 and known["cost"] == pytest.approx(0.75) and known["unknown_cost"] == 0
    assert known["input_tokens"] == 1100 and known["output_tokens"] == 27 and known["cache_read_tokens"] == 300
    assert unknown["requests"] == 2 and unknown["cost"] is None and unknown["unknown_cost"] == 2
    total = usage["total"]
    assert total["requests"] == 4 and total["cost"] == pytest.approx(0.75) and total["unknown_cost"] == 2

    session = Store(tmp_path).get_session(sid)
    assert session["cost"] == pytest.approx(0.75) and session["unknown_cost"] == 2
    assert session["usage"]["b:unknown"]["cost"] is None

    ledger = Store(tmp_path).usage()
    assert ledger["total"]["requests"] == 4 and ledger["total"]["cost"] == pytest.approx(0.75)

    only_unknown = store.create_session()["id"]
    reply_usage(store, only_unknown, "b:unknown", None)
    assert store.usage(only_unknown)["total"]["cost"] is None
    assert store.get_session(only_unknown)["cost"] is None


def test_usage_by_day(tmp_path: Path) -> None:
    store = Store(tmp_path)
    sid = store.create_session()["id"]
    day1 = time.mktime((2025, 3, 1, 12, 0, 0, 0, 0, -1))
    day2 = time.mktime((2025, 3, 2, 12, 0, 0, 0, 0, -1))
    reply_usage(store, sid, "m:a", 1.0, when=day1)
    reply_usage(store, sid, "m:a", 2.0, when=day2)
    reply_usage(store, sid, "m:b", None, when=day2)
    assert store.usage(day="2025-03-01")["total"]["cost"] == 1.0
    assert store.usage(day="2025-03-02")["total"] | {"cost": 0} == store.usage(day="2025-03-02")["total"] | {"cost": 0}
    day_two = store.usage(day="2025-03-02")
    assert day_two["total"]["requests"] == 2 and day_two["total"]["cost"] == 2.0
    assert day_two["per_model"]["m:b"]["cost"] is None
    assert store.usage(day="2025-03-03")["total"]["requests"] == 0
    assert store.usage()["total"]["requests"] == 3
    with pytest.raises(ValueError):
        store.usage(sid, day="2025-03-01")


def test_deleted_session_spending_stays_in_ledger(tmp_path: Path) -> None:
    store = Store(tmp_path)
    sid = store.create_session()["id"]
    reply_usage(store, sid, "m:a", 0.4)
    reply_usage(store, sid, "m:a", None)
    assert store.delete_session(sid)
    ledger = Store(tmp_path).usage()
    assert ledger["total"]["requests"] == 2 and ledger["total"]["cost"] == pytest.approx(0.4)
    assert ledger["total"]["unknown_cost"] == 1
    with pytest.raises(StorageError):
        store.usage(sid)


# -- schema ------------------------------------------------------------------------------------------------
def test_schema_version_stored(tmp_path: Path) -> None:
    store = Store(tmp_path)
    sid = store.create_session(title="s")["id"]
    store.append_message(sid, {"role": "user", "content": "x"})
    reply_usage(store, sid, "m:a", 0.1)
    store.set_price_override("m:a", input_per_mtok=1, output_per_mtok=1)
    names = {p.relative_to(tmp_path).as_posix() for p in json_files(tmp_path)}
    assert names == {"index.json", "usage.json", "pricing.json", f"sessions/{sid}.json"}
    for path in json_files(tmp_path):
        data = json.loads(path.read_text())
        assert data["meta"]["1"]["schema"] == SCHEMA_VERSION == 1
        assert path.read_bytes().isascii() and b"\n" not in path.read_bytes()  # compact
    meta = json.loads(session_file(tmp_path, sid).read_text())["meta"]["1"]["session"]
    assert meta["id"] == sid and meta["title"] == "s"  # enough to rebuild the index


def test_newer_schema_refused(tmp_path: Path) -> None:
    store = Store(tmp_path)
    sid = store.create_session(title="old")["id"]
    store.append_message(sid, {"role": "user", "content": "x"})
    path = session_file(tmp_path, sid)
    data = json.loads(path.read_text())
    data["meta"]["1"]["schema"] = SCHEMA_VERSION + 1
    path.write_text(json.dumps(data))
    before = path.read_bytes()

    fresh = Store(tmp_path)
    assert [m["content"] for m in fresh.get_messages(sid)] == ["x"]  # reading is fine
    with pytest.raises(StorageError, match="newer agentspace-tui") as info:
        fresh.append_message(sid, {"role": "user", "content": "y"})
    assert "\n" not in str(info.value)
    with pytest.raises(StorageError):
        fresh.update_message(sid, fresh.get_messages(sid)[0]["id"], content="z")
    assert path.read_bytes() == before
    assert fresh.get_session(sid)["messages"] == 1  # the index was not touched either

    index = tmp_path / "index.json"
    data = json.loads(index.read_text())
    data["meta"]["1"]["schema"] = 99
    index.write_text(json.dumps(data))
    fresh = Store(tmp_path)
    assert fresh.get_session(sid)["title"] == "old"
    with pytest.raises(StorageError, match="index.json"):
        fresh.create_session()
    assert len(list((tmp_path / "sessions").glob("*.json"))) == 1


# -- corruption ---------------------------------------------------------------------------------------------
def make_history(root: Path) -> tuple[Store, list[str]]:
    store = Store(root)
    ids = []
    for n in range(3):
        sid = store.create_session(title=f"session {n}", model="m:a")["id"]
        for i in range(10 + n):
            store.append_message(sid, {"role": "user", "content": f"s{n} m{i}"})
        reply_usage(store, sid, "m:a", 0.1 * (n + 1))
        ids.append(sid)
    store.update_session(ids[0], attachments=[{"path": "p", "name": "n", "content": "body", "bytes": 4}])
    return store, ids


def test_corrupt_index_rebuilt_from_session_files(tmp_path: Path) -> None:
    old, ids = make_history(tmp_path)
    expected = {s["id"]: s for s in old.list_sessions()}
    (tmp_path / "index.json").write_bytes(b'{"sessions":{"1":{"id":"' + b"\x00garbage")

    store = Store(tmp_path)
    rebuilt = {s["id"]: s for s in store.list_sessions()}
    assert set(rebuilt) == set(ids)
    for sid in ids:
        for key in ("title", "model", "messages", "cost", "created_at", "updated_at", "attachments"):
            assert rebuilt[sid][key] == expected[sid][key], key
    assert store.get_session(ids[0])["attachments"][0]["content"] == "body"
    assert len(store.warnings) == 1
    warning = store.warnings[0]
    assert warning.startswith("index.json was corrupt: moved aside to index.json.corrupt-")
    assert "rebuilt 3 sessions" in warning and "\n" not in warning
    assert len(list(tmp_path.glob("index.json.corrupt-*"))) == 1
    json.loads((tmp_path / "index.json").read_text())
    store.append_message(ids[1], {"role": "user", "content": "after"})
    assert Store(tmp_path).get_session(ids[1])["messages"] == 12
    assert Store(tmp_path).warnings == []


def test_truncated_session_file_salvaged(tmp_path: Path) -> None:
    _, ids = make_history(tmp_path)
    path = session_file(tmp_path, ids[2])
    raw = path.read_bytes()
    cut = raw.index(b'"content":"s2 m7"')  # inside message 8 of 12
    path.write_bytes(raw[:cut])

    store = Store(tmp_path)
    messages = store.get_messages(ids[2])
    assert [m["content"] for m in messages] == [f"s2 m{i}" for i in range(7)]
    assert store.warnings == [
        f"sessions/{ids[2]}.json was corrupt: moved aside to "
        f"{next(path.parent.glob('*.corrupt-*')).relative_to(tmp_path).as_posix()}, recovered 7 messages"
    ]
    assert store.get_session(ids[2])["messages"] == 7
    assert store.get_session(ids[2])["title"] == "session 2"
    store.append_message(ids[2], {"role": "user", "content": "more"})
    assert len(Store(tmp_path).get_messages(ids[2])) == 8


def test_session_file_garbage_and_missing_meta(tmp_path: Path) -> None:
    _, ids = make_history(tmp_path)
    session_file(tmp_path, ids[1]).write_bytes(os.urandom(3000))
    store = Store(tmp_path)
    assert store.get_messages(ids[1]) == []
    assert "recovered 0 messages" in store.warnings[0]
    assert store.get_session(ids[1])["title"] == "session 1"  # meta rewritten from the index record
    meta = json.loads(session_file(tmp_path, ids[1]).read_text())["meta"]["1"]
    assert meta["session"]["title"] == "session 1"


@pytest.mark.parametrize(
    ("name", "call"),
    [
        ("usage.json", lambda s: s.usage()),
        ("pricing.json", lambda s: s.price_overrides()),
        ("index.json", lambda s: s.list_sessions()),
    ],
)
@pytest.mark.parametrize("content", [b"\x00\xffrandom garbage", b"", b"[1, 2, 3]", b'{"ledger": {"x": 1}}'])
def test_garbage_file_gives_empty_and_warning(tmp_path: Path, name: str, call, content: bytes) -> None:
    tmp_path.joinpath(name).write_bytes(content)
    store = Store(tmp_path)
    result = call(store)
    assert not result or result["total"]["requests"] == 0
    assert len(store.warnings) == 1 and store.warnings[0].startswith(f"{name} was corrupt: moved aside to")
    json.loads(tmp_path.joinpath(name).read_text())
    assert call(Store(tmp_path)) == result


def test_ledger_truncated_keeps_earlier_days(tmp_path: Path) -> None:
    store = Store(tmp_path)
    sid = store.create_session()["id"]
    for day in range(1, 6):
        reply_usage(store, sid, "m:a", 1.0, when=time.mktime((2025, 1, day, 12, 0, 0, 0, 0, -1)))
    path = tmp_path / "usage.json"
    raw = path.read_bytes()
    path.write_bytes(raw[: raw.index(b'"5":{"day"') + 12])  # torn inside the fifth record
    fresh = Store(tmp_path)
    assert fresh.usage()["total"]["cost"] == 4.0
    assert "recovered 4 usage records" in fresh.warnings[0]


def test_salvage_keeps_records_after_a_torn_middle() -> None:
    docs = {str(i): {"id": f"m{i}", "content": f'text {i} "quoted" {{"1": {{}}}}'} for i in range(1, 8)}
    raw = json.dumps({"meta": {"1": {"schema": 1}}, "messages": docs})
    torn = raw[: raw.index('"4":')] + "\x00\x00garbage" + raw[raw.index('"5":') :]
    found = salvage(torn, ("meta", "messages"))
    assert found["meta"] == {"1": {"schema": 1}}
    assert sorted(found["messages"], key=int) == ["1", "2", "3", "5", "6", "7"]
    assert found["messages"]["6"] == docs["6"]
    for cut in range(0, len(raw), 37):
        partial = salvage(raw[:cut], ("meta", "messages")).get("messages", {})
        assert all(partial[k] == docs[k] for k in partial)


def test_encoder_round_trip_and_reuse() -> None:
    rng = random.Random(3)
    encoder = IncrementalEncoder()
    data = {"meta": {"1": {"schema": 1}}, "messages": {}}
    for step in range(200):
        docs = data["messages"]
        if docs and rng.random() < 0.4:
            key = rng.choice(list(docs))
            docs[key].update(content=f'edit {step} ü "q" \\', n=step)
        else:
            docs[str(len(docs) + 1)] = {"role": "user", "content": f"m{step} 東京", "nested": {"a": [step]}}
        raw = b"".join(encoder.encode(data))
        assert json.loads(raw) == data
    reread = IncrementalEncoder()
    assert reread.decode(raw) == data
    assert b"".join(reread.encode(data)) == raw
    assert IncrementalEncoder().decode(b" {\n} ") == {}
    assert IncrementalEncoder().decode(b'{"a": [1]}') == {"a": [1]}  # odd shape: plain json fallback
    assert IncrementalEncoder().decode(b'{"a": {"1": {}') is None


# -- atomicity and concurrency --------------------------------------------------------------------------------
@pytest.mark.parametrize("failing", ["replace", "fsync", "write"])
def test_failed_write_leaves_old_content(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: str) -> None:
    store = Store(tmp_path)
    sid = store.create_session(title="t")["id"]
    first = store.append_message(sid, {"role": "user", "content": "kept"})
    before = {p: p.read_bytes() for p in json_files(tmp_path)}

    def boom(*args, **kwargs):
        raise OSError(28, "No space left on device")

    if failing == "write":
        real_fdopen = os.fdopen

        class Failing:
            def __init__(self, handle):
                self.handle = handle

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                self.handle.close()

            def writelines(self, chunks):
                self.handle.write(b'{"partial":')
                raise OSError(28, "No space left on device")

        monkeypatch.setattr(atomic_mod.os, "fdopen", lambda *a, **k: Failing(real_fdopen(*a, **k)))
    else:
        monkeypatch.setattr(atomic_mod.os, failing, boom)
    with pytest.raises(StorageError, match=r"^could not save sessions/\w+\.json: No space left on device$"):
        store.append_message(sid, {"role": "user", "content": "lost"})
    monkeypatch.undo()

    assert {p: p.read_bytes() for p in json_files(tmp_path)} == before
    assert leftovers(tmp_path) == []
    assert [m["id"] for m in store.get_messages(sid)] == [first["id"]]  # the cache did not keep "lost"
    store.append_message(sid, {"role": "user", "content": "next"})
    assert [m["content"] for m in Store(tmp_path).get_messages(sid)] == ["kept", "next"]
    assert Store(tmp_path).get_session(sid)["messages"] == 2


def test_stale_temp_files_swept(tmp_path: Path) -> None:
    store = Store(tmp_path)
    sid = store.create_session()["id"]
    stale = [tmp_path / ".index.json.999999.abcdef.tmp", tmp_path / "sessions" / f".{sid}.json.1.aaaaaa.tmp"]
    for path in stale:
        path.write_bytes(b'{"half')
    Store(tmp_path).append_message(sid, {"role": "user", "content": "x"})
    assert leftovers(tmp_path) == []


def test_two_stores_see_each_others_writes(tmp_path: Path) -> None:
    a, b = Store(tmp_path), Store(tmp_path)
    sid = a.create_session()["id"]
    a.get_messages(sid)
    b.append_message(sid, {"role": "user", "content": "from b"})
    assert [m["content"] for m in a.get_messages(sid)] == ["from b"]
    a.append_message(sid, {"role": "user", "content": "from a"})
    assert [m["content"] for m in b.get_messages(sid)] == ["from b", "from a"]
    assert a.get_session(sid)["messages"] == b.get_session(sid)["messages"] == 2


def test_threads_share_one_store(tmp_path: Path) -> None:
    store = Store(tmp_path, durable=False)
    sid = store.create_session()["id"]
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(40):
                store.append_message(sid, {"role": "user", "content": f"t{n}-{i}"})
                store.get_messages(sid)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(Store(tmp_path).get_messages(sid)) == 120
    assert store.get_session(sid)["messages"] == 120


APPENDER = """
import sys
from pathlib import Path
from agentspace_tui.storage import Store

root, shared, name, count = Path(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
store = Store(root)
own = store.create_session(title=name)["id"]
print(own, flush=True)
sys.stdin.readline()  # start together
for i in range(count):
    store.append_message(shared, {"role": "user", "content": f"{name} {i}"})
    store.append_message(own, {"role": "user", "content": f"{name} {i}"})
"""


def test_two_processes_lose_nothing(tmp_path: Path) -> None:
    shared = Store(tmp_path).create_session(title="shared")["id"]
    procs = [
        run_python(APPENDER, str(tmp_path), shared, name, "200", stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        for name in ("p1", "p2")
    ]
    own = [p.stdout.readline().decode().strip() for p in procs]
    for p in procs:
        p.stdin.write(b"go\n")
        p.stdin.flush()
    for p in procs:
        assert p.wait(timeout=60) == 0

    store = Store(tmp_path)
    contents = [m["content"] for m in store.get_messages(shared)]
    assert len(contents) == 400
    for name in ("p1", "p2"):
        assert [c for c in contents if c.startswith(name)] == [f"{name} {i}" for i in range(200)]
    assert store.get_session(shared)["messages"] == 400
    for name, sid in zip(("p1", "p2"), own, strict=True):
        assert [m["content"] for m in store.get_messages(sid)] == [f"{name} {i}" for i in range(200)]
        assert store.get_session(sid)["messages"] == 200
    assert store.warnings == []


WRITER = """
import sys
from pathlib import Path
from agentspace_tui.storage import Store

store = Store(Path(sys.argv[1]))
sid = store.create_session(title="crash")["id"]
i = 0
while True:
    reply = store.append_message(sid, {"role": "assistant", "content": "x" * (i % 900), "status": "streaming"})
    for k in range(3):
        store.update_message(sid, reply["id"], content="y" * (k * 300 + i % 50))
    store.record_reply_usage(sid, model="m:a", input_tokens=1, output_tokens=1, cache_read_tokens=0,
                             cache_write_tokens=0, cost=0.001)
    i += 1
    if i == 5:
        print("running", flush=True)
"""


def test_sigkill_mid_write_leaves_parseable_files(tmp_path: Path) -> None:
    proc = run_python(WRITER, str(tmp_path), stdout=subprocess.PIPE)
    assert proc.stdout.readline().strip() == b"running"
    time.sleep(random.uniform(0.2, 0.6))
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)

    files = json_files(tmp_path)
    assert len(files) == 3  # index, usage, the session
    for path in files:
        json.loads(path.read_bytes())  # every file parses: no torn writes
    store = Store(tmp_path)
    session = store.list_sessions()[0]
    messages = store.get_messages(session["id"])
    assert len(messages) >= 5
    assert session["messages"] in (len(messages), len(messages) - 1)  # killed between the two writes
    assert store.warnings == []
    store.append_message(session["id"], {"role": "user", "content": "after the crash"})
    assert Store(tmp_path).get_session(session["id"])["messages"] == len(messages) + 1
    assert leftovers(tmp_path) == []
