"""Where agentspace-tui keeps its files.

platformdirs decides by default; ``AGENTSPACE_HOME=DIR`` puts config, data, cache and logs under DIR
(tests and portable installs use it). Each function makes its folder and returns the path.

Permissions: the files hold conversations and spending, so our folders are private (0700, files are 0600).
A folder of ours is made 0700, and one that exists with group or other permission bits (made by an older
version, or under a loose umask) is tightened back to 0700. "Ours" means:

* under ``AGENTSPACE_HOME``: its config/, data/, cache/ and logs/; ``AGENTSPACE_HOME`` itself only when we
  create it, or when it holds nothing but those four (an existing home of ours). A DIR that holds anything else
  is the user's folder (``AGENTSPACE_HOME=~`` or a shared project folder) and its mode is theirs to choose; our
  subfolders in it are private either way.
* under platformdirs: the folders from the one named ``agentspace-tui`` down (``~/.config/agentspace-tui``,
  ``~/.local/state/agentspace-tui/log``), never the platform's own (``~/.config``).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from .errors import ConfigError

APP_NAME = "agentspace-tui"
HOME_ENV = "AGENTSPACE_HOME"
PRIVATE = 0o700
_SUBDIRS = ("config", "data", "cache", "logs")


def _error(message: str) -> Exception:
    return ConfigError(message)


def _home() -> Path | None:
    value = os.environ.get(HOME_ENV, "").strip()
    return Path(value).expanduser() if value else None


def _tighten(path: Path) -> None:
    """0700 for a folder of ours that is open to group or others (POSIX; our own folders only)."""
    if os.name != "posix":
        return
    try:
        st = path.stat()
        if st.st_mode & 0o077 and st.st_uid == os.getuid():
            path.chmod(stat.S_IMODE(st.st_mode) & ~0o077 | PRIVATE)
    except OSError:
        pass  # not ours to change after all (a read-only mount, another owner): leave it


def _make(path: Path, what: str) -> bool:
    """Create ``path`` (parents as the platform makes them, ``path`` itself 0700); True if it was created."""
    try:
        path.mkdir(mode=PRIVATE, parents=True)
        return True
    except FileExistsError:
        if path.is_dir():
            return False
        raise _error(f"{what}: {path} exists and is not a directory") from None
    except NotADirectoryError:
        raise _error(f"{what}: part of {path} is a file, not a directory") from None
    except OSError as exc:
        raise _error(f"{what}: cannot create {path}: {exc.strerror or exc}") from None


def _ensure_home_dir(home: Path, sub: str) -> Path:
    what = f"{HOME_ENV}={home}"
    created = _make(home, what)
    if created:
        _tighten(home)  # mkdir's mode is masked by the umask; make sure
    else:
        try:
            ours = {entry.name for entry in home.iterdir()} <= set(_SUBDIRS)
        except OSError as exc:
            raise _error(f"{what}: cannot read {home}: {exc.strerror or exc}") from None
        if ours:
            _tighten(home)
    path = home / sub
    _make(path, what)
    _tighten(path)
    return path


def _ensure_platform_dir(path: Path) -> Path:
    _make(path, f"the {APP_NAME} folder")
    mine = [path, *path.parents]
    for index, folder in enumerate(mine):
        if folder.name == APP_NAME:
            for own in mine[: index + 1]:
                _tighten(own)
            break
    else:
        _tighten(path)
    return path


def _dir(kind: str) -> Path:
    """``kind`` is one of config, data, cache, log: DIR/<kind> under AGENTSPACE_HOME, else platformdirs'."""
    home = _home()
    if home:
        return _ensure_home_dir(home, "logs" if kind == "log" else kind)
    import platformdirs

    return _ensure_platform_dir(Path(getattr(platformdirs, f"user_{kind}_dir")(APP_NAME, appauthor=False)))


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
