"""Start the full-screen app (``agentspace-tui`` with no subcommand)."""

from __future__ import annotations


def run_app(model: str | None = None, session: str | None = None, cont: bool = False) -> int:
    from .app import AgentspaceApp

    app = AgentspaceApp(model=model, session=session, cont=cont)
    app.run()
    return app.return_code or 0
