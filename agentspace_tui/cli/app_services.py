"""The services a subcommand runs on, and the storage warnings they collected, for ``main`` to report."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..services.core import Services

_built: list[Services] = []


def open_services() -> Services:
    """The app's services (lazily: the core is only imported by a subcommand that needs it)."""
    from ..services.core import build_services

    services = build_services()
    _built.append(services)
    return services


def storage_warnings() -> list[str]:
    """What storage recovered from (corrupt files moved aside) during this command, for stderr."""
    return [w for services in _built for w in services.store.warnings]


def forget_services() -> None:
    _built.clear()
