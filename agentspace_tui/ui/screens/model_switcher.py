"""Model switcher: pick the model for the next request, with a fuzzy filter and per-model cost of that request.

Pure UI over its constructor arguments: no I/O, no litellm. Every row is a ``rich.text.Text`` built from parts
(markup never parsed), because model ids are untrusted text and may contain ``[``; ids and labels from the
config or a local server are shown with control characters made visible. A typed id is offered only when it
is a well-formed model id (``catalog.models.check_model_id``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from ...formatting import format_cost, format_tokens, one_line
from ...services.api import BUILTIN_PROVIDERS, ID_RULE, ModelError, check_model_id
from ...services.core import ModelChoice

CURRENT_MARK = "●"
_SEPARATORS = frozenset(":-/._ ")

# styles of the row parts (plain Rich styles: the rows are Text objects, not markup)
STYLE_ID = "bold"
STYLE_DIM = "dim"
STYLE_CURRENT = "bold green"
STYLE_KEY_OK = "green"
STYLE_NO_KEY = "yellow"
STYLE_UNKNOWN = "italic yellow"
STYLE_FREE = "cyan"
STYLE_WARN = "bold red"


# -- fuzzy matching ------------------------------------------------------------------------------------
def _term_score(term: str, hay: str) -> int | None:
    """Score of one lower-case term against a lower-case haystack; None when it is not a subsequence.

    A substring beats any scattered match; a substring starting at a word start (after ``:-/._``) and ending at
    the end or at a word end scores higher. Scattered matches earn points for contiguous runs and word starts
    and lose a little per skipped character.
    """
    best: int | None = None
    start = hay.find(term)
    while start != -1:
        score = 1000 + 20 * len(term)
        if start == 0 or hay[start - 1] in _SEPARATORS:
            score += 300
        end = start + len(term)
        if end == len(hay):
            score += 150
        elif hay[end] in _SEPARATORS:
            score += 50
        if best is None or score > best:
            best = score
        start = hay.find(term, start + 1)
    if best is not None:
        return best
    score = 0
    pos = 0
    prev = -2
    for ch in term:
        i = hay.find(ch, pos)
        if i < 0:
            return None
        gain = 10
        if i == prev + 1:
            gain += 15
        if i == 0 or hay[i - 1] in _SEPARATORS:
            gain += 20
        score += gain - min(i - pos, 10)
        prev = i
        pos = i + 1
    return score


def fuzzy_score(query: str, model_id: str, name: str | None = None) -> int | None:
    """Case-insensitive score of ``query`` (space-separated terms, all must match) against "provider:name"."""
    hay = model_id.lower()
    query = query.strip().lower()
    if not query:
        return 0
    total = 0
    for term in query.split():
        score = _term_score(term, hay)
        if score is None:
            return None
        total += score
    if query == hay or (name is not None and query == name.lower()):
        total += 5000
    return total


# -- row text ------------------------------------------------------------------------------------------
def _money(value: float) -> str:
    """$3, $0.60, $12.50, $0.075 (USD per Mtok)."""
    if value == int(value):
        return f"${int(value)}"
    if round(value, 2) == value:
        return f"${value:.2f}"
    if value < 0.01:
        return f"${value:.6f}".rstrip("0")
    return f"${value:g}"


def price_text(choice: ModelChoice) -> tuple[str, str]:
    """("$3/$15 per Mtok", style); unknown is never shown as $0."""
    price = choice.price
    if price is None:
        return "price unknown", STYLE_UNKNOWN
    if price.source == "local" or (choice.info.local and price.input_per_mtok == 0 and price.output_per_mtok == 0):
        return "free (local)", STYLE_FREE
    return f"{_money(price.input_per_mtok)}/{_money(price.output_per_mtok)} per Mtok", ""


def key_text(choice: ModelChoice) -> tuple[str, str]:
    if choice.info.local:
        return "local", STYLE_FREE
    if choice.key_configured:
        return "key ✓", STYLE_KEY_OK
    return "no key", STYLE_NO_KEY


def next_cost_text(choice: ModelChoice, cost: float | None) -> tuple[str, str]:
    if choice.price is None or cost is None:
        return "next: unknown", STYLE_UNKNOWN
    if cost == 0 and (choice.info.local or choice.price.source == "local"):
        return "next: free", STYLE_FREE
    return f"next ≈ {format_cost(cost)}", ""


def share_text(used_fraction: float | None, excluded: int) -> tuple[str, str] | None:
    """'12% of window' (warning style past 100% or when messages are left out); None when the window is unknown."""
    if used_fraction is None:
        return None
    pct = used_fraction * 100
    shown = "<1%" if 0 < pct < 1 else f"{pct:.0f}%"
    text = f"{shown} of window"
    warn = used_fraction > 1 or excluded > 0
    if excluded > 0:
        text += f", {excluded} msg{'s' if excluded != 1 else ''} left out"
    return text, STYLE_WARN if warn else ""


def provider_label(provider: str) -> str:
    spec = BUILTIN_PROVIDERS.get(provider)
    return spec.label if spec is not None else one_line(provider)


def row_text(
    choice: ModelChoice, estimate: tuple[float | None, float | None, int], *, current: bool,
    latency: float | None = None,
) -> Text:
    """Two lines: mark, id and provider; then window, prices, p50 time to first token (when known), key, next
    request cost and window share."""
    cost, fraction, excluded = estimate
    info = choice.info
    window = format_tokens(info.context_window) if info.context_window else "window ?"
    sep = (" · ", STYLE_DIM)
    parts: list[tuple[str, str] | str] = [
        (f"{CURRENT_MARK} " if current else "  ", STYLE_CURRENT),
        (one_line(info.id), STYLE_ID),
        ("  ", ""),
        (provider_label(info.provider), STYLE_DIM),
    ]
    if current:
        parts.append(("  (current)", STYLE_CURRENT))
    price = price_text(choice)
    details = [(window, STYLE_DIM if info.context_window else STYLE_UNKNOWN), price]
    if latency is not None:  # p50 time to first token, last 30 days (services/stats.py)
        details.append((f"TTFT p50 {latency:.2f} s", STYLE_DIM))
    if not (info.local and price[0] == "free (local)"):  # "free (local)" already says it needs no key
        details.append(key_text(choice))
    details.append(next_cost_text(choice, cost))
    share = share_text(fraction, excluded)
    if share is not None:
        details.append(share)
    parts.append("\n  ")
    for n, part in enumerate(details):
        if n:
            parts.append(sep)
        parts.append(part)
    return Text.assemble(*parts)


def custom_row_text(model_id: str) -> Text:
    return Text.assemble(
        ("+ ", STYLE_CURRENT),
        ("Use '", ""),
        (one_line(model_id), STYLE_ID),
        ("' as model id", ""),
        ("\n  not in the catalog: window and price unknown", STYLE_DIM),
    )


@dataclass
class _Row:
    model_id: str
    option: Option


# -- the screen ----------------------------------------------------------------------------------------
class ModelSwitcherScreen(ModalScreen[str | None]):
    """Choose the model for the next request. Dismisses with the model id, or None on Escape."""

    CSS_PATH = "model_switcher.tcss"

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", show=False),
        Binding("up", "move('cursor_up')", "Up", show=False),
        Binding("down", "move('cursor_down')", "Down", show=False),
        Binding("pageup", "move('page_up')", "Page up", show=False),
        Binding("pagedown", "move('page_down')", "Page down", show=False),
        Binding("ctrl+s", "compare", "Compare", show=False),  # the highlighted model also answers the next prompt
    ]

    def __init__(
        self,
        choices: list[ModelChoice],
        estimate: Callable[[ModelChoice], tuple[float | None, float | None, int]],
        current: str | None,
        heading: str = "Model for the next request",
        *,
        latency: Mapping[str, float] | None = None,
        load_latency: Callable[[], Mapping[str, float]] | None = None,
    ) -> None:
        """``latency``: p50 time to first token per model id as known; ``load_latency`` (blocking) reads it afresh"""
        super().__init__()
        self._heading = heading
        self._latency = dict(latency or {})
        self._load_latency = load_latency
        self._choices = list(choices)
        self._estimate = estimate
        self._current = current
        self._options: dict[int, Option] = {}  # built once per choice, reused across filter changes
        self._rows: list[_Row] = []
        self._default_order = self._initial_order()

    # -- ordering and filtering ------------------------------------------------------------------------
    def _initial_order(self) -> list[int]:
        """Current model first, then models whose provider has a key, then local ones, then the rest."""

        def group(i: int) -> int:
            choice = self._choices[i]
            if choice.info.id == self._current:
                return 0
            if choice.info.local:
                return 2
            if choice.key_configured:
                return 1
            return 3

        return sorted(range(len(self._choices)), key=lambda i: (group(i), i))

    def matching(self, query: str) -> list[int]:
        """Indexes into the choices for ``query``, best first (catalog order among equal scores)."""
        if not query.strip():
            return list(self._default_order)
        scored = []
        for i, choice in enumerate(self._choices):
            score = fuzzy_score(query, choice.info.id, choice.info.name)
            if score is not None:
                scored.append((-score, i))
        scored.sort()
        return [i for _, i in scored]

    def _option_for(self, index: int) -> Option:
        option = self._options.get(index)
        if option is None:
            choice = self._choices[index]
            current = choice.info.id == self._current
            option = Option(row_text(choice, self._estimate(choice), current=current,
                                     latency=self._latency.get(choice.info.id)))
            self._options[index] = option
        return option

    @staticmethod
    def custom_id(query: str, ids: set[str] | list[str]) -> str | None:
        """The filter text as a model id to use as is, when it looks like one and no row is exactly it."""
        text = query.strip()
        head, found, tail = text.partition(":")
        if not found or not head or not tail or any(c.isspace() for c in text):
            return None
        if ModelSwitcherScreen.invalid_id(text):  # "openai:[/]": refused here, not after Enter
            return None
        return None if text in ids else text

    @staticmethod
    def invalid_id(query: str) -> bool:
        """The filter text is meant as a model id (``provider:name``, no spaces) but is not a valid one."""
        text = query.strip()
        if ":" not in text or any(c.isspace() for c in text):
            return False
        try:
            check_model_id(text)
        except ModelError:
            return True
        return False

    # -- widgets ---------------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        with Vertical(id="switcher-dialog"):
            title = Text.assemble((self._heading, "bold"))
            if self._current:
                title.append("   current: ", style=STYLE_DIM)
                title.append(one_line(self._current), style=STYLE_CURRENT)
            yield Static(title, id="switcher-title")
            yield Input(placeholder="Filter models: provider, name…", id="switcher-filter")
            yield Static("", id="switcher-count")
            yield OptionList(id="switcher-list", markup=False)
            yield Static(
                Text("↑↓ move · Enter choose · Esc cancel · type provider:model to use any id", style=STYLE_DIM),
                id="switcher-hint",
            )

    def on_mount(self) -> None:
        self.query_one("#switcher-list", OptionList).can_focus = False
        self.refilter("")
        self.query_one("#switcher-filter", Input).focus()
        if self._load_latency is not None:
            self._read_latency(self._load_latency)

    @work(thread=True, group="switcher-latency", exit_on_error=False, description="read model latency")
    def _read_latency(self, load: Callable[[], Mapping[str, float]]) -> None:
        self.app.call_from_thread(self.show_latency, dict(load()))

    def show_latency(self, latency: Mapping[str, float]) -> None:
        """Rows with these p50 times to first token (the filter and the highlighted row stay)."""
        if dict(latency) != self._latency and self.is_mounted:
            self._latency, option_list = dict(latency), self.query_one("#switcher-list", OptionList)
            self._options.clear()
            highlighted = option_list.highlighted
            self.refilter(self.query_one("#switcher-filter", Input).value)
            if highlighted is not None and highlighted < len(self._rows):
                option_list.highlighted = highlighted

    @property
    def shown_ids(self) -> list[str]:
        """Model ids of the rows, top to bottom (a custom-id row gives the typed id)."""
        return [row.model_id for row in self._rows]

    def refilter(self, query: str) -> None:
        indexes = self.matching(query)
        rows = [_Row(self._choices[i].info.id, self._option_for(i)) for i in indexes]
        custom = self.custom_id(query, {row.model_id for row in rows})
        if custom is not None:
            rows.insert(0, _Row(custom, Option(custom_row_text(custom))))
        self._rows = rows
        option_list = self.query_one("#switcher-list", OptionList)
        option_list.set_options(row.option for row in rows)
        if rows:
            option_list.highlighted = 0
        count = f"{len(indexes)} of {len(self._choices)} models"
        if custom is not None:
            count += " · Enter uses the typed id"
        elif self.invalid_id(query):
            count += f" · not a valid model id: {ID_RULE}"
        self.query_one("#switcher-count", Static).update(Text(count), layout=False)  # fixed height: no relayout

    # -- events and actions ----------------------------------------------------------------------------
    @on(Input.Changed, "#switcher-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.refilter(event.value)

    @on(Input.Submitted, "#switcher-filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._pick(self.query_one("#switcher-list", OptionList).highlighted)

    @on(OptionList.OptionSelected, "#switcher-list")
    def _option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self._pick(event.option_index)

    def _pick(self, index: int | None) -> None:
        if index is None or not 0 <= index < len(self._rows):
            self.app.bell()
            return
        self.dismiss(self._rows[index].model_id)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_move(self, action: str) -> None:
        getattr(self.query_one("#switcher-list", OptionList), f"action_{action}")()

    def action_compare(self) -> None:  # Ctrl+S: /compare with the highlighted model (ui/compare_flow.py)
        index = self.query_one("#switcher-list", OptionList).highlighted
        if index is not None and 0 <= index < len(self._rows):
            self.dismiss(None)
            self.app.run_slash_command(f"/compare {self._rows[index].model_id}")  # type: ignore[attr-defined]
