"""The spec line of a field path, for error messages (best effort, TOML or JSON; tomllib gives no positions)."""
from __future__ import annotations

import re


def locate(text: str, path: str) -> int | None:
    """The spec line of a field path such as ``terms[1].parts[0].residual[1]`` (best effort, TOML or JSON)."""
    steps = [s for s in re.split(r"\.|(?=\[)", path) if s]
    pos, found = 0, None
    for step in steps:
        m = re.fullmatch(r"\[(\d+)\]", step)
        if m:
            p = _element(text, pos, int(m.group(1)), steps[steps.index(step) - 1] if steps.index(step) else "")
        else:
            key = re.escape(step)
            hit = re.compile(rf'(?m)(^[ \t]*\[+[ \t]*([\w.-]+\.)?{key}[ \t]*\]+|(^|[\s{{,])"?{key}"?\s*[=:])').search(
                text, pos)
            p = hit.start() + len(hit.group(0)) - len(hit.group(0).lstrip()) if hit else None
        if p is None:
            break
        pos = found = p
    return None if found is None else text.count("\n", 0, found) + 1


def _element(text: str, pos: int, index: int, key: str) -> int | None:
    """Start of element ``index`` of the array at ``pos``: the index-th ``[[key]]`` header (TOML arrays of
    tables), else the index-th item of the bracketed list that follows."""
    headers = [m.start() for m in re.finditer(rf"(?m)^[ \t]*\[\[[ \t]*([\w.-]+\.)?{re.escape(key)}[ \t]*\]\]", text)]
    headers = [h for h in headers if h >= pos]
    if headers:
        return headers[index] if index < len(headers) else None
    start = text.find("[", pos)
    if start < 0:
        return None
    depth, item, quote = 0, 0, None
    for i in range(start, len(text)):
        ch = text[i]
        if quote:
            quote = None if ch == quote and text[i - 1] != "\\" else quote
            continue
        if depth == 1 and item == index and not ch.isspace() and ch not in ",]}":
            return i
        if ch in "\"'":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
            if depth == 0:
                return None
        elif ch == "," and depth == 1:
            item += 1
    return None
