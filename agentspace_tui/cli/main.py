"""``agentspace-tui``: parse the arguments, open the TUI or run a subcommand, turn errors into exit codes
(see exits.py)."""

from __future__ import annotations

import argparse
import contextlib
import io
import sys

from ..text_safety import for_terminal
from .exits import EXIT_BROKEN_PIPE, EXIT_CONFIG, EXIT_INTERRUPTED, CliError
from .parser import build_parser


def _run_command(args: argparse.Namespace) -> int:
    """The subcommand's module is imported only when it runs: startup stays light."""
    command: str = args.command
    if command == "ask":
        from .ask import cmd_ask

        return cmd_ask(args)
    if command == "sessions":
        from .sessions import cmd_sessions

        return cmd_sessions(args)
    if command == "models":
        from .reports import cmd_models

        return cmd_models(args)
    if command == "usage":
        from .reports import cmd_usage

        return cmd_usage(args)
    if command == "stats":
        from .stats import cmd_stats

        return cmd_stats(args)
    if command == "context":
        from .reports import cmd_context

        return cmd_context(args)
    if command == "keys":
        from .keys import cmd_keys

        return cmd_keys(args)
    if command == "budget":
        from .budget import cmd_budget

        return cmd_budget(args)
    if command == "pricing":
        from .pricing import cmd_pricing

        return cmd_pricing(args)
    if command == "tools":
        from .tools import cmd_tools

        return cmd_tools(args)
    raise CliError(f"unknown command {command!r}")


def _reconfigure_streams() -> None:
    for stream in (sys.stdout, sys.stderr):  # a locale that cannot show a character gets "?", not a traceback
        if isinstance(stream, io.TextIOWrapper):
            with contextlib.suppress(ValueError):
                stream.reconfigure(errors="replace")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _reconfigure_streams()
    from ..config.settings import ConfigError
    from ..services.chat import BusyError
    from ..services.core import NotFoundError
    from ..storage import StorageError
    from .app_services import forget_services, storage_warnings

    try:
        if args.command is None:
            from ..ui.run import run_app

            return run_app(model=args.model, session=args.session, cont=args.cont)
        try:
            return _run_command(args)
        finally:
            for warning in storage_warnings():
                print(f"agentspace-tui: warning: {for_terminal(warning)}", file=sys.stderr)
            forget_services()
    except CliError as exc:
        print(f"agentspace-tui: {for_terminal(str(exc))}", file=sys.stderr)
        return exc.code
    except (ConfigError, NotFoundError, BusyError, StorageError) as exc:
        print(f"agentspace-tui: {for_terminal(str(exc))}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        print("\nagentspace-tui: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. `sessions list | head -1`: the reader has what it wanted
        from .output import silence_stdout

        silence_stdout()
        return EXIT_BROKEN_PIPE
