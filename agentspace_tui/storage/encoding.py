"""Serialize a TinyDB document set, re-encoding only the records that changed since the last time.

TinyDB hands the storage the whole file on every write; a plain ``json.dumps`` of a 1,000-message session
(~1.2 MB) takes 15-30 ms here, which alone would break the append budget. ``IncrementalEncoder`` keeps each
record's JSON bytes with a shallow snapshot of the record, and reuses the bytes while ``snapshot == record``
(cheap: unchanged values are the very same objects, so ``==`` stops at identity).

Files are pure ASCII (``ensure_ascii``): byte offsets equal character offsets, so a record's bytes can be
sliced straight out of the file when it is read, and no UTF-8 encoding pass is needed on write (that pass
alone costs ~7 ms per MB of non-ASCII text).

Invariants this relies on, kept by ``Store``: records are only changed by replacing top-level values
(TinyDB's ``update`` does that; nothing mutates a nested dict in place), and a value replaced by an equal one
of another type (1 -> 1.0 or True) may keep its old spelling.
"""

from __future__ import annotations

import json
import re
from typing import Any

_DUMPS = json.JSONEncoder(separators=(",", ":")).encode
_DECODER = json.JSONDecoder()
_TABLE = re.compile(r'\s*"((?:[^"\\]|\\.)*)"\s*:\s*\{\s*')
_DOC = re.compile(r'"(\d+)"\s*:\s*')
_NEXT = re.compile(r"\s*(,|\})\s*")

Tables = dict[str, dict[str, Any]]
Piece = tuple[dict[str, Any], bytes]  # (shallow snapshot of the record, b'"<doc id>":<its JSON>')


class IncrementalEncoder:
    def __init__(self) -> None:
        self._pieces: dict[tuple[str, str], Piece] = {}

    def reset(self) -> None:
        self._pieces = {}

    def encode(self, data: Tables) -> list[bytes]:
        """The file's bytes as chunks, to be written in order (joining 1 MB would only copy it again)."""
        pieces: dict[tuple[str, str], Piece] = {}
        chunks = [b"{"]
        for table, docs in data.items():
            if len(chunks) > 1:
                chunks.append(b",")
            chunks.append(b"%s:{" % _DUMPS(table).encode("ascii"))
            for doc_id, doc in docs.items():
                key = (table, str(doc_id))
                piece = self._pieces.get(key)
                if piece is None or piece[0] != doc:
                    piece = (dict(doc), b'"%s":%s' % (key[1].encode("ascii"), _DUMPS(doc).encode("ascii")))
                pieces[key] = piece
                chunks.append(piece[1])
                chunks.append(b",")
            if chunks[-1] == b",":
                chunks.pop()
            chunks.append(b"}")
        chunks.append(b"}")
        self._pieces = pieces
        return chunks

    def decode(self, raw: bytes) -> Any:
        """Parse a file, keeping each record's bytes so the next write need not re-encode it.

        Walks TinyDB's shape record by record; anything unexpected falls back to a plain ``json.loads``
        (nothing kept). Returns None when the content is not JSON at all.
        """
        self._pieces = {}
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return None
        try:
            data, pieces = _walk(text, raw if raw.isascii() else None)
        except (ValueError, IndexError, RecursionError):
            try:
                return json.loads(text)
            except (ValueError, RecursionError):
                return None
        self._pieces = pieces
        return data


def _walk(text: str, ascii_raw: bytes | None) -> tuple[Tables, dict[tuple[str, str], Piece]]:
    """Parse ``{"table": {"1": {...}, ...}, ...}`` strictly; raise ValueError on anything else."""
    data: Tables = {}
    pieces: dict[tuple[str, str], Piece] = {}
    pos = len(text) - len(text.lstrip())
    if text[pos] != "{":
        raise ValueError("not an object")
    sep = _NEXT.match(text, pos + 1)
    closed = sep is not None and sep.group(1) == "}"
    pos = sep.end() if closed and sep else pos + 1
    while not closed:
        m = _TABLE.match(text, pos)
        if m is None:
            raise ValueError("expected a table")
        table: str = json.loads(f'"{m.group(1)}"')
        docs = data[table] = {}
        pos = m.end()
        if text[pos] == "}":
            pos += 1
        else:
            while True:
                m = _DOC.match(text, pos)
                if m is None:
                    raise ValueError("expected a record")
                doc, end = _DECODER.raw_decode(text, m.end())
                if not isinstance(doc, dict):
                    raise ValueError("record is not an object")
                docs[m.group(1)] = doc
                # Foreign (non-ASCII) files: character offsets are not byte offsets, so re-encode.
                if ascii_raw is not None:
                    piece = ascii_raw[m.start() : end]
                else:
                    piece = b'"%s":%s' % (m.group(1).encode("ascii"), _DUMPS(doc).encode("ascii"))
                pieces[(table, m.group(1))] = (dict(doc), piece)
                sep = _NEXT.match(text, end)
                if sep is None:
                    raise ValueError("expected , or }")
                pos = sep.end()
                if sep.group(1) == "}":
                    break
        sep = _NEXT.match(text, pos)
        if sep is None:
            raise ValueError("expected , or }")
        pos = sep.end()
        closed = sep.group(1) == "}"
    if pos != len(text) and text[pos:].strip():
        raise ValueError("trailing data")
    return data, pieces
