"""The command line: the TUI (no subcommand) and scriptable subcommands over the same services.

``main`` (main.py) parses and dispatches; each subcommand lives in its own module (ask, sessions, reports,
keys, pricing). Exit codes are in exits.py.
"""

from .main import main

__all__ = ["main"]
