"""Every run exports (issue 36): ``pinn export --html`` and the dashboard's download for a "your own PDE" run (the
equations from the spec stored in its config.json) and for any run whose records load (checkpoint.pt missing
included); a damaged run is one line naming the file, exit 2, nothing written."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from pinncli.main import main
from pinnlab.export import comparison_html, download_page

ROOT = Path(__file__).resolve().parent.parent
WAVE = ROOT / "examples" / "problems" / "wave.toml"
TINY = ["--steps", "12", "--depth", "1", "--width", "8", "--batch", "16", "--eval-points", "10", "--eval-every", "6",
        "--grad-every", "6", "--checkpoint-every", "6"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """A wave.toml run (c = 1.5) trained by the CLI, a copy without its checkpoint, and a built-in run without."""
    root = tmp_path_factory.mktemp("runs")
    assert main(["train", "--problem-file", str(WAVE), "--param", "c=1.5", "--out", str(root / "wave"), *TINY]) == 0
    assert main(["train", "--problem", "poisson1d", "--out", str(root / "poisson"), *TINY]) == 0
    out = {"wave": root / "wave"}
    for key in ("wave", "poisson"):
        shutil.copytree(root / key, root / f"{key}-no-checkpoint")
        (root / f"{key}-no-checkpoint" / "checkpoint.pt").unlink()
        out[f"{key}-no-checkpoint"] = root / f"{key}-no-checkpoint"
    return out


def export(capsys, *dirs: Path, page: Path) -> tuple[int, str, str]:
    rc = main(["export", *map(str, dirs), "--html", str(page)])
    out, err = capsys.readouterr()
    return rc, out, err


def test_a_spec_run_exports_with_its_equations_from_the_stored_spec(runs, tmp_path, capsys):
    rc, out, err = export(capsys, runs["wave"], page=tmp_path / "wave.html")
    assert rc == 0 and err == "" and f"wrote {tmp_path / 'wave.html'}" in out
    text = (tmp_path / "wave.html").read_text()
    assert "1D wave equation (c=1.5)" in text  # the problem row
    assert "res on interior: u_tt - c^2*u_xx = 0; ic on t = 0: u - exact = 0, u_t = 0; bc on x = 0, x = 1: u = 0" \
        in text  # the equation row, as written in the spec
    assert "<h2>Your own PDE: 1D wave equation</h2>" in text and "M1: c = 1.5" in text
    for tex in ("- c^{2} u_{xx} + u_{tt} = 0", "u_{t} = 0", "- exact + u = 0"):  # typeset, the LaTeX as title
        assert f'<span class=eq title="{tex}"' in text, tex
    assert text.count("<svg class=eq-svg") == 6  # res, ic (two), bc, the solution, the quantity
    assert "The spec, as stored in config.json" in text and "u_tt - c^2*u_xx" in text
    assert 'id="fig-loss"' in text and 'id="fig-fields-0"' in text  # the charts, fields against the closed form


def test_the_share_link_of_a_spec_run_opens_the_same_spec_in_the_dashboard(runs):
    settings = pytest.importorskip("dashboard.settings")
    from pinnlab.export.data import load_run
    from pinnlab.export.html import share_query

    config = load_run(runs["wave"]).config
    values, ignored = settings.parse_query(share_query(config, compare=False))
    assert ignored == [] and values["problem"] == "custom"
    (back,) = settings.build_configs(values)
    assert back.spec == config.spec == WAVE.read_text() and back.params == {"c": 1.5} and back.problem == "wave"
    for name in ("model", "weighting", "depth", "width", "batch", "steps", "seed", "eval_every", "grad_every"):
        assert getattr(back, name) == getattr(config, name), name


@pytest.mark.parametrize("key", ["wave-no-checkpoint", "poisson-no-checkpoint"])
def test_a_run_without_its_checkpoint_exports_from_its_records(runs, tmp_path, capsys, key):
    rc, _, err = export(capsys, runs[key], page=tmp_path / "page.html")
    assert rc == 0 and err == ""
    text = (tmp_path / "page.html").read_text()
    assert "12 of 12" in text and 'id="fig-loss"' in text and 'id="fig-error"' in text
    assert ("Your own PDE" in text) == key.startswith("wave")


def test_spec_and_built_in_runs_export_together_and_the_dashboard_download_is_the_same_page(runs):
    dirs = [runs["wave"], runs["poisson-no-checkpoint"]]
    text = comparison_html(dirs)
    assert "Your own PDE: 1D wave equation" in text and "u_xx = −C²·sin(Cx)" in text
    page = download_page(dirs).decode()
    strip = (lambda t: t.split("<p class=meta>Exported ")[1].split("</p>", 1)[1])  # the export's minute differs
    assert strip(page) == strip(text)


DAMAGE = {  # what is done to a copy of the wave run -> the file the one line must name
    "spec": ("config.json", lambda d: _edit_config(d, spec='name = "wave"\n[inputs]\nx = [0, 1]\n')),
    "config": ("config.json", lambda d: (d / "config.json").write_text('{"spec": 3')),
    "metrics": ("metrics.parquet", lambda d: (d / "metrics.parquet").write_bytes(b"not parquet")),
    "eval": ("eval_", lambda d: next((d / "snapshots").glob("eval_*.npz")).write_bytes(b"PK\x03\x04 torn")),
    "reference": ("reference.npz", lambda d: (d / "reference.npz").write_bytes(b"\x00" * 10)),
}


def _edit_config(run: Path, **fields) -> None:
    data = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**data, **fields}))


@pytest.mark.parametrize("damage", DAMAGE)
def test_a_damaged_spec_run_is_one_line_exit_2_and_nothing_is_written(runs, tmp_path, capsys, damage):
    run = tmp_path / "damaged"
    shutil.copytree(runs["wave"], run)
    names, spoil = DAMAGE[damage]
    spoil(run)
    out = tmp_path / "out"
    out.mkdir()
    rc, _, err = export(capsys, runs["poisson-no-checkpoint"], run, page=out / "page.html")
    assert rc == 2 and err.count("\n") == 1 and err.startswith("pinn: error: ") and str(run) in err, err
    assert names in err, err
    assert list(out.iterdir()) == []
    page = download_page([run]).decode()  # the dashboard's download: the same line, as a page, not an exception
    assert "This comparison could not be exported: " in page and names in page


@pytest.mark.browser
@pytest.mark.skipif(not Path(shutil.which("chromium") or "/usr/bin/chromium").exists(), reason="no chromium here")
def test_the_spec_page_draws_its_equations_offline(runs, tmp_path):
    import os

    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    page_file = tmp_path / "wave.html"
    page_file.write_text(comparison_html([runs["wave"]]))
    requests, problems = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium", headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        try:
            page = browser.new_context(offline=True, viewport={"width": 1300, "height": 1000}).new_page()
            page.on("request", lambda r: requests.append(r.url))
            page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.goto(page_file.as_uri())
            sizes = page.evaluate("() => Array.from(document.querySelectorAll('svg.eq-svg'))"
                                  ".map(s => s.getBoundingClientRect().width)")
            assert len(sizes) == 6 and min(sizes) > 10, sizes
            shots = Path(os.environ.get("PINN_ARTIFACTS", tmp_path))
            shots.mkdir(parents=True, exist_ok=True)
            page.locator("h2", has_text="Your own PDE").scroll_into_view_if_needed()
            page.screenshot(path=str(shots / "export-spec-equations.png"))
        finally:
            browser.close()
    assert requests == [page_file.as_uri()] and problems == [], (requests, problems)
