"""Preferences the app remembers between runs (theme, inspector shown, last model): one small file.

``preferences.json`` holds one ``prefs`` document of JSON values. Unknown keys are kept as they are; a value
that does not fit what the app expects is ignored by the app, never trusted.
"""

from __future__ import annotations

from typing import Any

from .files import StoreFiles
from .records import clone

PREFS_DOC = 1


class PreferencesMixin(StoreFiles):
    def preferences(self) -> dict[str, Any]:
        with self._reading():
            stored = self._rows(self._prefs, "prefs").get(str(PREFS_DOC)) or {}
            return {k: clone(v) for k, v in stored.items() if v is not None}

    def set_preferences(self, **values: Any) -> dict[str, Any]:
        """Set some preferences (``None`` forgets one: stored as null, which reads as absent); returns them all."""
        with self._writing(self._prefs):
            self._put(self._prefs, "prefs", PREFS_DOC, clone(values))
        return self.preferences()
