"""Start the full-screen app (``agentspace-tui`` with no subcommand)."""

from __future__ import annotations

import sys


def run_app(model: str | None = None, session: str | None = None, cont: bool = False) -> int:
    from ..config.settings import ConfigError, load_settings

    try:
        load_settings()  # a broken config.toml is reported here, in one line, not inside the full screen
    except ConfigError as exc:
        print(f"agentspace-tui: {exc}", file=sys.stderr)
        return 3
    from .app import AgentspaceApp

    app = AgentspaceApp(model=model, session=session, cont=cont)
    app.run()
    return app.return_code or 0
