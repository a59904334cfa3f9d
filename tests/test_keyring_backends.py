"""Keys go only to a keyring that is the operating system's (config/keys.py TRUSTED_BACKENDS), never to a
"keyring" that is a plain file: keyrings.alt's PlaintextKeyring (Debian's default when it is installed), the null
backend, unknown third-party backends, or a chainer whose children are all of those."""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.backends.chainer import ChainerBackend
from keyring.compat import properties

from agentspace_tui.cli import main
from tests.conftest import ROOT, cli_env, run_cli
from tests.memkeyring import MemoryKeyring

KEY = "sk-plain-SECRET-5f3e9a1c77"
ENV_NOTE = "(agentspace-tui never stores keys in its own files)"


class Base64FileKeyring(KeyringBackend):
    """A third-party backend like keyrings.alt's: base64 in a file (AGENTSPACE_TEST_KEYFILE)."""

    priority = 5  # type: ignore[assignment]

    @staticmethod
    def _path() -> Path:
        return Path(os.environ["AGENTSPACE_TEST_KEYFILE"])

    def get_password(self, service: str, username: str) -> str | None:
        path = self._path()
        if not path.exists():
            return None
        data = json.loads(path.read_text())
        value = data.get(f"{service}/{username}")
        return base64.b64decode(value).decode() if value else None

    def set_password(self, service: str, username: str, password: str) -> None:
        path = self._path()
        data = json.loads(path.read_text()) if path.exists() else {}
        data[f"{service}/{username}"] = base64.b64encode(password.encode()).decode()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data))

    def delete_password(self, service: str, username: str) -> None:
        raise NotImplementedError


class PlaintextOnlyChainer(ChainerBackend):
    """keyring's chainer with only file backends to chain (what a headless Debian box has)."""

    @properties.classproperty
    def backends(cls):
        from keyrings.alt.file import PlaintextKeyring

        return [PlaintextKeyring(), Base64FileKeyring()]


def _isolated_env(tmp_path: Path, backend: str) -> dict[str, str]:
    """The subprocess's keyring selection and every place a file backend could write, all under tmp_path."""
    return {
        "PYTHON_KEYRING_BACKEND": backend,
        "HOME": str(tmp_path / "userhome"),
        "XDG_DATA_HOME": str(tmp_path / "xdg-data"),
        "XDG_CONFIG_HOME": str(tmp_path / "xdg-config"),
        "AGENTSPACE_TEST_KEYFILE": str(tmp_path / "thirdparty" / "keys.json"),
        "DBUS_SESSION_BUS_ADDRESS": "disabled:",  # never reach a real desktop keyring from a test
    }


def _files_with_key(root: Path) -> list[Path]:
    needles = [KEY.encode(), base64.b64encode(KEY.encode()), base64.b64encode(KEY.encode()).rstrip(b"=")]
    found = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            if any(needle in data for needle in needles):
                found.append(path)
    return found


@pytest.mark.parametrize(
    ("backend", "why"),
    [
        ("keyrings.alt.file.PlaintextKeyring",
         "the keyring backend keyrings.alt.file.PlaintextKeyring keeps keys in a plain file, not a system keyring"),
        ("keyring.backends.null.Keyring",
         "the keyring backend keyring.backends.null.Keyring is switched off (it stores nothing), not a system keyring"),
        ("tests.test_keyring_backends.Base64FileKeyring",
         "the keyring backend tests.test_keyring_backends.Base64FileKeyring is not one agentspace-tui trusts, "
         "not a system keyring"),
        ("tests.test_keyring_backends.PlaintextOnlyChainer",
         "none of the keyring backends found (keyrings.alt.file.PlaintextKeyring, "
         "tests.test_keyring_backends.Base64FileKeyring) is a system keyring"),
    ],
)
def test_keys_set_refuses_a_file_keyring(home, tmp_path, backend, why):
    pytest.importorskip("keyrings.alt")
    out = run_cli(home, "keys", "set", "openai", input=KEY + "\n", **_isolated_env(tmp_path, backend))
    assert out.returncode == 3, (out.stdout, out.stderr)
    assert out.stdout == ""  # no "stored the OpenAI key in the system keyring"
    assert out.stderr == f"agentspace-tui: {why}; set OPENAI_API_KEY in your environment instead {ENV_NOTE}\n"
    assert _files_with_key(tmp_path) == []
    assert not (tmp_path / "xdg-data" / "python_keyring").exists()  # PlaintextKeyring's file
    assert not (tmp_path / "userhome" / ".local" / "share" / "python_keyring").exists()
    assert not (tmp_path / "thirdparty").exists()


def test_keys_in_a_file_keyring_are_not_read(home, tmp_path):
    """A key someone put in the plaintext file earlier is ignored (and `keys list` says why)."""
    pytest.importorskip("keyrings.alt")
    env = _isolated_env(tmp_path, "keyrings.alt.file.PlaintextKeyring")
    subprocess.run(  # the keyring library itself writes it, as an older agentspace-tui would have
        [sys.executable, "-c", f"import keyring; keyring.set_password('agentspace-tui', 'mistral', {KEY!r})"],
        env=cli_env(home, **env), check=True, cwd=str(ROOT),
    )
    assert _files_with_key(tmp_path)  # it is there, in plain sight
    out = run_cli(home, "keys", "list", "--json", **env)
    assert out.returncode == 0, out.stderr
    sources = {row["provider"]: row["source"] for row in json.loads(out.stdout)}
    assert sources["mistral"] == "none"
    out = run_cli(home, "keys", "list", **env)
    assert out.returncode == 0, out.stderr
    assert [line.split()[2] for line in out.stdout.splitlines() if line.startswith("mistral")] == ["none"]
    assert out.stderr == ("note: the keyring backend keyrings.alt.file.PlaintextKeyring keeps keys in a plain file, "
                          "not a system keyring; keys can only come from environment variables here\n")


def test_chainer_stores_only_in_its_trusted_child(home, tmp_path, memkeyring, monkeypatch, capsys):
    """keyring's chainer writes to its first child that takes the key; we write to the first trusted one only."""
    monkeypatch.setenv("AGENTSPACE_TEST_KEYFILE", str(tmp_path / "thirdparty" / "keys.json"))
    file_backend = Base64FileKeyring()
    file_backend.set_password("agentspace-tui", "groq", "sk-groq-from-the-file")

    class Chain(ChainerBackend):
        backends = [file_backend, memkeyring]  # the file one first, as its priority says

    keyring.set_keyring(Chain())
    monkeypatch.setattr(sys, "stdin", io.StringIO(KEY + "\n"))
    assert main(["keys", "set", "mistral"]) == 0
    assert capsys.readouterr().out == "stored the Mistral key in the system keyring\n"
    assert memkeyring.store == {("agentspace-tui", "mistral"): KEY}
    assert KEY not in (tmp_path / "thirdparty" / "keys.json").read_text()
    assert base64.b64encode(KEY.encode()).decode() not in (tmp_path / "thirdparty" / "keys.json").read_text()
    assert main(["keys", "list", "--json"]) == 0
    sources = {row["provider"]: row["source"] for row in json.loads(capsys.readouterr().out)}
    assert sources["mistral"] == "keyring" and sources["groq"] == "none"  # the file's key is not read


def test_the_test_keyring_is_trusted_only_through_the_allowlist(home, monkeypatch, capsys):
    """No blanket bypass: the in-memory test backend outside the ``memkeyring`` fixture's allowlist is refused."""
    from agentspace_tui.config import keys

    monkeypatch.setattr(keys, "TRUSTED_BACKENDS", set(keys.TRUSTED_BACKENDS) - {"tests.memkeyring.MemoryKeyring"})
    backend = MemoryKeyring()
    keyring.set_keyring(backend)  # the memkeyring fixture (via home) restores the previous one afterwards
    monkeypatch.setattr(sys, "stdin", io.StringIO(KEY + "\n"))
    assert main(["keys", "set", "groq"]) == 3
    err = capsys.readouterr().err
    assert err == ("agentspace-tui: the keyring backend tests.memkeyring.MemoryKeyring is not one agentspace-tui "
                   f"trusts, not a system keyring; set GROQ_API_KEY in your environment instead {ENV_NOTE}\n")
    assert backend.store == {}
