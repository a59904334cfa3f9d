"""Where agentspace-tui keeps its files.

platformdirs decides by default; ``AGENTSPACE_HOME=DIR`` puts config, data, cache and logs under DIR
(tests and portable installs use it). Each function makes its folder and returns the path.
"""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "agentspace-tui"
HOME_ENV = "AGENTSPACE_HOME"


def _home() -> Path | None:
    value = os.environ.get(HOME_ENV, "").strip()
    return Path(value).expanduser() if value else None


def _ensure(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _dir(kind: str) -> Path:
    """``kind`` is one of config, data, cache, log: DIR/<kind> under AGENTSPACE_HOME, else platformdirs'."""
    home = _home()
    if home:
        return _ensure(home / ("logs" if kind == "log" else kind))
    import platformdirs

    return _ensure(Path(getattr(platformdirs, f"user_{kind}_dir")(APP_NAME, appauthor=False)))


def config_dir() -> Path:
    return _dir("config")


def data_dir() -> Path:
    return _dir("data")


def cache_dir() -> Path:
    return _dir("cache")


def log_dir() -> Path:
    return _dir("log")


def config_file() -> Path:
    return config_dir() / "config.toml"
