"""A table of records that sorts itself by a column (the usage and provider-stats screens).

Rows are rebuilt from the records on every sort: cells are display text, while the sort reads the records'
own values, so "$0.0012" sorts as a number and an unknown value (None) always sorts below every known one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Generic, TypeVar

from rich.text import Text
from textual.coordinate import Coordinate
from textual.widgets import DataTable

R = TypeVar("R")


def sort_value(value: Any) -> tuple[int, float | str]:
    """Unknown (None) first in ascending order, so last in the descending order numbers start with."""
    return (0, 0.0) if value is None else (1, value)


class SortableTable(DataTable, Generic[R]):
    """Subclasses say which columns there are (``column_specs``: (header, field) pairs; ``text_fields`` sort a to z
    first, the rest largest first), how a record looks (``cells``), its row key (``row_key``) and, when a field
    is not an attribute of the record, its value (``value``). ``sort_field`` None: the records' own order."""

    text_fields: frozenset[str] = frozenset()

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="cell", zebra_stripes=True, **kwargs)
        self.rows_data: list[R] = []
        self.sort_field: str | None = None
        self.sort_reverse = False

    def column_specs(self) -> Sequence[tuple[str, str]]:
        raise NotImplementedError

    def cells(self, row: R) -> list[Text]:
        raise NotImplementedError

    def row_key(self, row: R) -> str:
        raise NotImplementedError

    def value(self, row: R, field: str) -> Any:
        return getattr(row, field)

    def show(self, rows: Sequence[R]) -> None:
        self.rows_data = list(rows)
        self._rebuild()

    def sort_by(self, column: int) -> None:
        """Sort by this column; the same column again reverses."""
        field = self.column_specs()[column][1]
        if field == self.sort_field:
            self.sort_reverse = not self.sort_reverse
        else:
            self.sort_field, self.sort_reverse = field, field not in self.text_fields
        self._rebuild()

    @property
    def keys_in_order(self) -> list[str]:
        return [str(self.coordinate_to_cell_key(Coordinate(i, 0)).row_key.value) for i in range(self.row_count)]

    def _rebuild(self) -> None:
        cursor = self.cursor_coordinate
        self.clear(columns=True)
        for name, field in self.column_specs():
            arrow = ("▼" if self.sort_reverse else "▲") if field == self.sort_field else ""
            self.add_column(Text(name + arrow, justify="left" if field in self.text_fields else "right"), key=field)
        rows = self.rows_data
        if self.sort_field is not None:
            field = self.sort_field
            rows = sorted(rows, key=lambda r: sort_value(self.value(r, field)), reverse=self.sort_reverse)
        for row in rows:
            self.add_row(*self.cells(row), key=self.row_key(row))
        if rows:
            self.cursor_coordinate = self.validate_cursor_coordinate(cursor)
