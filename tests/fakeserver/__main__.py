"""``python -m tests.fakeserver --port 8765 [--chunks N] [--delay S] [--hostile] [--stall-after N --stall-seconds S]
[--quiet]``: run the fake server."""

from __future__ import annotations

from .server import main

raise SystemExit(main())
