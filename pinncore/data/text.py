"""CSV and whitespace-separated text tables (COMSOL's export: ``%`` comment lines, then ``x y [t] value...``)."""
from __future__ import annotations

import csv
import io

import numpy as np

from .tables import MAX_ROWS, DataError, Table, check_columns, finite_rows

COMMENTS = ("%", "#")


def _decode(data: bytes, label: str, field: str) -> str:
    if b"\x00" in data:
        raise DataError(field, f"{label} is binary (it holds NUL bytes), not a text table")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(field, f"{label} is not UTF-8 text (byte {exc.start})") from None


def _rows(text: str, csv_format: bool):
    """(line number, tokens) of every line that is neither blank nor a comment."""
    if csv_format:
        reader = csv.reader(io.StringIO(text, newline=""))
        for tokens in reader:
            if tokens and not (tokens[0].lstrip().startswith(COMMENTS) or all(not t.strip() for t in tokens)):
                yield reader.line_num, [t.strip() for t in tokens]
        return
    for number, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if s and not s.startswith(COMMENTS):
            yield number, s.split()


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def _header(tokens, columns, number: int, label: str, field: str) -> tuple[str, ...]:
    names = tuple(tokens)
    if columns is None:
        return check_columns(list(names), f"{field}") or ()
    if names != columns:
        raise DataError(field, f"{label}: line {number}: header ({', '.join(names)}) differs from the columns "
                               f"given ({', '.join(columns)})")
    return columns


def parse_text(data: bytes, columns, label: str, field: str, csv_format: bool) -> Table:
    text = _decode(data, label, field)
    rows, lines = [], []
    for number, tokens in _rows(text, csv_format):
        if not rows and not lines and not all(_is_number(t) for t in tokens) and \
                (columns is None or len(tokens) == len(columns)):
            columns = _header(tokens, columns, number, label, field)
            lines.append(0)  # the header: no data row
            continue
        if columns is None:
            raise DataError(field, f"{label}: no column names: give them, or start the file with a header row")
        if len(tokens) != len(columns):
            raise DataError(field, f"{label}: line {number}: {len(tokens)} columns, expected {len(columns)} "
                                   f"({', '.join(columns)})")
        rows.append(tokens)
        lines.append(number)
        if len(rows) > MAX_ROWS:
            raise DataError(field, f"{label} has more than {MAX_ROWS:,} rows")
    if columns is None:
        raise DataError(field, f"{label} has no data rows")
    lines = np.array([n for n in lines if n], dtype=np.int64)
    values = _numbers(rows, columns, lines, label, field)
    finite_rows(columns, values, lines, "line", label, field)
    return Table(columns, values, lines, "line", label)


def _numbers(rows, columns, lines, label: str, field: str) -> np.ndarray:
    if not rows:
        return np.zeros((0, len(columns)))
    try:
        return np.array(rows, dtype=np.float64)
    except ValueError:
        pass
    for i, tokens in enumerate(rows):  # find the first token that is not a number, for the message
        for j, t in enumerate(tokens):
            if not _is_number(t):
                raise DataError(field, f"{label}: line {lines[i]}: {columns[j]} is {t[:40]!r}, not a number")
    raise DataError(field, f"{label}: the values are not numbers")
