"""The spec's fields for real problems besides the domain: periodic inputs, unknown coefficients, data terms' files
and a reference file.

    periodic = ["x"]                 # periodic in x with period = the length of x's range
    periodic_mode = "penalty"        # or "embedding" (the default): cos/sin of 2 pi x / L as the network's input
    periodic_derivatives = true      # penalty mode: also u_x(low) = u_x(high); default: where a residual reads a
                                     # second derivative in x (a first-order equation in x needs values alone)

    [unknowns]                       # trainable scalars, read by residuals and definitions like parameters
    kappa = { initial = 0.5, low = 0.01, high = 2, true = 0.1, help = "diffusivity" }   # or kappa = 0.5

    [[terms]]                        # a data term: the file's columns by name (every input among them)
    name = "data"
    data = { file = "observations.csv", columns = ["x", "t", "obs"] }
    residual = "u - obs"

    [evaluate]
    reference = "solution.txt"       # or { file = "...", columns = ["x", "t", "u"], value = "u", format = "text" }

Files are not read here (``read`` stays fast and file-free); ``build`` reads them.
"""
from __future__ import annotations

from dataclasses import dataclass

from ...errors import ConfigError
from ...unknowns import MAX_UNKNOWNS, Unknown
from .reader import MAX_INPUTS, NAME, RESERVED, DataSpec, Reader, kind

MODES = ("embedding", "penalty")
DEFAULT_MODE = "embedding"
FORMATS = ("csv", "npz", "text")
FILE_SUFFIXES = (".csv", ".npz", ".txt", ".dat", ".tsv")
MAX_DATA_COLUMNS = 16


@dataclass(frozen=True)
class PeriodicSpec:
    inputs: tuple[str, ...]
    mode: str
    derivatives: bool | None  # None: as the equations need (``needs_slopes``)


def needs_slopes(periodic: tuple[str, ...], needs) -> bool:
    """Whether a periodic penalty must also match first derivatives: a solution of an equation of order k in x is
    periodic once its derivatives up to order k - 1 are, so where some residual reads a second derivative in a
    periodic input (Allen-Cahn's u_xx), and not for a first-order one (convection's u_x: values suffice).
    ``needs``: the terms' derivative names ("xx", "tx")."""
    return any(name.count(p) >= 2 for name in needs for p in periodic)


@dataclass(frozen=True)
class ReferenceSpec:
    """A registered reference (``name``), or a file: a grid .npz or a scattered table with its columns."""

    name: str | None = None
    file: str | None = None
    columns: tuple[str, ...] | None = None
    value: str | None = None
    format: str | None = None
    table: bool = False  # given as a table ({ file = ... }): errors name evaluate.reference.file


def read_periodic(r: Reader, data: dict, inputs, has_domain: bool) -> PeriodicSpec | None:
    if "periodic" not in data:
        for key in ("periodic_mode", "periodic_derivatives"):
            if key in data:
                r.fail(key, "needs periodic = [...] (the periodic inputs)")
        return None
    items = r.strings(data["periodic"], "periodic", MAX_INPUTS)
    for i, name in enumerate(items):
        path = f"periodic[{i}]" if isinstance(data["periodic"], list) else "periodic"
        r.string(name, path, 40)
        if name not in inputs:
            r.fail(path, f"{name!r} is not an input; inputs: {', '.join(inputs)}")
        if items.index(name) != i:
            r.fail(path, f"{name!r} is given twice")
    if has_domain:
        r.fail("periodic", "needs a box domain: a [domain] with periodic inputs is not supported")
    mode = r.string(data.get("periodic_mode", DEFAULT_MODE), "periodic_mode")
    if mode not in MODES:
        r.fail("periodic_mode", f"must be one of {', '.join(MODES)}, got {mode[:40]!r}")
    derivatives = data.get("periodic_derivatives")
    if derivatives is not None and not isinstance(derivatives, bool):
        r.fail("periodic_derivatives", f"must be true or false, got {kind(derivatives)}")
    if "periodic_derivatives" in data and mode != "penalty":
        r.fail("periodic_derivatives", "only for periodic_mode = 'penalty' (the embedding makes every derivative "
                                       "periodic)")
    return PeriodicSpec(tuple(items), mode, derivatives)


def read_unknowns(r: Reader, value, taken: set[str]) -> tuple[Unknown, ...]:
    table = r.table(value, "unknowns")
    if len(table) > MAX_UNKNOWNS:
        r.fail("unknowns", f"at most {MAX_UNKNOWNS} unknowns, got {len(table)}")
    out = []
    for key, v in table.items():
        path = f"unknowns.{key}"
        r.name(key, path, taken)
        if not isinstance(v, dict):
            v = {"initial": v}
        r.table(v, path, ("initial", "low", "high", "true", "help"))
        if "initial" not in v:
            r.fail(f"{path}.initial", "is required (the value training starts from)")
        nums = {f: r.number(v[f], f"{path}.{f}") for f in ("initial", "low", "high", "true") if f in v}
        try:
            out.append(Unknown(key, help=r.string(v.get("help", ""), f"{path}.help"), **nums))
        except ConfigError as exc:
            r.fail(exc.field, exc.reason)
    return tuple(out)


def read_data(r: Reader, value, path: str, inputs, taken: set[str]) -> DataSpec:
    t = r.table(value, path, ("file", "columns", "format"))
    for key in ("file", "columns"):
        if key not in t:
            r.fail(f"{path}.{key}", "is required")
    file = _file(r, t["file"], f"{path}.file")
    cols = t["columns"]
    if not isinstance(cols, list) or not len(inputs) < len(cols) <= MAX_DATA_COLUMNS:
        r.fail(f"{path}.columns", f"must list the file's {len(inputs) + 1} to {MAX_DATA_COLUMNS} columns in order "
                                  f"(every input, and the observed values), got {kind(cols)}")
    seen: set[str] = set()
    for i, c in enumerate(cols):
        p = f"{path}.columns[{i}]"
        r.string(c, p, 40)
        if not NAME.fullmatch(c) or c in RESERVED:
            r.fail(p, f"{c!r} is not a name (a letter, then up to 15 letters or digits)")
        if c in seen:
            r.fail(p, f"{c!r} is given twice")
        if c not in inputs and c in taken:
            r.fail(p, f"{c!r} is already a name of the spec (an output, parameter, definition or unknown)")
        seen.add(c)
    missing = [n for n in inputs if n not in cols]
    if missing:
        r.fail(f"{path}.columns", f"has no column for the input {missing[0]!r}")
    fmt = _format(r, t.get("format"), f"{path}.format")
    return DataSpec(file, tuple(cols), fmt, tuple(c for c in cols if c not in inputs))


def read_reference(r: Reader, value) -> ReferenceSpec:
    path = "evaluate.reference"
    if isinstance(value, str):
        r.string(value, path, 400)
        if value.lower().endswith(FILE_SUFFIXES):
            return ReferenceSpec(file=_file(r, value, path))
        return ReferenceSpec(name=value)
    t = r.table(value, path, ("file", "columns", "value", "format"))
    if "file" not in t:
        r.fail(f"{path}.file", "is required")
    cols = None
    if "columns" in t:
        cols = t["columns"]
        if not isinstance(cols, list) or not 2 <= len(cols) <= MAX_DATA_COLUMNS or \
                not all(isinstance(c, str) and NAME.fullmatch(c) for c in cols) or len(set(cols)) != len(cols):
            r.fail(f"{path}.columns", f"must be a list of 2 to {MAX_DATA_COLUMNS} different names, got {kind(cols)}")
    val = r.string(t["value"], f"{path}.value", 40) if "value" in t else None
    if val is not None and cols is not None and val not in cols:
        r.fail(f"{path}.value", f"{val!r} is not one of the columns {', '.join(cols)}")
    return ReferenceSpec(file=_file(r, t["file"], f"{path}.file"), columns=tuple(cols) if cols else None, value=val,
                         format=_format(r, t.get("format"), f"{path}.format"), table=True)


def _file(r: Reader, value, path: str) -> str:
    r.string(value, path, 400)
    if not value.strip() or "\x00" in value:
        r.fail(path, "must be a file name or path")
    return value


def _format(r: Reader, value, path: str) -> str | None:
    if value is None:
        return None
    r.string(value, path, 10)
    if value not in FORMATS:
        r.fail(path, f"must be one of {', '.join(FORMATS)}, got {value!r}")
    return value
