"""Recover the intact records of a damaged TinyDB JSON file."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

_DECODER = json.JSONDecoder()
# A JSON string key followed by ":" and "{": a table ("messages": {) or a record ("17": {).
_KEY_THEN_OBJECT = re.compile(r'"((?:[^"\\]|\\.)*)"\s*:\s*\{')


def salvage(text: str, tables: Iterable[str]) -> dict[str, dict[str, dict[str, Any]]]:
    """Return ``{table: {doc_id: doc}}`` with every record that still decodes whole.

    TinyDB writes ``{"table": {"1": {...}, "2": {...}}, ...}``. We walk that shape with a regex and decode
    each record with ``raw_decode``, jumping past it, so keys nested inside a good record are never seen.
    After damage (truncation, garbage) the search resynchronises on the next table or record key, so a torn
    middle does not lose the records after it. The first copy of a doc id wins.
    """
    known = set(tables)
    found: dict[str, dict[str, dict[str, Any]]] = {}
    current: str | None = None
    pos = 0
    while match := _KEY_THEN_OBJECT.search(text, pos):
        key = match.group(1)
        if key.isdigit() and current is not None:
            try:
                doc, end = _DECODER.raw_decode(text, match.end() - 1)
            except ValueError:
                pos = match.end()
                continue
            found[current].setdefault(key, doc)
            pos = end
        else:
            if key in known:
                current = key
                found.setdefault(key, {})
            pos = match.end()
    return found
