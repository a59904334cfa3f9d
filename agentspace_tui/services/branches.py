"""A session's messages as a tree of branches, and the one branch the conversation is on.

Each message stores its ``parent`` (the message it follows). A regenerated reply or an edited user message is
a new sibling of the one it replaces, so nothing is ever overwritten: the earlier reply stays as an alternative.
Messages stored before branches existed have no ``parent`` key; each follows the message before it in the file.

The active branch needs no stored pointer: it runs through the message touched last (created, or chosen with
``chosen_at``), and on from there to the newest leaf below it. A new turn, a regenerated reply or an edit is the
newest message, so it becomes active by being stored; paging to an older alternative stamps ``chosen_at`` on it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

Message = Mapping[str, Any]
# what the tree holds and hands back: a domain.MessageRecord from the store, or any message mapping
M = TypeVar("M", bound=Message)


def _touched(message: Message) -> float:
    created = message.get("created_at")
    chosen = message.get("chosen_at")
    return max(
        float(created) if isinstance(created, int | float) else 0.0,
        float(chosen) if isinstance(chosen, int | float) else 0.0,
    )


@dataclass(frozen=True)
class Tree(Generic[M]):
    """The messages of one session, indexed by id, with each message's children in file order."""

    messages: tuple[M, ...]
    by_id: Mapping[str, M]
    parent: Mapping[str, str | None]
    children: Mapping[str | None, tuple[str, ...]]

    @classmethod
    def of(cls, messages: Iterable[M]) -> Tree[M]:
        ordered = tuple(messages)
        by_id: dict[str, M] = {}
        parent: dict[str, str | None] = {}
        children: dict[str | None, list[str]] = {}
        previous: str | None = None
        for message in ordered:
            mid = str(message.get("id"))
            if mid in by_id:  # a duplicated id (hand-edited file): the first one wins
                continue
            stored = message.get("parent", previous) if "parent" in message else previous
            up = str(stored) if stored is not None else None
            if up is not None and up not in by_id:  # a parent that is gone or comes later: attach to the previous
                up = previous
            by_id[mid] = message
            parent[mid] = up
            children.setdefault(up, []).append(mid)
            previous = mid
        return cls(ordered, by_id, parent, {k: tuple(v) for k, v in children.items()})

    def active_path(self) -> list[M]:
        """The branch the conversation is on, oldest first."""
        if not self.by_id:
            return []
        # the message touched last, wherever it is, then down its branch; on a tie, the later in the file
        ids = list(self.by_id)
        newest = max(range(len(ids)), key=lambda i: (_touched(self.by_id[ids[i]]), i))
        return self.lineage(self.latest_leaf(ids[newest]))

    def lineage(self, message_id: str | None) -> list[M]:
        """``message_id`` and the messages before it on its branch, oldest first (empty for None)."""
        out: list[M] = []
        node = message_id
        while node is not None and node in self.by_id:
            out.append(self.by_id[node])
            node = self.parent[node]
        return out[::-1]

    def latest_leaf(self, message_id: str) -> str:
        """Where the conversation continues when ``message_id`` is chosen: down its branch, each step to the
        child touched last."""
        node = message_id
        while True:
            kids = self.children.get(node)
            if not kids:
                return node
            node = max(enumerate(kids), key=lambda item: (_touched(self.by_id[item[1]]), item[0]))[1]

    def siblings(self, message_id: str) -> tuple[str, ...]:
        """The alternatives at ``message_id``'s place (itself included), in the order they were made."""
        if message_id not in self.by_id:
            return ()
        same_role = self.by_id[message_id].get("role")
        kids = self.children.get(self.parent[message_id], ())
        return tuple(k for k in kids if self.by_id[k].get("role") == same_role)

    def alternatives(self, path: Sequence[Message]) -> dict[str, tuple[int, int]]:
        """For each message of ``path`` that has alternatives: (its position from 1, how many there are)."""
        out: dict[str, tuple[int, int]] = {}
        for message in path:
            mid = str(message.get("id"))
            sibs = self.siblings(mid)
            if len(sibs) > 1:
                out[mid] = (sibs.index(mid) + 1, len(sibs))
        return out

    def neighbour(self, message_id: str, step: int) -> str | None:
        """The alternative ``step`` places before (-1) or after (+1) ``message_id``, or None at either end."""
        sibs = self.siblings(message_id)
        if message_id not in sibs:
            return None
        at = sibs.index(message_id) + step
        return sibs[at] if 0 <= at < len(sibs) else None

    def pair_of(self, message_id: str) -> list[str]:
        """A user message and the reply shown after it on the active branch (or a reply and its user message):
        what "delete from the context" hides together."""
        message = self.by_id.get(message_id)
        if message is None:
            return []
        path = self.active_path()
        ids = [str(m.get("id")) for m in path]
        if message_id not in ids:
            return [message_id]
        at = ids.index(message_id)
        if message.get("role") == "user" and at + 1 < len(path) and path[at + 1].get("role") == "assistant":
            return [message_id, ids[at + 1]]
        if message.get("role") == "assistant" and at > 0 and path[at - 1].get("role") == "user":
            return [ids[at - 1], message_id]
        return [message_id]


def active_path(messages: Iterable[M]) -> list[M]:
    return Tree.of(messages).active_path()
