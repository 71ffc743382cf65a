"""The package layout (issue 15): pinncore is the core and loads no lab tool and no UI library; no import cycle
among the project's modules; no function a reader has to scroll."""
from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("pinncore", "pinnlab", "pinncli", "dashboard")
MAX_FUNCTION_LINES = 60
MAX_MODULE_LINES = 400  # past this a module holds more than one responsibility: split it


def modules() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the project's packages (dashboard pages included)."""
    out = {}
    for pkg in PACKAGES:
        for f in sorted((ROOT / pkg).rglob("*.py")):
            parts = list(f.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = f
    return out


def imports_of(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """Project modules that ``name`` imports anywhere in its file (lazy imports in functions count too)."""
    is_pkg = path.name == "__init__.py"
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".") if is_pkg else name.split(".")[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        else:
            continue
        for t in targets:
            while t and t not in known:  # `import pinncore.store.x` -> the longest known prefix
                t = t.rpartition(".")[0]
            if t and t != name:
                out.add(t)
    return out


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    sys.setrecursionlimit(10_000)
    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_import_pinncore_loads_no_lab_tool_and_no_ui_library():
    code = "import json, sys, pinncore; print(json.dumps(sorted(sys.modules)))"
    loaded = json.loads(subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                                       check=True).stdout)
    banned = ("pinnlab", "pinncli", "dashboard", "streamlit", "plotly", "matplotlib", "ray")
    bad = [m for m in loaded if m.split(".")[0] in banned]
    assert not bad, f"import pinncore loaded {bad}"


def test_no_import_cycle_among_the_project_modules():
    known = modules()
    graph = {name: imports_of(name, path, known) for name, path in known.items()}
    assert graph["pinnlab.sweep.execute"] >= {"pinnlab.sweep.plan", "pinnlab.sweep.results"}  # the walker sees
    assert cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_core_imports_nothing_above_it():
    known = modules()
    for name, path in known.items():
        if name.split(".")[0] == "pinncore":
            above = {m for m in imports_of(name, path, known) if m.split(".")[0] != "pinncore"}
            assert not above, f"{name} imports {sorted(above)}"


@pytest.mark.parametrize("name", sorted(modules()))
def test_no_function_longer_than_a_screen(name):
    path = modules()[name]
    long = [f"{n.name} ({n.end_lineno - n.lineno + 1} lines, line {n.lineno})"
            for n in ast.walk(ast.parse(path.read_text()))
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
            and n.end_lineno - n.lineno + 1 > MAX_FUNCTION_LINES]
    assert not long, f"{path.relative_to(ROOT)}: {', '.join(long)}"


def test_no_module_longer_than_one_responsibility():
    long = {name: n for name, path in modules().items() if (n := len(path.read_text().splitlines())) > MAX_MODULE_LINES}
    assert not long, f"modules over {MAX_MODULE_LINES} lines: {long}"
