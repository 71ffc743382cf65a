"""Reading a spec's text: the error type, the parsed pieces (expressions, parts, terms, parameters) and the
field-by-field type checks with the field's path and line (``Reader``). ``schema.read`` puts them together.

Every error is a ``SpecError`` (a ``ConfigError``): one line that names the field (``terms[1].residual``), the
line of the spec it is on where it can be found, and what is wrong. The text is treated as hostile: size-bounded,
parsed by ``tomllib`` / ``json`` (data only), every expression by ``expr.parse`` (a whitelisted grammar).
"""
from __future__ import annotations

import json
import math
import re
import tomllib
from dataclasses import dataclass

from ...errors import ConfigError
from . import expr
from .locate import locate

MAX_TEXT = 64_000
MAX_INPUTS, MAX_OUTPUTS, MAX_PARAMS, MAX_DEFINES, MAX_TERMS, MAX_COLUMNS, MAX_FACES = 3, 8, 16, 16, 8, 8, 16
MAX_ORDER = 3
NAME = re.compile(r"[A-Za-z][A-Za-z0-9]{0,15}")
PROBLEM_NAME = re.compile(r"[a-z][a-z0-9-]{0,39}")
TOP = ("name", "title", "description", "inputs", "outputs", "params", "define", "solution", "terms", "evaluate",
       "domain", "periodic", "periodic_mode", "periodic_derivatives", "unknowns", "time")
RESERVED = set(expr.FUNCTIONS) | set(expr.CONSTANTS) | {"exact", "interior"}


class SpecError(ConfigError):
    """A bad spec: ``field`` is the path (``terms[1].residual``), ``line`` the spec's line (or None),
    ``column`` the column inside an expression (or None)."""

    def __init__(self, path: str, message: str, line: int | None = None, column: int | None = None):
        self.path, self.line, self.column = path, line, column
        where = f"spec line {line}, {path}" if line else f"spec {path}"
        super().__init__(where, message)
        self.field = path


@dataclass(frozen=True)
class Expression:
    text: str
    tree: tuple
    path: str


@dataclass(frozen=True)
class Part:
    faces: tuple[str, ...]  # as written: "interior", "x = 0", "hole 1", ...
    boxes: tuple[tuple[tuple[float, float], ...], ...]  # without a [domain]: the box of each face
    residuals: tuple[Expression, ...]
    pieces: tuple[str, ...] = ()  # with a [domain]: "interior" or the boundary piece of each face


@dataclass(frozen=True)
class DataSpec:
    """A data term's file: its path (as written, or made absolute by ``load_spec_file``), every column's name in
    file order (the inputs among them), and the format ("csv", "npz", "text"; None: from the suffix)."""

    file: str
    columns: tuple[str, ...]
    format: str | None
    observed: tuple[str, ...]  # the columns that are not inputs: names the residual may read


@dataclass(frozen=True)
class TermSpec:
    name: str
    parts: tuple[Part, ...]
    columns: str
    data: DataSpec | None = None


@dataclass(frozen=True)
class ParamSpec:
    name: str
    default: float
    low: float
    high: float
    help: str


class Reader:
    """Type checks with the field's path and line. ``reserved``: names no input, output, parameter, definition or
    unknown may take (with a [domain], also ``n``: ``n_x`` is a normal, ``u_n`` a normal derivative)."""

    def __init__(self, text: str):
        self.text = text
        self.reserved = RESERVED

    def fail(self, path: str, message: str, column: int | None = None):
        where = f" (column {column})" if column else ""
        raise SpecError(path, message + where, locate(self.text, path), column)

    def table(self, value, path: str, allowed=None) -> dict:
        if not isinstance(value, dict):
            self.fail(path, f"must be a table, got {kind(value)}")
        for key in value:
            if allowed is not None and key not in allowed:
                self.fail(f"{path}.{key}" if path else key, f"unknown field; allowed: {', '.join(allowed)}")
        return value

    def string(self, value, path: str, limit: int = 200) -> str:
        if not isinstance(value, str):
            self.fail(path, f"must be a string, got {kind(value)}")
        if len(value) > limit:
            self.fail(path, f"longer than {limit} characters")
        return value

    def number(self, value, path: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            self.fail(path, f"must be a finite number, got {kind(value)}")
        return float(value)

    def name(self, value, path: str, taken: set[str]) -> str:
        self.string(value, path)
        if not NAME.fullmatch(value):
            self.fail(path, f"{value!r} is not a name (a letter, then up to 15 letters or digits)")
        if value in self.reserved:
            self.fail(path, f"{value!r} is reserved")
        if value in taken:
            self.fail(path, f"{value!r} is already used")
        taken.add(value)
        return value

    def strings(self, value, path: str, limit: int) -> list:
        """A string or a list of 1..limit strings, as a list."""
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not 1 <= len(items) <= limit:
            self.fail(path, f"must be a string or a list of 1 to {limit} strings, got {kind(value)}")
        return items

    def expression(self, value, path: str) -> Expression:
        self.string(value, path, expr.MAX_CHARS)
        try:
            return Expression(value, expr.parse(value), path)
        except expr.ExprError as exc:
            self.fail(path, exc.message, exc.column)


def kind(value) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list",
            dict: "a table"}.get(type(value), type(value).__name__)


def load(text: str) -> dict:
    """TOML or JSON (a text starting with '{') to a dict; one-line errors with the line."""
    if not isinstance(text, str):
        raise SpecError("spec", f"must be text, got {kind(text)}")
    if len(text) > MAX_TEXT:
        raise SpecError("spec", f"longer than {MAX_TEXT} characters ({len(text)})")
    try:
        if text.lstrip().startswith("{"):
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                raise SpecError("spec", f"malformed JSON: {exc.msg}", exc.lineno) from None
        else:
            try:
                data = tomllib.loads(text)
            except tomllib.TOMLDecodeError as exc:
                msg = str(exc)
                m = re.search(r"\(at line (\d+), column \d+\)", msg)
                raise SpecError("spec", f"malformed TOML: {msg.split(' (at ')[0]}",
                                int(m.group(1)) if m else None) from None
    except RecursionError:
        raise SpecError("spec", "nested too deeply") from None
    if not isinstance(data, dict):
        raise SpecError("spec", f"must be a table (a JSON object), got {kind(data)}")
    return data
