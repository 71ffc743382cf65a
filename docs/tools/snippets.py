"""The code in README.md and docs/, found and checked (tests/test_docs.py; the conventions: docs/contributing/docs.md).

- A fenced block says what it is: ```bash (commands: run), ```python (run; a page's blocks run in order in one
  interpreter), ```toml / ```json (parsed), ```text (output or a listing: not checked).
- ``<!-- not run: REASON -->`` as the last non-blank line before a block: the block is not executed, for the
  reason given (it must not be empty). Its ``pinn`` commands and ``python SCRIPT.py`` commands are still parsed.
- Every ``pinn ...`` and ``python SCRIPT.py ...`` command in a bash block is parsed by the command's own argument
  parser (``pinn train`` also builds its RunConfig, ``pinn sweep`` its grid), so a renamed flag fails the test.
- ``--8<-- "path"`` lines (pymdownx.snippets) are replaced by the file they include.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import runpy
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FENCE = re.compile(r"^(?P<indent> *)(?P<fence>`{3,}|~{3,})(?P<lang>[\w+-]*)\s*$")
NOT_RUN = re.compile(r"^\s*<!-- not run:(?P<reason>.*?)-->\s*$")
INCLUDE = re.compile(r'^\s*--8<-- "(?P<path>[^"]+)"\s*$')
LANGS = {"bash", "python", "toml", "json", "text"}
SEPARATORS = {"&&", "||", ";", "|"}


@dataclass
class Block:
    path: Path
    line: int            # of the opening fence, 1-based
    lang: str
    code: str
    reason: str | None   # why it is not run; None: it is run

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def doc_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def _include(line: str) -> str:
    m = INCLUDE.match(line)
    return (ROOT / m.group("path")).read_text() if m else line + "\n"


def blocks(path: Path) -> list[Block]:
    """The fenced blocks of one Markdown file, with their not-run reasons and includes resolved."""
    lines, out, i = path.read_text().splitlines(), [], 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        before = next((lines[j] for j in range(i - 1, -1, -1) if lines[j].strip()), "")
        marker = NOT_RUN.match(before)
        indent, fence, start = len(m.group("indent")), m.group("fence"), i
        body = []
        i += 1
        while i < len(lines) and lines[i].strip() != fence:
            body.append(lines[i][indent:] if lines[i][:indent].strip() == "" else lines[i])
            i += 1
        code = "".join(_include(b) for b in body)
        out.append(Block(path, start + 1, m.group("lang"), code, marker.group("reason").strip() if marker else None))
        i += 1
    return out


def commands(code: str) -> list[list[str]]:
    """The simple commands of a bash block: continuations joined, comments dropped, split at && || ; |, with
    leading VAR=value assignments and ``nice -n N`` removed."""
    out = []
    for line in code.replace("\\\n", " ").splitlines():
        words, cmd = shlex.split(line, comments=True), []
        for w in [*words, ";"]:
            if w in SEPARATORS:
                while cmd and re.match(r"^[A-Za-z_]\w*=", cmd[0]):
                    cmd.pop(0)
                if cmd[:1] == ["nice"]:
                    cmd = cmd[3:] if cmd[1:2] == ["-n"] else cmd[1:]
                if cmd:
                    out.append(cmd)
                cmd = []
            else:
                cmd.append(w)
    return out


class Parsed(Exception):
    def __init__(self, namespace: argparse.Namespace):
        super().__init__("parsed")
        self.namespace = namespace


@contextlib.contextmanager
def parse_only():
    """While active, an argument parser that parses its arguments stops the program there (raising Parsed)."""
    original = argparse.ArgumentParser.parse_args

    def parse_args(self, args=None, namespace=None):
        raise Parsed(original(self, args, namespace))

    argparse.ArgumentParser.parse_args = parse_args
    try:
        yield
    finally:
        argparse.ArgumentParser.parse_args = original


def _semantics(argv: list[str], ns: argparse.Namespace) -> None:
    """What ``pinn`` checks after parsing, for the commands where that is cheap: train's RunConfig, sweep's grid,
    dashboard's host."""
    from pinncore import RunConfig

    if argv[1] == "train" and not ns.config:
        from pinncli.args import config_from_args

        config_from_args(ns)
    elif argv[1] == "sweep" and not ns.config:
        from pinnlab.sweep.grid import expand, parse_grid

        expand(parse_grid(ns.grid), RunConfig())
    elif argv[1] == "dashboard":
        from pinncli.dashboard import check_host

        check_host(ns.host)


def check_command(argv: list[str]) -> str | None:
    """None if the command parses (``pinn ...`` or ``python SCRIPT.py ...``, run from the repository root), else
    what its parser said; other commands are not checked (None)."""
    if argv[0] in ("python", "python3") and argv[1:3] == ["-m", "pinncli"]:
        argv = ["pinn", *argv[3:]]
    is_script = argv[0] in ("python", "python3") and len(argv) > 1 and argv[1].endswith(".py")
    if argv[0] != "pinn" and not is_script:
        return None
    err, old_argv, old_cwd = io.StringIO(), sys.argv, os.getcwd()
    try:
        os.chdir(ROOT)
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()), parse_only():
            if is_script:
                sys.argv = argv[1:]
                runpy.run_path(str(ROOT / argv[1]), run_name="__main__")
            else:
                from pinncli.main import main

                main(argv[1:])
        return "did not reach its argument parser"
    except Parsed as p:
        if argv[0] == "pinn" and len(argv) > 1:
            try:
                _semantics(argv, p.namespace)
            except Exception as exc:  # noqa: BLE001 - any error is the answer
                return f"{type(exc).__name__}: {exc}"
        return None
    except SystemExit as exc:
        return err.getvalue().strip() or f"exit {exc.code}"
    finally:
        sys.argv = old_argv
        os.chdir(old_cwd)


def option_strings(command: str) -> set[str] | None:
    """The flags ``pinn COMMAND`` accepts (None for an unknown command)."""
    from pinncli import bench, dashboard
    from pinncli.args import build_parser

    if command == "bench":
        parser = bench.build_parser()
    elif command == "dashboard":
        parser = dashboard.parser()
    else:
        sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
        if command not in sub.choices:
            return None
        parser = sub.choices[command]
    return {s for a in parser._actions for s in a.option_strings}


def inline_flags(path: Path) -> list[tuple[str, str]]:
    """(inline code, unknown flag) for every ``pinn COMMAND ... --flag`` span of a page whose flag the command
    lacks; fenced blocks are left to the block checks."""
    text = re.sub(r"^ *(`{3,}|~{3,}).*?^ *\1\s*$", "", path.read_text(), flags=re.S | re.M)
    bad = []
    for span in re.findall(r"`(pinn [^`]+)`", text):
        words = span.split()
        flags = option_strings(words[1]) if len(words) > 1 else None
        if flags is None:
            continue
        for w in words[2:]:
            flag = re.sub(r"[\[\]()|,.;:]+$", "", w.lstrip("[(")).split("=")[0]
            if flag.startswith("--") and len(flag) > 2 and flag not in flags:
                bad.append((span, flag))
    return bad


def run_python(listing: str) -> int:
    """Run the Python blocks of a JSON listing ``{page: [{"where", "code", "cwd"}, ...]}``: each page's blocks in
    order in one namespace of their own, in the page's working directory, with one torch thread (as the suite);
    report every page's first failure."""
    import traceback

    import torch

    torch.set_num_threads(1)
    failed = 0
    for page, todo in json.loads(Path(listing).read_text()).items():
        namespace: dict = {"__name__": "__main__"}
        for b in todo:
            os.chdir(b["cwd"])
            try:
                exec(compile(b["code"], b["where"], "exec"), namespace)  # noqa: S102 - the docs' own code
            except Exception:  # noqa: BLE001
                traceback.print_exc()
                print(f"FAILED: the Python block at {b['where']} ({page})", file=sys.stderr)
                failed += 1
                break
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(run_python(sys.argv[1]))
