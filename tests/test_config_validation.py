"""config.toml values, AGENTSPACE_HOME, stdin and `pricing set` numbers are checked up front: one line naming the
key, the value and what is allowed, exit 3 (configuration) or 2 (arguments), never a traceback. Quitting can
not be configured away. Our folders are private (0700)."""

from __future__ import annotations

import asyncio
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from agentspace_tui.config import settings as settings_mod
from tests.conftest import ROOT, cli_env, run_cli

TIMEOUT_ALLOWED = "is not allowed: a number of seconds > 0 (at most 3600)"
RETRIES_ALLOWED = "is not allowed: a whole number from 0 to 10"
KEY_ALLOWED = '"ctrl+o", "f2", "alt+x", "ctrl+shift+up"'
PRICE_ALLOWED = "is not allowed: USD per million tokens, a number from 0 to 100000"


def write_config(home: Path, text: str) -> Path:
    (home / "config").mkdir(parents=True, exist_ok=True)
    path = home / "config" / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def one_line_error(out: subprocess.CompletedProcess, code: int) -> str:
    """The single stderr line of a refused command, without the program name."""
    assert out.returncode == code, (out.returncode, out.stdout, out.stderr)
    assert "Traceback" not in out.stderr
    lines = out.stderr.splitlines()
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("agentspace-tui: ")
    return lines[0].removeprefix("agentspace-tui: ")


# -- config.toml values ----------------------------------------------------------------------------------------
CONFIG_CASES = [
    # (config.toml text, the message after "<path>: ")
    ("request_timeout = -5", f"request_timeout = -5 {TIMEOUT_ALLOWED}"),
    ("request_timeout = 0", f"request_timeout = 0 {TIMEOUT_ALLOWED}"),
    ("request_timeout = nan", f"request_timeout = nan {TIMEOUT_ALLOWED}"),
    ("request_timeout = inf", f"request_timeout = inf {TIMEOUT_ALLOWED}"),
    ("request_timeout = 1e400", f"request_timeout = inf {TIMEOUT_ALLOWED}"),
    ("request_timeout = 3601", f"request_timeout = 3601 {TIMEOUT_ALLOWED}"),
    ('request_timeout = "30"', f'request_timeout = "30" {TIMEOUT_ALLOWED}'),
    ("request_timeout = true", f"request_timeout = true {TIMEOUT_ALLOWED}"),
    ("max_retries = 1e400", f"max_retries = inf {RETRIES_ALLOWED}"),
    ("max_retries = 2.7", f"max_retries = 2.7 {RETRIES_ALLOWED}"),
    ("max_retries = -1", f"max_retries = -1 {RETRIES_ALLOWED}"),
    ("max_retries = 11", f"max_retries = 11 {RETRIES_ALLOWED}"),
    ("max_retries = true", f"max_retries = true {RETRIES_ALLOWED}"),
    ('system_prompt = ["be brief", "be kind"]',
     'system_prompt = ["be brief", "be kind"] is not allowed: a string (""" for several lines; "" for none)'),
    ("default_model = 5", 'default_model = 5 is not allowed: a model id such as "openai:gpt-4o-mini"'),
    ('default_model = ""', 'default_model = "" is not allowed: a model id such as "openai:gpt-4o-mini"'),
    ('providers = "oops"', 'providers = "oops" is not allowed: [providers.NAME] tables'),
    ("[providers]\nlmstudio = 5", "providers.lmstudio = 5 is not allowed: a [providers.lmstudio] table"),
    ('[providers.lmstudio]\nkind = "openai"\napi_bse = "http://localhost:1234/v1"',
     "providers.lmstudio.api_bse is not a provider setting; use kind, label, api_base, api_key_env, models, "
     "context_window, local"),
    ('[providers.lmstudio]\nkind = "openai"\napi_base = "http://localhost:1234/v1"\nmax_retries = 2',
     "providers.lmstudio.max_retries is not a provider setting; use kind, label, api_base, api_key_env, models, "
     "context_window, local (max_retries is a top-level setting: in TOML it belongs above the first [table])"),
    ('[keybindings]\nquit = "f10"\nrequest_timeout = 30',
     "keybindings.request_timeout is not a binding id; use one of switch_model, toggle_inspector, sessions, "
     "new_session, cancel, copy_reply, copy_code, toggle_thinking, keys, quit, retry, focus_conversation, regenerate, params, usage, stats, tools (request_timeout is a "
     "top-level "
     "setting: in TOML it belongs above the first [table])"),
    ('[providers.lmstudio]\napi_base = "localhost:1234"',
     'providers.lmstudio.api_base = "localhost:1234" is not allowed: the endpoint\'s URL, such as '
     '"http://localhost:1234/v1"'),
    ('[providers.lmstudio]\napi_base = "http://localhost:1234/v1"\nkind = "grpc"',
     'providers.lmstudio.kind = "grpc" is not allowed: "openai" or "anthropic" or "ollama"'),
    ('[providers.openai]\ncontext_window = -1',
     "providers.openai.context_window = -1 is not allowed: a whole number of tokens from 1 to 100000000"),
    ('[providers.openai]\nmodels = "gpt-x"',
     'providers.openai.models = "gpt-x" is not allowed: a list of model names, such as ["qwen2.5-7b-instruct"]'),
    ('[providers.corp]\napi_base = "http://x/v1"\napi_key_env = "MY KEY"',
     'providers.corp.api_key_env = "MY KEY" is not allowed: the name of an environment variable, such as '
     '"MY_API_KEY"'),
    ('[providers.corp]\napi_base = "http://x/v1"\nlocal = "yes"',
     'providers.corp.local = "yes" is not allowed: true or false'),
    ('[keybindings]\nquit = "ctrl+qq"',
     f'keybindings.quit = "ctrl+qq" is not allowed: "qq" is not a key name; use Textual key names such as '
     f"{KEY_ALLOWED}"),
    ('[keybindings]\nswitch_model = "control+o"',
     'keybindings.switch_model = "control+o" is not allowed: "control" is not a modifier (alt, ctrl, hyper, meta, '
     "shift, super)"),
    ('[keybindings]\nswitch_model = "shift+ctrl+up"',
     'keybindings.switch_model = "shift+ctrl+up" is not allowed: Textual names it "ctrl+shift+up" (modifiers once '
     "each, in the order alt, ctrl, hyper, meta, shift, super)"),
    ('[keybindings]\nswitch_model = "F2"',
     f'keybindings.switch_model = "F2" is not allowed: "F2" is not a key name; use Textual key names such as '
     f"{KEY_ALLOWED}"),
    ('[keybindings]\nswitch_model = "f2,"',
     'keybindings.switch_model = "f2," is not allowed: an empty key name'),
    ("[keybindings]\nswitch_model = 2",
     f'keybindings.switch_model = 2 is not allowed: a key name such as {KEY_ALLOWED} (several: "f2,ctrl+o")'),
    ('[keybindings]\nfrobnicate = "f2"',
     "keybindings.frobnicate is not a binding id; use one of switch_model, toggle_inspector, sessions, "
     "new_session, cancel, copy_reply, copy_code, toggle_thinking, keys, quit, retry, focus_conversation, "
     "regenerate, params, usage, stats, tools"),
    ('[keybindings]\nnew_session = "ctrl+q"',
     'keybindings.new_session = "ctrl+q" is not allowed: ctrl+q is reserved: it always quits'),
    ('keybindings = "f2"', 'keybindings = "f2" is not allowed: a [keybindings] table of binding id = "key"'),
]


@pytest.mark.parametrize(("toml", "message"), CONFIG_CASES, ids=[c[0].replace("\n", " ") for c in CONFIG_CASES])
def test_bad_config_value_is_one_line_exit_3(home, toml, message):
    path = write_config(home, toml + "\n")
    assert one_line_error(run_cli(home, "usage"), 3) == f"{path}: {message}"


def test_bad_config_is_reported_before_the_full_screen_opens(home):
    path = write_config(home, '[keybindings]\nquit = "ctrl+qq"\n')
    out = run_cli(home, timeout=30)  # no command: the app
    assert one_line_error(out, 3).startswith(f'{path}: keybindings.quit = "ctrl+qq" is not allowed')
    assert out.stdout == ""


def test_bounds_and_key_names_that_are_fine(home):
    write_config(home, 'request_timeout = 3600\nmax_retries = 10\ndefault_model = "openai:gpt-4o-mini"\n'
                       'system_prompt = ""\n'
                       '[keybindings]\nquit = "f10"\nswitch_model = "f2, ctrl+shift+up"\nsessions = "alt+x"\n'
                       'copy_code = "?"\n'
                       '[providers.lmstudio]\nkind = "openai"\napi_base = "http://localhost:1234/v1"\nlocal = true\n'
                       'models = ["qwen2.5-7b-instruct"]\ncontext_window = 32768\n')
    out = run_cli(home, "usage")
    assert out.returncode == 0, out.stderr
    loaded = settings_mod.load_settings(home / "config" / "config.toml")
    assert loaded.request_timeout == 3600.0 and loaded.max_retries == 10 and loaded.system_prompt == ""
    assert loaded.keybindings == {"quit": "f10", "switch_model": "f2,ctrl+shift+up", "sessions": "alt+x",
                                  "copy_code": "?"}
    assert loaded.keymap()["quit"] == "f10,ctrl+q"  # quitting cannot be configured away
    assert loaded.providers["lmstudio"].context_window == 32768


# -- AGENTSPACE_HOME, stdin, prices ----------------------------------------------------------------------------
def test_agentspace_home_that_is_a_file(tmp_path, home):
    not_a_dir = tmp_path / "home-file"
    not_a_dir.write_text("oops")
    expected = f"AGENTSPACE_HOME={not_a_dir}: {not_a_dir} exists and is not a directory"
    assert one_line_error(run_cli(not_a_dir, "usage"), 3) == expected
    assert one_line_error(run_cli(not_a_dir, "ask", "hi"), 3) == expected
    assert one_line_error(run_cli(not_a_dir, timeout=30), 3) == expected  # the app


def test_ask_with_stdin_closed(home):
    env = cli_env(home)
    out = subprocess.run(["sh", "-c", 'exec "$0" -m agentspace_tui ask - <&-', sys.executable], capture_output=True,
                         text=True, env=env, cwd=str(ROOT), timeout=60)
    assert one_line_error(out, 2) == "no prompt: stdin is closed; give the prompt as an argument or pipe it in"
    out = subprocess.run(["sh", "-c", 'exec "$0" -m agentspace_tui ask <&-', sys.executable], capture_output=True,
                         text=True, env=env, cwd=str(ROOT), timeout=60)
    assert one_line_error(out, 2).startswith("no prompt given")


def test_ask_with_binary_stdin(home):
    out = subprocess.run([sys.executable, "-m", "agentspace_tui", "ask", "-"], input=b"\xff\xfe hello",
                         capture_output=True, env=cli_env(home), cwd=str(ROOT), timeout=60)
    out = subprocess.CompletedProcess(out.args, out.returncode, out.stdout.decode(), out.stderr.decode())
    assert one_line_error(out, 2) == "the prompt on stdin is not UTF-8 text"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--input", "1e308", "--output", "1"], f"--input 1e+308 {PRICE_ALLOWED}"),
        (["--input", "1e400", "--output", "1"], f"--input inf {PRICE_ALLOWED}"),
        (["--input", "nan", "--output", "1"], f"--input nan {PRICE_ALLOWED}"),
        (["--input", "1", "--output", "-0.5"], f"--output -0.5 {PRICE_ALLOWED}"),
        (["--input", "1", "--output", "100001"], f"--output 100001 {PRICE_ALLOWED}"),
        (["--input", "1", "--output", "2", "--cache-read", "inf"], f"--cache-read inf {PRICE_ALLOWED}"),
        (["--input", "1", "--output", "2", "--cache-write", "1e6"], f"--cache-write 1e+06 {PRICE_ALLOWED}"),
    ],
)
def test_pricing_set_refuses_prices_out_of_bounds(home, args, message):
    assert one_line_error(run_cli(home, "pricing", "set", "gpt-4o-mini", *args), 2) == message
    listed = run_cli(home, "pricing", "list", "--json")
    assert listed.returncode == 0 and listed.stdout.strip() == "[]"  # nothing stored


def test_pricing_set_at_the_bound_is_fine(home):
    out = run_cli(home, "pricing", "set", "gpt-4o-mini", "--input", "100000", "--output", "0")
    assert out.returncode == 0, out.stderr
    out = run_cli(home, "usage", "--json")
    assert out.returncode == 0, out.stderr


# -- quitting ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("key", ["ctrl+q", "f10"])
async def test_ctrl_q_still_quits_when_quit_is_remapped(home, llm, key):
    from agentspace_tui.ui.app import AgentspaceApp
    from tests.test_ui_app import SIZE, started, until

    write_config(home, '[keybindings]\nquit = "f10"\n')
    app = AgentspaceApp(check_providers=False, warm_litellm=False)

    async def run() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await started(pilot)
            await pilot.press(key)
            await until(lambda: app.return_code is not None, timeout=5, what=f"{key} to quit")

    await asyncio.wait_for(run(), timeout=60)
    assert app.return_code == 0


# -- the data copied from Textual and the app stays in step with them -------------------------------------------
def test_binding_ids_match_the_app():
    from agentspace_tui.ui.app import AgentspaceApp

    ids = [b.id for b in AgentspaceApp.BINDINGS if not isinstance(b, tuple) and b.id]
    assert sorted(ids) == sorted(settings_mod.BINDING_IDS) and len(ids) == len(set(ids))
    for binding in AgentspaceApp.BINDINGS:
        assert not isinstance(binding, tuple)
        for key in binding.key.split(","):
            assert settings_mod.key_problem(key) is None, key


def test_key_names_match_textual():
    from textual._keyboard_protocol import FUNCTIONAL_KEYS
    from textual.keys import KEY_ALIASES, Keys, _character_to_key

    names = {_character_to_key(chr(c)) for c in range(0x21, 0x7F)}
    names |= {k.value.rsplit("+", 1)[-1] for k in Keys if not k.value.startswith("<") and k.value != "ctrl-at"}
    names |= {a.rsplit("+", 1)[-1] for key, aliases in KEY_ALIASES.items() for a in (key, *aliases)}
    names |= set(FUNCTIONAL_KEYS.values())
    names = {n for n in names if len(n) > 1 or n.isalnum() and not n.isupper()}
    assert names == set(settings_mod.KEY_NAMES)


# -- permissions -------------------------------------------------------------------------------------------------
def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")


@posix_only
def test_new_home_and_its_folders_are_private(home):
    assert not home.exists()
    out = run_cli(home, "pricing", "set", "gpt-4o-mini", "--input", "1", "--output", "2")
    assert out.returncode == 0, out.stderr
    created = [home, *sorted(p for p in home.iterdir() if p.is_dir())]
    assert {p.name for p in created[1:]} >= {"config", "data"}
    assert {p.name: oct(mode(p)) for p in created} == {p.name: "0o700" for p in created}


@posix_only
def test_loose_folders_of_ours_are_tightened(home):
    for sub in ("config", "data", "cache", "logs"):
        (home / sub).mkdir(parents=True)
        (home / sub).chmod(0o775)
    home.chmod(0o755)
    assert run_cli(home, "usage").returncode == 0
    assert oct(mode(home)) == "0o700"  # it holds nothing but our folders: it is ours
    for sub in ("config", "data"):
        assert oct(mode(home / sub)) == "0o700", sub


@posix_only
def test_a_home_with_other_things_in_it_keeps_its_mode(home):
    home.mkdir()
    (home / "notes.txt").write_text("the user's own file")
    home.chmod(0o755)
    assert run_cli(home, "usage").returncode == 0
    assert oct(mode(home)) == "0o755"  # the user's folder: not ours to change
    assert oct(mode(home / "data")) == "0o700" and oct(mode(home / "config")) == "0o700"


@posix_only
def test_platform_folders_are_private(home, tmp_path):
    """Without AGENTSPACE_HOME: our agentspace-tui folders under the XDG ones are private, the XDG ones untouched."""
    xdg = {kind: tmp_path / f"xdg-{kind}" for kind in ("config", "data", "cache", "state")}
    for folder in xdg.values():
        folder.mkdir()
        folder.chmod(0o755)
    env = {f"XDG_{kind.upper()}_HOME": str(folder) for kind, folder in xdg.items()}
    out = run_cli(home, "usage", AGENTSPACE_HOME="", HOME=str(tmp_path / "userhome"), **env)
    assert out.returncode == 0, out.stderr
    assert not home.exists()
    for kind in ("config", "data"):
        assert oct(mode(xdg[kind] / "agentspace-tui")) == "0o700", kind
        assert oct(mode(xdg[kind])) == "0o755", kind
