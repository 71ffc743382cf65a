"""``read_table``: a data file (path or bytes) -> a checked ``Table`` (the rules: ``pinncore.data.tables``)."""
from __future__ import annotations

from .npz import parse_npz
from .tables import DataError, Table, check_columns, detect_format, read_bytes
from .text import parse_text


def read_table(source, columns=None, *, name: str | None = None, fmt: str | None = None,
               field: str = "data file") -> Table:
    """Read a table from a path or bytes. ``columns`` names every column in file order (roles are the caller's:
    ``table.points(("x", "y"))``, ``table.column("u")``); without it a CSV header or the NPZ's array names give
    them. ``fmt`` ("csv", "npz", "text") overrides the file name's suffix (.csv, .npz, anything else: text)."""
    columns = check_columns(columns, field)
    data, label = read_bytes(source, name, field)
    kind = detect_format(label, fmt, field)
    if kind == "npz":
        table = parse_npz(data, columns, label, field)
    else:
        table = parse_text(data, columns, label, field, csv_format=kind == "csv")
    if len(table) == 0:
        raise DataError(field, f"{label} has no data rows")
    return table
