"""Providers and API keys: shown on first run when no provider is usable, and later from a command.

``KeysScreen`` lists every provider with where its key comes from (env var, keyring, missing, not needed) and
the Ollama models found. Enter on a provider opens a masked input; the key goes to the system keyring via
``config.keys.set_key`` in a thread worker and is cleared from the input at once: it is never displayed,
logged, or kept in a widget. Dismisses True ("Continue") once a provider is usable, False on Escape.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import events, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option
from textual.worker import Worker, WorkerState

from ...formatting import one_line
from ...services.api import ProviderStatus, keystore
from ...services.core import Services
from ...text_safety import for_terminal

CONTINUE_ID = "__continue__"
INTRO = "agentspace-tui needs one provider: paste an API key, set an env var, or start Ollama."
LIST_KEYS = "↑↓ choose · Enter paste a key / continue · r recheck · c continue · Esc back"
ENTRY_KEYS = "Paste the key, Enter store · Esc cancel"
OLLAMA_PREFIX = "ollama_chat"


@dataclass(frozen=True)
class ProviderRow:
    """One provider as the screen shows it (never the key itself)."""

    status: ProviderStatus
    usable: bool
    ollama: bool
    url: str | None  # the Ollama URL (for "not running at ...")

    @property
    def name(self) -> str:
        return self.status.name

    def describe(self) -> str:
        status = self.status
        kind = status.key_kind
        if kind == "env":
            return f"{status.key_from_env} set"
        if kind == "keyring":
            return "key in the system keyring"
        if kind == "session":
            return "key for this session only (in memory)"
        if self.ollama:
            if status.models:
                n = len(status.models)
                return f"{n} model{'' if n == 1 else 's'}: {', '.join(status.models)}"
            return f"Ollama not running at {self.url} — start `ollama serve`, then press r"
        if kind == "not needed":
            return "local endpoint, no key needed"
        env = status.key_env or f"{status.name.upper()}_API_KEY"
        return f"no key — set {env} or press Enter to paste one"

    def prompt(self) -> Text:
        line = Text()
        line.append("✓ " if self.usable else "✗ ", style="bold green" if self.usable else "bold red")
        line.append(f"{one_line(self.status.label):<18}", style="bold")  # labels (config), model names (Ollama)
        line.append(" ")
        line.append(one_line(self.describe()), style="" if self.usable else "dim")
        return line


def provider_rows(services: Services, statuses: list[ProviderStatus]) -> list[ProviderRow]:
    rows = []
    for status in statuses:
        spec = services.provider(status.name)
        ollama = spec.litellm_prefix == OLLAMA_PREFIX
        usable = (
            status.has_key
            or (ollama and bool(status.models))
            or (status.key_kind == "not needed" and not ollama and spec.custom)  # a configured keyless endpoint
        )
        rows.append(ProviderRow(status, usable, ollama, services.api_base(status.name) if ollama else None))
    return rows


class ProviderList(OptionList):
    """The providers, then "Continue →". Its single-letter keys act only while it has focus."""

    BINDINGS = [
        Binding("c", "screen.continue", "Continue"),
        Binding("r", "screen.recheck", "Recheck"),
    ]


class KeyInput(Input):
    """The masked key input. Escape cancels the entry (and clears it) instead of closing the screen."""

    BINDINGS = [Binding("escape", "screen.cancel_entry", "Cancel", show=False)]


class KeysScreen(ModalScreen[bool]):
    """Providers and keys. Dismisses True on Continue (a provider is usable), False on Escape.

    Keyring reads and writes run in thread workers, which report with ``Checked`` and ``KeyStored``."""

    @dataclass
    class Checked(Message):
        rows: list[ProviderRow]
        keyring_ok: bool
        reason: str
        message: str | None
        highlight: str | None

    @dataclass
    class KeyStored(Message):
        message: str
        ok: bool

    CSS_PATH = "first_run.tcss"
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("ctrl+enter", "continue", "Continue", show=False),
    ]

    def __init__(self, services: Services, first_run: bool = True) -> None:
        super().__init__()
        self.services = services
        self.first_run = first_run
        self.rows: list[ProviderRow] = []
        self.loaded = False  # True once statuses arrived (tests and callers may poll it)
        self.busy = False  # a key is being stored
        self.keyring_ok = True  # until the check says otherwise; without one, pasted keys live in memory only
        self._entry_provider: str | None = None

    @property
    def usable(self) -> bool:
        return any(row.usable for row in self.rows)

    # -- layout -----------------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        title = "Welcome to agentspace-tui" if self.first_run else "Providers and API keys"
        with Vertical(id="keys-dialog"):
            yield Static(title, id="keys-title", markup=False)
            yield Static(INTRO, id="keys-intro", markup=False)
            yield Static("Checking providers and looking for Ollama…", id="keys-keyring", markup=False)
            yield ProviderList(id="keys-list")
            with Vertical(id="keys-entry"):
                yield Static("", id="keys-entry-label", markup=False)
                yield KeyInput(password=True, placeholder="API key", id="keys-input")
            yield Static("", id="keys-message", markup=False)
            yield Static(LIST_KEYS, id="keys-hint", markup=False)

    def on_mount(self) -> None:
        self.query_one("#keys-entry").display = False
        self.query_one(ProviderList).focus()
        self._check(discover=True)

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        hint = ENTRY_KEYS if isinstance(event.widget, Input) else LIST_KEYS
        self.query_one("#keys-hint", Static).update(hint)

    # -- statuses -----------------------------------------------------------------------------------------
    @work(thread=True, group="keys-status", exclusive=True, exit_on_error=False, description="check providers")
    def _check(self, discover: bool, message: str | None = None, highlight: str | None = None) -> None:
        services = self.services
        if discover:
            services.catalog.discover_ollama(timeout=1.0)
        services.forget_keys()
        ok, reason = keystore.keyring_available()
        rows = provider_rows(services, services.provider_statuses())
        self.post_message(self.Checked(rows, ok, reason, message, highlight))

    def on_keys_screen_checked(self, checked: KeysScreen.Checked) -> None:
        rows, keyring_ok, reason = checked.rows, checked.keyring_ok, checked.reason
        message, highlight = checked.message, checked.highlight
        self.loaded = True
        self.keyring_ok = keyring_ok
        option_list = self.query_one(ProviderList)
        keep = highlight
        if keep is None and option_list.highlighted_option is not None:
            keep = option_list.highlighted_option.id
        self.rows = rows
        options: list[Option | None] = [Option(row.prompt(), id=row.name) for row in rows]
        options += [None, Option(Text("  Continue →", style="bold"), id=CONTINUE_ID)]  # None: a separator
        option_list.set_options(options)
        ids = [o.id for o in option_list.options]
        if keep in ids:
            option_list.highlighted = ids.index(keep)
        else:  # first time: the first provider still missing a key, else Continue
            first = next((i for i, row in enumerate(rows) if not row.usable and not row.ollama), None)
            option_list.highlighted = len(ids) - 1 if self.usable or first is None else first
        note = (
            f"Keys you paste are stored in the system keyring ({reason}), never in a file."
            if keyring_ok
            else f"No system keyring on this machine ({reason}): a key you paste is used for this session only "
            "(kept in memory, never written); set the provider's env var to keep it."
        )
        self.query_one("#keys-keyring", Static).update(for_terminal(note))
        if message is not None:
            self._set_message(message)

    def _set_message(self, text: str, *, error: bool = False) -> None:
        widget = self.query_one("#keys-message", Static)
        widget.update(for_terminal(text))
        widget.set_class(error, "error")

    def _row(self, name: str | None) -> ProviderRow | None:
        return next((row for row in self.rows if row.name == name), None)

    # -- choosing a provider ---------------------------------------------------------------------------------
    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id == CONTINUE_ID:
            self.action_continue()
            return
        row = self._row(event.option.id)
        if row is None:
            return
        if row.ollama:
            self._set_message(f"Looking for Ollama at {row.url}…")
            self._check(discover=True, message=None, highlight=row.name)
            return
        if row.status.key_kind == "not needed":
            self._set_message(f"{row.status.label} needs no key.")
            return
        self._open_entry(row)

    def _open_entry(self, row: ProviderRow) -> None:
        status = row.status
        env = status.key_env or f"{status.name.upper()}_API_KEY"
        where = "stored in the system keyring" if self.keyring_ok else "used for this session only, kept in memory"
        label = f"Paste the {status.label} API key ({where}; or set {env} instead)."
        if status.key_kind == "env":
            label += f" {status.key_from_env} is set and takes precedence over the keyring."
        self._entry_provider = status.name
        self.query_one("#keys-entry-label", Static).update(for_terminal(label))
        self.query_one("#keys-entry").display = True
        key_input = self.query_one("#keys-input", Input)
        key_input.value = ""
        key_input.focus()

    def _close_entry(self) -> None:
        key_input = self.query_one("#keys-input", Input)
        key_input.value = ""
        self._entry_provider = None
        self.query_one("#keys-entry").display = False
        self.query_one(ProviderList).focus()

    def action_cancel_entry(self) -> None:
        self._close_entry()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        name = self._entry_provider
        value = event.input.value
        # Take the key out of the widget before anything else happens to it.
        event.input.value = ""
        self._close_entry()
        if name is None:
            return
        if not value.strip():
            self._set_message("Nothing pasted: no key stored.", error=True)
            return
        self.busy = True
        self._set_message("Storing the key…")
        self._store_key(name, value)
        del value

    @work(thread=True, group="keys-store", exit_on_error=False, description="store the key")
    def _store_key(self, name: str, value: str) -> None:
        spec = self.services.provider(name)
        try:
            if self.keyring_ok:
                keystore.set_key(spec, value)
                done = f"Stored the {spec.label} key in the system keyring."
            else:  # nowhere safe to keep it: this run only
                self.services.use_key_for_session(name, value)
                done = f"Using the {spec.label} key for this session only (in memory, never written)."
        except keystore.KeyStoreError as exc:
            self.post_message(self.KeyStored(str(exc), ok=False))
            return
        finally:
            del value
        self.services.forget_keys()
        self.post_message(self.KeyStored(done, ok=True))

    def on_keys_screen_key_stored(self, stored: KeysScreen.KeyStored) -> None:
        self.busy = False
        if not stored.ok:
            self._set_message(stored.message, error=True)
        else:
            self._check(discover=False, message=stored.message, highlight=CONTINUE_ID)


    # -- leaving ----------------------------------------------------------------------------------------------
    def action_recheck(self) -> None:
        self._set_message("Checking providers and looking for Ollama…")
        self._check(discover=True, message="Checked again.")

    def action_continue(self) -> None:
        if not self.loaded:
            self._set_message("Still checking providers…")
            return
        if self.usable:
            self.dismiss(True)
            return
        ollama = next((row for row in self.rows if row.ollama), None)
        where = f" at {ollama.url}" if ollama and ollama.url else ""
        self._set_message(
            "No provider is usable yet: press Enter on a provider to paste its key, set its env var "
            f"(e.g. OPENAI_API_KEY) and restart, or start Ollama{where} and press r.",
            error=True,
        )

    def action_back(self) -> None:
        if self.query_one("#keys-entry").display:
            self._close_entry()
            return
        self.dismiss(False)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            self.busy = False
            error = event.worker.error
            self._set_message(f"Could not {event.worker.description}: {type(error).__name__}: {error}", error=True)
