"""``agentspace-tui sessions``: list, show, export, rename and delete sessions."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..formatting import format_cost, format_time, one_line, table
from ..text_safety import for_terminal
from .app_services import open_services
from .exits import EXIT_OK, EXIT_USAGE, CliError
from .output import print_json


def session_row(s: Mapping[str, Any]) -> dict[str, Any]:
    """A session as ``sessions list --json`` shows it."""
    return {
        "id": s["id"],
        "title": s.get("title"),
        "model": s.get("model"),
        "created_at": s.get("created_at"),
        "updated_at": s.get("updated_at"),
        "messages": s.get("messages", 0),
        "cost": s.get("cost"),
        "cost_estimated": bool(s.get("estimated")),  # some of it was counted locally, not reported
        "cache_savings": s.get("cache_savings"),  # USD prompt caching saved against the uncached input price
    }


def cmd_sessions(args: argparse.Namespace) -> int:
    from ..services.export import to_json, to_markdown

    services = open_services()
    store = services.store
    if args.action == "list":
        sessions = [session_row(s) for s in store.list_sessions()]
        if args.json:
            print_json(sessions)
        elif not sessions:
            print("no sessions yet: start one with `agentspace-tui ask \"...\"` or `agentspace-tui`")
        else:
            rows = [
                [s["id"], (s["title"] or "")[:40], s["model"] or "-", format_time(s["updated_at"]), str(s["messages"]),
                 format_cost(s["cost"]) + (" (est.)" if s["cost_estimated"] else "")]
                for s in sessions
            ]
            print(table(["id", "title", "model", "updated", "msgs", "cost"], rows, right={4, 5}))
        return EXIT_OK
    session = services.session(args.id)
    if args.action == "show":
        print(to_markdown(session, services.messages(session["id"])), end="")
    elif args.action == "export":
        messages = services.messages(session["id"])
        text = to_markdown(session, messages) if args.format == "md" else to_json(session, messages) + "\n"
        if args.output:
            _export_to_file(session["id"], args.output, text, replace=args.force)
        else:
            sys.stdout.write(text)
    elif args.action == "rename":
        title: str = args.title.strip()
        if not title:
            raise CliError("a title cannot be empty", EXIT_USAGE)
        store.update_session(session["id"], title=title)
        print(f"renamed {session['id']} to {title!r}")
    elif args.action == "delete":
        store.delete_session(session["id"])
        print(f"deleted {session['id']} ({one_line(session.get('title') or '')}); its spending stays in "
              "`agentspace-tui usage`")
    return EXIT_OK


def _export_to_file(session_id: str, output: str, text: str, *, replace: bool) -> None:
    from ..services.export_file import ExportError, ExportExists, write_export

    try:
        write_export(Path(output), text, replace=replace)
    except ExportExists as exc:
        raise CliError(f"{for_terminal(str(exc))}: add --force to replace it", EXIT_USAGE) from None
    except ExportError as exc:
        raise CliError(for_terminal(str(exc))) from None
    print(f"exported {session_id} to {for_terminal(output)}", file=sys.stderr)
