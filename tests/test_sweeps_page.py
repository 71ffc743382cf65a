"""The Sweeps page under AppTest: lists the sweeps of the runs root, shows the table and one heatmap panel per
method, holds the other swept settings fixed, and links every cell and run to the main page's ?open=."""
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from dashboard import sweeps as sw
from pinncore import RunConfig
from pinncore.run import Run
from pinnlab.sweep import plan, write_results, write_sweep

PAGE = str(Path(__file__).resolve().parent.parent / "dashboard" / "subpages" / "sweeps_page.py")


def make_sweep(out: Path, complete: bool = True) -> list[str]:
    """A small sweep written in-process (no Ray needed to test the page): M1 / M2 x depth 1, 2 x width 4, 8 x
    seed 0, 1 x lr 1e-3, 2e-3; the last run is left unfinished when not ``complete``."""
    configs = [RunConfig(problem="poisson1d", model="mlp", weighting=w, depth=d, width=k, seed=s, lr=lr, steps=5,
                         batch=8, eval_points=8, eval_every=5, grad_every=0).validated()
               for w in ("fixed", "annealing") for d in (1, 2) for k in (4, 8) for s in (0, 1) for lr in (1e-3, 2e-3)]
    tasks = plan(configs, out)
    for i, t in enumerate(tasks):
        run = Run.create(t.config, t.path)
        run.advance(5 if complete or i < len(tasks) - 1 else 2)
        run.save()
        run.close()
    meta = {"kind": "sweep", "runs": [t.path.relative_to(out).as_posix() for t in tasks], "complete": complete,
            "updated": "2026-01-01 00:00:00", "command": ["pinn", "sweep", "--grid", "..."], "elapsed_s": 3.0}
    out.mkdir(parents=True, exist_ok=True)
    write_sweep(out, meta)
    write_results(out, meta)
    return meta["runs"]


@pytest.fixture
def root(tmp_path, monkeypatch):
    monkeypatch.setenv("PINN_RUNS_DIR", str(tmp_path / "runs"))
    return tmp_path / "runs"


def test_no_sweep_yet_says_how_to_start_one(root):
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception
    assert "No sweeps under" in at.info[0].value and "pinn sweep --grid" in at.info[0].value
    # a sweep that finishes in under a minute here, not the 72-run Table 2 one, whose cost is said
    assert "8 runs of 1,000 steps" in at.info[0].value and "72 runs" in at.info[0].value


def test_sweep_table_heatmap_and_links(root):
    runs = make_sweep(root / "sweeps" / "grid")
    make_sweep(root / "sweeps" / "other", complete=False)
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception and not at.error
    sweeps = at.selectbox(key="sw_sweep")
    assert len(sweeps.options) == 2
    sweeps.set_value(str(root / "sweeps" / "grid")).run()
    assert not at.exception and not at.warning  # a complete sweep

    # lr is swept too: it gets a picker and the heatmap shows one value of it
    lr = at.selectbox(key="sw_fix_lr")
    assert lr.options == ["0.001", "0.002"] and lr.value == 0.001
    fig = at.get("plotly_chart")[0].proto.spec
    assert '"type":"heatmap"' in fig.replace(" ", "") and "M1" in fig and "M2" in fig

    table = at.dataframe[0].value
    assert len(table) == 16 and set(table.lr) == {0.001}  # 2 methods x 2 depths x 2 widths x 2 seeds
    link = table.iloc[0]["open"]
    opened = parse_qs(urlparse(link).query)["open"][0]
    assert opened == f"sweeps/grid/{table.iloc[0]['run']}" and (root / opened / "config.json").is_file()

    # a cell: its seeds open together in the main page
    cell = at.selectbox(key="sw_cell")
    assert len(cell.options) == 8 and cell.options[0] == "M1 · depth 1 · width 4"
    cell.set_value("M2 · depth 2 · width 8").run()
    button = at.get("link_button")[0].proto
    paths = parse_qs(urlparse(button.url).query)["open"][0].split(",")
    assert len(paths) == 2 and all(p.startswith("sweeps/grid/runs/poisson1d-M2-2x8-s") for p in paths)
    assert {p.removeprefix("sweeps/grid/") for p in paths} <= set(runs)

    lr.set_value(0.002).run()  # the other lr
    assert set(at.dataframe[0].value.lr) == {0.002}
    at.selectbox(key="sw_agg").set_value("best").run()
    assert not at.exception


def test_an_incomplete_sweep_says_how_to_continue(root):
    make_sweep(root / "sweeps" / "half", complete=False)
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception
    assert "not complete" in at.warning[0].value and "pinn sweep" in at.warning[0].value
    at.selectbox(key="sw_fix_lr").set_value(0.002).run()  # the unfinished run is the last, with lr 2e-3
    table = at.dataframe[0].value
    assert (table.status != "finished").sum() == 1
    assert not at.exception


def test_cells_and_urls():
    df = pd.DataFrame({"run": ["a", "b", "c"], "method": ["M1", "M1", "M2"], "depth": [3, 3, 3],
                       "width": [50, 50, 50], "seed": [1, 0, 0], "status": ["finished", "finished", "paused"],
                       "rel_l2": [0.2, 0.1, 0.5]})
    c = sw.cells(df, "mean")
    m1 = c[c.method == "M1"].iloc[0]
    assert m1.value == pytest.approx(0.15) and m1.runs == ["b", "a"] and m1.finished == 2
    assert c[c.method == "M2"].iloc[0].finished == 0  # an unfinished run is not averaged in
    assert sw.cells(df, "best")[lambda x: x.method == "M1"].iloc[0].value == 0.1
    assert sw.open_url(["x/mlp+grad-norm-1", "y"]) == "./?open=x/mlp%2Bgrad-norm-1,y"  # '+' is not a space
    assert sw.relative_to_root(Path("/r/s/run"), Path("/r")) == "s/run"
    assert sw.relative_to_root(Path("/elsewhere/run"), Path("/r")) is None
