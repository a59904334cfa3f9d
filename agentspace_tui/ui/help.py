"""/help and the title bar: text generated from the live bindings and the open conversation."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from rich.text import Text
from textual.binding import Binding

# what each remappable binding does, in the order /help lists them (keys come from the live bindings)
BINDING_HELP = {
    "switch_model": "switch model", "toggle_inspector": "toggle inspector", "sessions": "sessions",
    "new_session": "new session", "focus_conversation": "move into the conversation (Up/Down/j/k between messages)",
    "cancel": "cancel the streaming reply", "retry": "re-send a failed message",
    "regenerate": "answer the last message again", "params": "model parameters",
    "copy_reply": "copy last reply", "copy_code": "copy last code block", "keys": "providers and keys",
    "toggle_thinking": "show/hide the model's thinking (the newest reply's, or the focused one)",
    "usage": "usage: spend per day, model and provider, budgets", "stats": "provider stats: latency, speed, errors",
    "tools": "MCP tools of this chat",
    "quit": "quit",
}
HELP_FIXED = """\
Prompt: Enter send · Ctrl+J newline · Up/Down input history · PgUp/PgDn scroll · Tab moves focus · Ctrl+P palette
On a focused message: c copy · y copy a code block · d details · r regenerate · m retry with another model ·
e edit and resend · x delete from the context · [ ] other answers · Esc back to the prompt
Commands: {commands}
Keys can be remapped in config.toml under [keybindings] by binding id: {ids}."""

_KEY_NAMES = {"escape": "Esc", "pageup": "PgUp", "pagedown": "PgDn", "delete": "Del", "backspace": "Backspace"}


def key_label(key: str) -> str:
    """A Textual key name as people write it: ``ctrl+shift+up`` -> ``Ctrl+Shift+Up``, ``escape`` -> ``Esc``."""
    return "+".join(_KEY_NAMES.get(part, part.capitalize()) for part in key.strip().split("+"))


def bound_keys(bindings: Iterable[Binding | tuple[str, ...]], keymap: Mapping[str, str]) -> dict[str, list[str]]:
    """Binding id -> the keys it answers to now (``keymap`` from config.toml replaces the defaults)."""
    keys: dict[str, list[str]] = {}
    for binding in bindings:
        if isinstance(binding, Binding) and binding.id:  # "ctrl+up,alt+up" is one binding with two keys
            keys.setdefault(binding.id, []).extend(k.strip() for k in binding.key.split(","))
    for binding_id, remapped in keymap.items():
        keys[binding_id] = remapped.split(",")
    return keys


def help_text(keys: Mapping[str, list[str]], commands: Mapping[str, str]) -> str:
    shown = [
        f"{' / '.join(key_label(k) for k in keys[binding_id])} {what}"
        for binding_id, what in BINDING_HELP.items() if binding_id in keys
    ]
    listed = " · ".join(f"{name} {args}" for name, args in commands.items())
    return "Keys: " + " · ".join(shown) + "\n" + HELP_FIXED.format(commands=listed, ids=", ".join(BINDING_HELP))


BRAND, SEPARATOR, NO_KEY = "agentspace-tui", "  │  ", "  (no key: Ctrl+K)"


def title_bar_text(title: str, model: str, no_key: bool, width: int) -> Text:
    """The title bar within ``width`` cells: the app's name goes first, then the session title shrinks, and the
    model id (what the next message goes to) is the last thing dropped."""
    right = model + (NO_KEY if no_key else "")
    room = width - len(right)
    text = Text()
    if room >= len(BRAND) + 2 * len(SEPARATOR) + 12:
        text.append(BRAND, style="bold")
        text.append(SEPARATOR, style="dim")
        room -= len(BRAND) + len(SEPARATOR)
    if room >= len(SEPARATOR) + 4:
        shown = room - len(SEPARATOR)
        text.append(title if len(title) <= shown else title[: shown - 1] + "…")
        text.append(SEPARATOR, style="dim")
    elif no_key and width < len(right):  # not even the whole right side fits: keep the model, shorten the note
        right, no_key = model, False
    text.append(right if len(right) <= width else right[: max(1, width - 1)] + "…", style="bold")
    if no_key:  # still there: the whole right side fits
        text.stylize("bold red", len(text) - len(NO_KEY), len(text))
    return text
