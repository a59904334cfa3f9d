"""Start the full-screen app (``agentspace-tui`` with no subcommand)."""

from __future__ import annotations

import sys
from typing import Any, TextIO


class _HangupTolerant:
    """The terminal stream, minus the failure of a closed terminal.

    Once the terminal window is closed every write fails (EIO). Textual's output thread dies on the first
    such error and the app then blocks forever on its full output queue while exiting, so the SIGHUP save
    could never finish. Writes to a terminal that is gone are dropped instead.
    """

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self.gone = False

    def write(self, text: str) -> int:
        if not self.gone:
            try:
                self._stream.write(text)
            except OSError:
                self.gone = True
        return len(text)

    def flush(self) -> None:
        if not self.gone:
            try:
                self._stream.flush()
            except OSError:
                self.gone = True

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def run_app(model: str | None = None, session: str | None = None, cont: bool = False) -> int:
    from ..services.api import ConfigError, load_settings

    try:
        load_settings()  # a broken config.toml is reported here, in one line, not inside the full screen
    except ConfigError as exc:
        print(f"agentspace-tui: {exc}", file=sys.stderr)
        return 3
    from .app import AgentspaceApp

    app = AgentspaceApp(model=model, session=session, cont=cont)
    terminal = sys.__stderr__  # where Textual's Linux driver writes the screen
    if terminal is not None:
        setattr(sys, "__stderr__", _HangupTolerant(terminal))  # noqa: B010 - the name is Final to type checkers
    try:
        app.run()
    finally:
        setattr(sys, "__stderr__", terminal)  # noqa: B010
    return app.return_code or 0
