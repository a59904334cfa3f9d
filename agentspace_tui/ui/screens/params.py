"""Model parameters of the session: temperature, top-p and max output tokens, in a small dialog.

``ParamsScreen`` dismisses with the new ``ModelParams`` (Enter or Ctrl+S, once every field is valid) or None
(Escape). An empty field means the provider's default: the parameter is not sent. Each field's error is the
one-line ``ParamError`` from ``services.params``, shown under it as it is typed; max output tokens above the
model's own limit (when the catalog knows it) is refused too. Everything shown is ``rich.text.Text``.
"""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from ...formatting import format_tokens, one_line
from ...services.params import FIELDS, ModelParams, ParamError, check_for_model

TITLE = "Model parameters"
KEYS = "Tab next · Enter/Ctrl+S save · Esc cancel · empty = provider default"
FIELD_LABELS = {
    "temperature": ("Temperature", "0 to 2; lower is more deterministic"),
    "top_p": ("Top-p", "above 0, up to 1"),
    "max_tokens": ("Max output tokens", "a whole number; also bounds the cost forecast"),
}
DEFAULT_PLACEHOLDER = "provider default"


def field_label(name: str, max_output: int | None) -> Text:
    label, hint = FIELD_LABELS[name]
    text = Text(label, style="bold")
    if name == "max_tokens" and max_output is not None:
        hint = f"a whole number, up to {format_tokens(max_output)} for this model"
    text.append(f"  {hint}", style="dim")
    return text


class ParamsScreen(ModalScreen[ModelParams | None]):
    """Edit the session's model parameters. Dismisses with the new ModelParams, or None on Escape."""

    CSS_PATH = "params.tcss"
    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "save", "Save"),
    ]

    def __init__(self, params: ModelParams, model_id: str, max_output: int | None) -> None:
        super().__init__()
        self.params = params
        self.model_id = model_id
        self.max_output = max_output

    def compose(self) -> ComposeResult:
        with Vertical(id="params-dialog"):
            yield Static(Text(TITLE, style="bold"), id="params-title")
            yield Static(Text(f"for {one_line(self.model_id)}", style="dim"), id="params-model")
            for name in FIELDS:
                yield Static(field_label(name, self.max_output), classes="params-label")
                yield Input(self.params.text(name), placeholder=DEFAULT_PLACEHOLDER, id=f"params-{name}", compact=True)
                yield Static(Text(""), id=f"params-error-{name}", classes="params-error")
            with Horizontal(id="params-buttons"):
                yield Button("Save", id="params-save", variant="primary", compact=True)
                yield Button("Reset to defaults", id="params-reset", compact=True)
                yield Button("Cancel", id="params-cancel", compact=True)
            yield Static(Text(KEYS, style="dim"), id="params-keys")

    def on_mount(self) -> None:
        self.query_one(f"#params-{FIELDS[0]}", Input).focus()

    def _input(self, name: str) -> Input:
        return self.query_one(f"#params-{name}", Input)

    def _show_error(self, name: str, message: str) -> None:
        error = self.query_one(f"#params-error-{name}", Static)
        error.update(Text(one_line(message)))
        error.set_class(bool(message), "shown")

    def _field_error(self, name: str, params: ModelParams) -> tuple[ModelParams, str]:
        """``params`` with field ``name`` set from its input, and that field's error ("" when none)."""
        try:
            params = params.with_value(name, self._input(name).value)
            if name == "max_tokens":
                check_for_model(params, self.max_output)
        except ParamError as exc:
            return params, str(exc)
        return params, ""

    def collect(self) -> ModelParams | None:
        """The parameters the fields say, or None after showing each invalid field's error."""
        params = ModelParams()
        first_bad: str | None = None
        for name in FIELDS:
            params, message = self._field_error(name, params)
            self._show_error(name, message)
            if message and first_bad is None:
                first_bad = name
        if first_bad is not None:
            self._input(first_bad).focus()
            return None
        return params

    @on(Input.Changed)
    def _validate_field(self, event: Input.Changed) -> None:
        name = (event.input.id or "").removeprefix("params-")
        if name in FIELDS:
            self._show_error(name, self._field_error(name, ModelParams())[1])

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_save()

    @on(Button.Pressed, "#params-save")
    def _save_pressed(self) -> None:
        self.action_save()

    @on(Button.Pressed, "#params-reset")
    def _reset_pressed(self) -> None:
        """Empties every field (provider defaults); saving keeps that, Escape still cancels."""
        for name in FIELDS:
            self._input(name).value = ""
            self._show_error(name, "")
        self._input(FIELDS[0]).focus()

    @on(Button.Pressed, "#params-cancel")
    def _cancel_pressed(self) -> None:
        self.action_cancel()

    def action_save(self) -> None:
        params = self.collect()
        if params is not None:
            self.dismiss(params)

    def action_cancel(self) -> None:
        self.dismiss(None)
