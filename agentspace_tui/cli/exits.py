"""Exit codes of the command line, and the error that carries one.

0 success, 2 bad arguments, 3 configuration (missing key, unknown model or session), 4 provider or network
failure (including an interrupted stream), 5 refused by a spending control (a budget is used up, or the
forecast is above confirm_above: --over-budget / --yes send anyway), 130 interrupted by Ctrl-C, 128+N stopped by signal N (143 SIGTERM,
129 SIGHUP; the partial reply is saved either way), 141 the reader of stdout went away (the whole reply is
still saved).
"""

from __future__ import annotations

EXIT_OK, EXIT_USAGE, EXIT_CONFIG, EXIT_PROVIDER, EXIT_INTERRUPTED, EXIT_BROKEN_PIPE = 0, 2, 3, 4, 130, 141
EXIT_REFUSED = 5


class CliError(Exception):
    """A one-line message for stderr, and the exit code to end with."""

    def __init__(self, message: str, code: int = EXIT_CONFIG) -> None:
        super().__init__(message)
        self.code = code
