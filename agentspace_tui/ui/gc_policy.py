"""Garbage-collector policy for a long-running TUI.

litellm and Textual keep a few hundred thousand long-lived objects; a full collection walks all of them and
was measured at 100-180 ms here: a visible freeze when it lands mid-reply. So: long-lived objects are frozen
out of the collector's sight once warm (see providers.stream.warm_up), full collections are held off while a
reply streams, and the garbage is collected when the reply is done, before the next one.
"""

from __future__ import annotations

import gc

YOUNG = 50_000
_saved: tuple[int, int, int] | None = None
_streams = 0


def streaming_started() -> None:
    global _saved, _streams
    _streams += 1
    if _saved is None:
        _saved = gc.get_threshold()
        # Rendering Markdown makes short-lived cyclic garbage (parse trees). With the default 700-allocation
        # young generation, a collection often lands mid-render and promotes the live tree to the old
        # generation, where only a full collection frees it. A larger young generation lets it die young.
        gc.set_threshold(YOUNG, 50, 1_000_000)


def streaming_finished() -> None:
    """Full collections stay off until ``collect`` runs at a quiet moment: restoring the thresholds here
    would start one on the next allocation, right as the reply's last frame is drawn."""
    global _streams
    _streams = max(0, _streams - 1)


def collect(full: bool = False) -> None:
    """Collect what is not frozen and freeze the survivors, then restore the normal thresholds; ``full`` also
    revisits frozen objects (for moments when much was dropped at once, like switching sessions)."""
    global _saved
    if _streams:
        return
    if full:
        gc.unfreeze()
    gc.collect()
    gc.freeze()
    if _saved is not None:
        gc.set_threshold(*_saved)
        _saved = None
