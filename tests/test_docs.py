"""The docs cannot rot: the site builds strictly, and the code in README.md and docs/ runs (or says why it does not).

The conventions (docs/contributing/docs.md): a fenced block is ```bash (run in a scratch directory), ```python
(run; a page's blocks in order in one interpreter), ```toml / ```json (parsed) or ```text (not checked);
``<!-- not run: REASON -->`` before a block keeps it from running. Every ``pinn`` and ``python SCRIPT.py`` command
is parsed by its own argument parser, run or not, so a renamed flag fails here.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "docs" / "tools"))
import snippets  # noqa: E402
from snippets import Block, blocks, check_command, commands, doc_files  # noqa: E402

FILES = doc_files()
ALL = [b for f in FILES for b in blocks(f)]
PAGES = {f.relative_to(ROOT).as_posix(): f for f in FILES}


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def scratch(tmp_path: Path) -> tuple[Path, dict]:
    """A working directory like a clone's root for the docs' commands: examples/ and assets/ of the repository
    in it (read-only links), runs written into it; the environment puts this interpreter's `pinn` first."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    for name in ("examples", "assets"):
        (tmp_path / name).symlink_to(ROOT / name)
    env = dict(os.environ, PINN_RUNS_DIR=str(tmp_path / "runs"), RAY_USAGE_STATS_ENABLED="0", PINN_WARM="0",
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    return tmp_path, env


# -- the site ----------------------------------------------------------------------------------------------------
def test_the_site_builds_strictly(tmp_path):
    """mkdocs build --strict: broken links, missing anchors or images, pages left out of the nav, and every
    generated block (a RunConfig field without a comment fails it)."""
    if not os.environ.get("CI"):
        pytest.importorskip("mkdocs", reason="the docs extra is not installed (pip install -e '.[dev]')")
    site = tmp_path / "site"
    out = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(site)], cwd=ROOT,
                         capture_output=True, text=True, timeout=300,
                         env=dict(os.environ, NO_MKDOCS_2_WARNING="1"))
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    left = [rel_html.relative_to(site).as_posix() for rel_html in site.rglob("*.html")
            if "<!-- generated:" in rel_html.read_text(errors="replace")]
    assert not left, f"generated blocks left unexpanded (a typo in the marker?): {left}"
    fields = (site / "cli" / "runconfig" / "index.html").read_text()
    assert "checkpoint_every" in fields and "--hessian-every" in fields


def test_a_runconfig_field_without_a_comment_is_an_error(monkeypatch):
    from pinncli import args
    import generated

    docs = args.field_docs()
    monkeypatch.setattr(args, "field_docs", lambda: {k: v for k, v in docs.items() if k != "seed"})
    with pytest.raises(ValueError, match="seed"):
        generated.runconfig()


# -- what the blocks are -----------------------------------------------------------------------------------------
def test_every_block_says_what_it_is_and_why_it_is_not_run():
    bad = [f"{b.where}: fence language {b.lang!r}; use one of {sorted(snippets.LANGS)}" for b in ALL
           if b.lang not in snippets.LANGS]
    bad += [f"{b.where}: '<!-- not run: -->' needs a reason" for b in ALL if b.reason == ""]
    bad += [f"{b.where}: a {b.lang} block is never run; the marker belongs before bash or python"
            for b in ALL if b.reason and b.lang not in ("bash", "python")]
    assert not bad, "\n".join(bad)


def test_every_pinn_and_script_command_parses():
    """Run or not, each `pinn ...` / `python SCRIPT.py ...` command parses with its own parser (train also builds
    its RunConfig, sweep its grid)."""
    bad = []
    for b in ALL:
        if b.lang == "bash":
            for argv in commands(b.code):
                err = check_command(argv)
                if err:
                    bad.append(f"{b.where}: `{' '.join(argv)}`: {err}")
    assert not bad, "\n".join(bad)


def test_the_parse_check_catches_a_renamed_flag():
    assert check_command(["pinn", "train", "--problem", "helmholtz", "--steps", "10"]) is None
    assert "--stepz" in check_command(["pinn", "train", "--stepz", "10"])
    assert "method" in check_command(["pinn", "train", "--method", "M9"])
    assert check_command(["pinn", "bench", "--no-such-flag"])
    assert check_command(["python", "benchmarks/live_compare.py", "--repeats", "x"])
    assert check_command(["ssh", "-L", "8501:127.0.0.1:8501", "remote-host"]) is None  # not a pinn command


def test_inline_pinn_commands_name_real_flags():
    bad = [f"{rel(f)}: `{span}`: no flag {flag}" for f in FILES for span, flag in snippets.inline_flags(f)]
    assert not bad, "\n".join(bad)


def test_toml_and_json_blocks_parse():
    bad = []
    for b in ALL:
        try:
            if b.lang == "toml":
                tomllib.loads(b.code)
            elif b.lang == "json":
                json.loads(b.code)
        except ValueError as exc:
            bad.append(f"{b.where}: {exc}")
    assert not bad, "\n".join(bad)


# -- running them ------------------------------------------------------------------------------------------------
def runnable(lang: str) -> list[str]:
    return sorted({rel(b.path) for b in ALL if b.lang == lang and b.reason is None})


@pytest.mark.parametrize("page", runnable("bash"))
def test_bash_blocks_run(page, tmp_path):
    """A page's runnable bash blocks, in order, in one scratch directory (a later block may use an earlier one's
    runs)."""
    cwd, env = scratch(tmp_path)
    for b in blocks(PAGES[page]):
        if b.lang == "bash" and b.reason is None:
            out = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", b.code], cwd=cwd, env=env,
                                 capture_output=True, text=True, timeout=600)
            assert out.returncode == 0, f"{b.where} failed ({out.returncode}):\n{out.stdout[-2000:]}\n{out.stderr[-3000:]}"


def test_python_blocks_run(tmp_path):
    """Every page's runnable Python blocks, in order, in one namespace per page and a scratch directory per page;
    one interpreter for all pages (importing torch once)."""
    listing, env = {}, None
    for i, page in enumerate(runnable("python")):
        cwd, env = scratch(tmp_path / f"page{i}")
        listing[page] = [{"where": b.where, "code": b.code, "cwd": str(cwd)} for b in blocks(PAGES[page])
                         if b.lang == "python" and b.reason is None]
    (tmp_path / "blocks.json").write_text(json.dumps(listing))
    out = subprocess.run([sys.executable, str(ROOT / "docs" / "tools" / "snippets.py"), str(tmp_path / "blocks.json")],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-6000:]


# -- what the pages must hold ------------------------------------------------------------------------------------
def test_every_example_spec_is_included_from_its_file():
    text = (ROOT / "docs" / "pde" / "examples.md").read_text()
    missing = [p.name for p in sorted((ROOT / "examples" / "problems").glob("*"))
               if p.is_file() and f'--8<-- "examples/problems/{p.name}"' not in text]  # not __pycache__/
    assert not missing, f"include these in docs/pde/examples.md: {missing}"


def test_every_screenshot_is_taken_by_the_script_and_shown():
    from screenshots import SHOTS

    images = {p.stem for p in (ROOT / "docs" / "images").glob("*.png")}
    assert images == set(SHOTS), f"docs/images/ against the script's shots: {sorted(images ^ set(SHOTS))}"
    text = "\n".join(f.read_text() for f in FILES)
    unused = [name for name in sorted(images) if f"images/{name}.png" not in text]
    assert not unused, f"screenshots no page shows: {unused}"


def test_the_readme_is_short_and_its_links_exist():
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 200
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text)
    missing = [t for t in targets if not t.startswith(("http://", "https://")) and not (ROOT / t).exists()]
    assert not missing, missing


def test_the_readme_test_command_is_the_one_ci_runs():
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()[-1]
    readme = [b.code.strip() for b in blocks(ROOT / "README.md") if b.lang == "bash"]
    assert ci in readme, f"the README must show CI's command verbatim: {ci}"


def test_blocks_are_found_with_their_markers():
    """The extraction itself: a marker's reason, indentation inside lists, includes."""
    page = ROOT / "docs" / "contributing" / "docs.md"
    found = blocks(page)
    assert any(b.lang == "text" and "<!-- not run:" in b.code for b in found)
    assert any(b.lang == "bash" and b.reason and b.code.startswith("python docs/tools/screenshots.py") for b in found)
    wave = [b for b in blocks(ROOT / "docs" / "pde" / "examples.md") if 'name = "wave"' in b.code]
    assert wave and isinstance(wave[0], Block) and "u_tt - c^2*u_xx" in wave[0].code
    assert commands("nice -n 19 pinn train --steps 5 \\\n  --seed 1 && X=1 pinn eval runs/a  # comment") == [
        ["pinn", "train", "--steps", "5", "--seed", "1"], ["pinn", "eval", "runs/a"]]
