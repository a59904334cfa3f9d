"""Preferences remembered between runs, provider keys, and the empty chat's onboarding panel."""

from __future__ import annotations

from textual import work

from .app_base import AppBase
from .help import bound_keys, key_label
from .messages import KeysChecked, NoKeys


class SetupFlow(AppBase):
    _start_model: str | None

    def __init__(self) -> None:
        super().__init__()
        self._inspector_forced: bool | None = None  # set once the user toggles the sidebar

    def _apply_preferences(self, prefs: dict) -> None:
        """What the last run remembered: theme and whether the inspector was shown (values checked, not trusted)."""
        theme = prefs.get("theme")
        if isinstance(theme, str) and theme in self.available_themes:
            self.theme = theme
        shown = prefs.get("inspector")
        if isinstance(shown, bool):
            self._inspector_forced = shown
            self.main_screen.sidebar.display = shown
        self.watch(self, "theme", self._theme_changed, init=False)

    def _theme_changed(self, theme: str) -> None:
        self.remember(theme=theme)

    def remember(self, **values: object) -> None:
        self._save_preferences(values)

    @work(thread=True, group="prefs", exit_on_error=False, description="save preferences")
    def _save_preferences(self, values: dict[str, object]) -> None:
        self.core_services.store.set_preferences(**values)

    def _show_onboarding(self) -> None:
        """The empty chat's panel: the keys that matter and the current model's price and window."""
        from ..formatting import format_window

        conversation = self.chat_session
        model = conversation.model
        price = self.core_services.price_for(model)
        price_text = ("price unknown" if price is None else
                      f"${price.input_per_mtok:g} in / ${price.output_per_mtok:g} out per Mtok")
        keys = bound_keys(self.BINDINGS, self.core_services.settings.keymap())
        shown = [("Enter", "send"), ("Ctrl+J", "newline")] + [
            (" / ".join(key_label(k) for k in keys[bid]), what) for bid, what in (
                ("switch_model", "model"), ("sessions", "sessions"), ("toggle_inspector", "inspector"),
                ("focus_conversation", "messages"), ("params", "parameters"),
            ) if bid in keys
        ] + [("/help", "all keys and commands")]
        self.main_screen.conversation.set_onboarding(model.id, price_text, format_window(model.context_window), shown)

    @work(thread=True, group="providers", exclusive=True, exit_on_error=False, description="check providers")
    def _check_usable(self) -> None:
        """No key anywhere: a machine with Ollama starts on a local model; one without opens the keys screen."""
        services = self.core_services
        if any(s.has_key for s in services.provider_statuses()):
            return
        models = services.catalog.discover_ollama(timeout=1.0)
        model = self.model
        chosen = self._start_model is not None or (self.session.get("model") if self.session else None) is not None
        if not models:
            self.post_message(NoKeys(None, model))
        elif model is not None and not chosen and not services.key_configured(model.provider):
            self.post_message(NoKeys(f"ollama:{models[0].name}", model))

    def on_no_keys(self, message: NoKeys) -> None:
        if message.local_model is None:
            self.action_keys(first_run=True)
            return
        if self.model is not message.instead_of:  # the user chose a model meanwhile
            return
        if self.set_model(message.local_model):
            self.notice(f"no API key is set, so this chat uses the local model {self.active_model.id} found in "
                        "Ollama; Ctrl+O chooses another, Ctrl+K sets keys")

    def action_keys(self, first_run: bool = False) -> None:
        from .screens.first_run import KeysScreen

        if self.services is None:  # Ctrl+K during the first moments, before the startup worker has run
            self.notify("still opening the session…", severity="warning")
            return
        def closed(_result: object) -> None:
            self._refresh_keys()

        self.push_screen(KeysScreen(self.services, first_run=first_run), closed)

    @work(thread=True, group="keys", exclusive=True, exit_on_error=False, description="check keys")
    def _refresh_keys(self) -> None:
        services = self.core_services
        services.forget_keys()
        for provider in services.settings.providers:
            services.key_for(provider)
        self.post_message(KeysChecked())

    def on_keys_checked(self, _message: KeysChecked) -> None:
        self.update_title()

