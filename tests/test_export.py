"""pinnlab.export: the standalone HTML page and the TensorBoard event files, from tiny runs made here.

The HTML page is opened in headless Chromium (offline: no request may leave the page), the TensorBoard files are
read back with TensorBoard's own EventAccumulator and compared with the run store, value by value.
"""
import hashlib
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from pinncore import ConfigError, RunConfig, make_problem
from pinncore.records import GradSnapshot, StepRecord
from pinncore.run import Run
from pinncore.store import RunStore
from pinnlab.export import comparison_html, write_html, write_tensorboard
from pinnlab.export.data import load_runs
from pinnlab.export.figures import MAX_POINTS, envelope, pick_snapshots

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
TINY = dict(steps=30, width=8, eval_points=20, grad_every=10, eval_every=10, checkpoint_every=10)


def make_run(out: Path, method: str, problem: str, advance: int | None = None, **kw) -> Path:
    run = Run.create(RunConfig.from_method(method, problem=problem, **{**TINY, **kw}), out)
    try:
        run.advance(advance or run.trainer.config.steps)
    finally:
        run.close()
    return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """Finished Helmholtz M1 and M4 (with Hessian snapshots), an unfinished Klein-Gordon M2 (three terms), a
    finished 1D Poisson M3, a cavity M2 (two outputs, |u| evaluated) and a diverged copy of M1 (inf loss in its
    last stored step)."""
    root = tmp_path_factory.mktemp("runs")
    with pytest.MonkeyPatch.context() as mp:  # the cavity's reference: in the session's cache, as conftest does
        mp.setenv("PINNCORE_CACHE", os.environ.get("PINNCORE_TEST_CACHE")
                  or str(tmp_path_factory.getbasetemp() / "cache"))
        out = {"m1": make_run(root / "h-m1", "M1", "helmholtz", hessian_every=15),
               "m4": make_run(root / "h-m4", "M4", "helmholtz", hessian_every=15),
               "kg": make_run(root / "kg-m2", "M2", "klein-gordon", advance=20, steps=40),
               "poisson": make_run(root / "p-m3", "M3", "poisson1d"),
               "cavity": make_run(root / "c-m2", "M2", "cavity", steps=10, grad_every=5, eval_every=5)}
    diverged = root / "h-m1-diverged"
    shutil.copytree(out["m1"], diverged)
    store = RunStore(diverged)
    recs = store.metrics()
    last = recs[-1]
    recs[-1] = StepRecord(last.step, {t: float("inf") for t in last.losses}, last.lambdas, last.lr, last.wall)
    store.write_metrics(recs)
    store.write_json("summary.json", {**store.summary(), "status": f"diverged at step {last.step}"})
    out["diverged"] = diverged
    return out


def tree_digest(path: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(path.rglob("*")):
        if f.is_file():
            h.update(str(f.relative_to(path)).encode() + f.read_bytes() + str(f.stat().st_mtime_ns).encode())
    return h.hexdigest()


# -- decimation ------------------------------------------------------------------------------------------------
def test_envelope_keeps_extremes_spikes_and_the_last_point():
    rng = np.random.default_rng(0)
    x = np.arange(40_000)
    y = np.exp(-x / 5000) * (1 + 0.3 * rng.random(40_000))
    y[12_345] = 50.0
    y[777] = np.inf
    xs, ys = envelope(x, y)
    assert len(xs) <= MAX_POINTS + 1 and np.all(np.diff(xs) > 0)
    assert 12_345 in xs and xs[-1] == 39_999
    finite = np.where(np.isfinite(y), y, np.nan)
    assert np.nanmax(ys) == np.float32(50.0) and np.nanmin(ys) == np.float32(np.nanmin(finite))
    assert not np.isinf(ys).any()  # non-finite values become gaps
    short_x, short_y = envelope(x[:100], y[:100])
    assert len(short_x) == 100
    assert pick_snapshots(81) == list(range(81))
    picked = pick_snapshots(161)
    assert len(picked) == 100 and picked[0] == 0 and picked[-1] == 160


# -- HTML ------------------------------------------------------------------------------------------------------
def test_html_has_setup_compare_table_share_link_and_every_chart(runs, tmp_path):
    dirs = [runs["m1"], runs["m4"], runs["kg"], runs["poisson"], runs["diverged"], runs["cavity"]]
    before = {k: tree_digest(p) for k, p in runs.items()}
    path = write_html(dirs, tmp_path / "sub" / "compare.html")
    text = path.read_text()
    assert {k: tree_digest(p) for k, p in runs.items()} == before  # the runs are only read
    assert "Helmholtz 2D (a1=1, a2=4, lam=1)" in text and "u_tt + α·u_xx" in text and "u_xx = −C²" in text
    assert "pinn-dashboard 0.1.0, commit " in text
    assert "diverged at step 29" in text and "20 of 40" in text  # diverged; unfinished (KG: 20 of 40 steps)
    assert "http://localhost:8501/?mode=single&amp;problem=klein-gordon" in text
    for div in ("fig-loss", "fig-error", "fig-stiffness", *[f"fig-hist-{i}" for i in range(6)],
                *[f"fig-fields-{i}" for i in range(6)]):
        assert f'id="{div}"' in text, div
    assert "<script src=" not in text and "<link " not in text  # everything inline
    assert list(tmp_path.joinpath("sub").iterdir()) == [path]  # no temporary file left
    assert path.stat().st_mode & 0o777 == 0o644  # for sharing, not the temporary file's 0600
    labels = [r.label for r in load_runs(dirs)]
    assert len(set(labels)) == 6 and "M1 · h-m1-diverged" in labels and "Lid-driven cavity (Re=100)" in text
    assert "predicted |u|" in text  # the cavity's evaluated quantity


def test_html_of_m1_to_m4_gives_one_compare_link_and_the_improvement_factor(runs):
    text = comparison_html([runs["m1"], runs["m4"]])
    assert text.count('href="http://localhost:8501/?mode=compare&amp;problem=helmholtz') == 1
    assert "mode=single" not in text
    assert "M1 error / this error" in text and "1×" in text


def test_the_share_link_opens_the_same_setup_in_the_dashboard():
    settings = pytest.importorskip("dashboard.settings")
    from pinnlab.export.html import share_query

    config = RunConfig.from_method("M4", problem="klein-gordon", depth=5, width=20, steps=40_000, seed=3, lr=5e-4,
                                   params={"alpha": -2.0}, weights={"bc": 2.0}, grad_every=100, hessian_every=0)
    values, ignored = settings.parse_query(share_query(config, compare=False))
    assert ignored == []
    (back,) = settings.build_configs(values)
    assert make_problem(back.problem, **back.params).values == make_problem(config.problem, **config.params).values
    for name in ("problem", "model", "weighting", "depth", "width", "activation", "annealing_variant",
                 "beta", "weights", "lr", "decay_rate", "decay_steps", "batch", "steps", "seed", "grad_every",
                 "eval_every", "hessian_every", "hessian_k"):
        assert getattr(back, name) == getattr(config, name), name
    values, _ = settings.parse_query(share_query(config, compare=True))
    assert [c.label() for c in settings.build_configs(values)] == ["M1", "M2", "M3", "M4"]


def big_run(src: Path, dst: Path, steps: int = 40_000) -> Path:
    """A copy of ``src`` stretched to ``steps`` stored steps and a gradient snapshot every 500 (no training)."""
    shutil.copytree(src, dst)
    store = RunStore(dst)
    first = store.metrics()[0]
    rng = np.random.default_rng(1)
    store.write_metrics([StepRecord(k, {t: v * (1 + rng.random()) for t, v in first.losses.items()},
                                    first.lambdas, first.lr * 0.9 ** (k / 1000), k / 500) for k in range(steps)])
    g = store.snapshots("grad")[-1]
    for f in (dst / "snapshots").glob("grad_*.npz"):
        f.unlink()
    store.write_records([GradSnapshot(k, g.terms, g.layers, g.lambdas, g.edges, g.counts, g.max_abs, g.mean_abs,
                                      g.l2) for k in range(0, steps + 1, 500)])
    return dst


def test_a_40000_step_compare_of_four_runs_is_a_few_megabytes(runs, tmp_path):
    dirs = [big_run(runs[k], tmp_path / k) for k in ("m1", "m4", "kg", "poisson")]
    size = write_html(dirs, tmp_path / "big.html").stat().st_size
    print(f"40,000-step compare of 4 runs: {size / 1e6:.2f} MB")
    assert size < 7e6  # plotly.js itself is 4.8 MB


@pytest.mark.parametrize("bad, what", [("missing", "is not a directory"), ("empty", "no config.json"),
                                       ("bad-json", "malformed JSON"), ("bad-field", "depth"),
                                       ("bad-npz", "grad_0"), ("bad-parquet", "metrics.parquet"),
                                       ("bad-summary", "summary.json")])
def test_bad_runs_are_one_line_errors_naming_them_and_nothing_is_written(runs, tmp_path, bad, what):
    target = tmp_path / bad
    if bad == "empty":
        target.mkdir()
    elif bad != "missing":
        shutil.copytree(runs["m1"], target)
    if bad == "bad-json":
        (target / "config.json").write_text("{not json")
    elif bad == "bad-field":
        (target / "config.json").write_text('{"depth": -1}')
    elif bad == "bad-npz":
        next((target / "snapshots").glob("grad_*.npz")).write_bytes(b"not a zip file")
    elif bad == "bad-parquet":
        (target / "metrics.parquet").write_bytes(b"garbage")
    elif bad == "bad-summary":
        (target / "summary.json").write_text('{"steps_done": "many"}')
    out = tmp_path / "out"
    out.mkdir()
    for call in (lambda: write_html([runs["m4"], target], out / "page.html"),
                 lambda: write_tensorboard([runs["m4"], target], out / "tb")):
        with pytest.raises(ConfigError) as exc:
            call()
        msg = str(exc.value)
        assert "\n" not in msg and str(target) in msg and what in msg, msg
    assert list(out.iterdir()) == []


def test_unwritable_targets_are_one_line_errors(runs, tmp_path):
    a_file = tmp_path / "file"
    a_file.write_text("x")
    for call, what in ((lambda: write_html([runs["m1"]], tmp_path), "is a directory"),
                       (lambda: write_html([runs["m1"]], a_file / "page.html"), "not a writable directory"),
                       (lambda: write_tensorboard([runs["m1"]], a_file), "not a directory"),
                       (lambda: write_html([runs["m1"], runs["m1"]], tmp_path / "p.html"), "given twice"),
                       (lambda: write_html([], tmp_path / "p.html"), "no run directory")):
        with pytest.raises(ConfigError, match=what):
            call()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_a_run_just_created_and_locked_by_its_trainer_exports_too(tmp_path):
    run = Run.create(RunConfig.from_method("M2", problem="poisson1d", **TINY), tmp_path / "fresh")
    try:  # still held for training (its lock file is there) while it is exported
        assert (tmp_path / "fresh" / ".lock").exists()
        text = comparison_html([tmp_path / "fresh"])
        assert "0 of 30" in text and 'id="fig-loss"' in text and 'id="fig-hist-0"' not in text
        pytest.importorskip("tensorboard")
        (d,) = write_tensorboard([tmp_path / "fresh"], tmp_path / "tb")
        tags = accumulator(d).Tags()
        assert tags["scalars"] == [] and tags["histograms"] == [] and tags["images"] == []
    finally:
        run.close()


# -- TensorBoard -----------------------------------------------------------------------------------------------
def accumulator(path: Path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    ea = EventAccumulator(str(path), size_guidance={"scalars": 0, "histograms": 0, "images": 0, "tensors": 0})
    ea.Reload()
    return ea


def f32(v: float) -> float:
    return float(np.float32(v))


def test_tensorboard_scalars_histograms_and_images_equal_the_stored_run(runs, tmp_path):
    pytest.importorskip("tensorboard")
    keys = ("m1", "m4", "kg", "poisson", "diverged", "cavity")
    before = {k: tree_digest(runs[k]) for k in keys}
    dirs = write_tensorboard([runs[k] for k in keys], tmp_path / "tb")
    assert {k: tree_digest(runs[k]) for k in keys} == before
    assert [d.name for d in dirs] == ["M1 · h-m1", "M4", "M2 · kg-m2", "M3", "M1 · h-m1-diverged", "M2 · c-m2"]
    assert sorted(p.name for p in (tmp_path / "tb").iterdir()) == sorted(d.name for d in dirs)  # no staging left
    for key, d in zip(keys, dirs):
        store, ea = RunStore(runs[key]), accumulator(d)
        tags = ea.Tags()
        metrics = store.metrics()
        assert metrics, key
        for term in metrics[0].losses:
            for tag, get in ((f"loss/{term}", lambda r: r.losses[term]), (f"lambda/{term}", lambda r: r.lambdas[term])):
                events = ea.Scalars(tag)
                assert [e.step for e in events] == [r.step for r in metrics], (key, tag)
                assert [e.value for e in events] == [f32(get(r)) for r in metrics], (key, tag)
        assert [e.value for e in ea.Scalars("lr")] == [f32(r.lr) for r in metrics]
        evals = store.snapshots("eval")
        assert [(e.step, e.value) for e in ea.Scalars("rel_l2")] == [(s.step, f32(s.rel_l2)) for s in evals]
        hess = store.snapshots("hess")
        if hess:
            for term in hess[0].eigenvalues:
                assert [(e.step, e.value) for e in ea.Scalars(f"sigma_max/{term}")] == \
                       [(h.step, f32(abs(h.eigenvalues[term]))) for h in hess]
            assert [e.value for e in ea.Scalars("sigma_max/total")] == [f32(h.sigma_max) for h in hess]
        else:
            assert not [t for t in tags["scalars"] if t.startswith("sigma_max")]
        grads = store.snapshots("grad")
        assert grads
        expected = {f"grad_{t}/{layer}" for t in grads[0].terms for layer in grads[0].layers}
        assert set(tags["histograms"]) == expected
        for ti, t in enumerate(grads[0].terms):
            for li, layer in enumerate(grads[0].layers):
                events = ea.Histograms(f"grad_{t}/{layer}")
                assert [e.step for e in events] == [g.step for g in grads]
                for e, g in zip(events, grads):
                    h = e.histogram_value
                    assert list(h.bucket) == g.counts[ti, li].astype(float).tolist()
                    assert list(h.bucket_limit) == g.edges[1:].tolist()
                    assert (h.min, h.max, h.num) == (g.edges[0], g.edges[-1], g.counts[ti, li].sum())
        assert [e.step for e in ea.Images("field/prediction")] == [s.step for s in evals]
        assert len(ea.Images("field/error")) == len(evals)
        img = ea.Images("field/prediction")[-1]
        assert img.encoded_image_string[:4] == b"\x89PNG" and img.width > 0
    assert accumulator(dirs[2]).Scalars("loss/ic")  # Klein-Gordon's third term
    assert np.isinf(accumulator(dirs[4]).Scalars("loss/res")[-1].value)  # the diverged step is kept


def test_tensorboard_refuses_a_run_that_is_there_already_and_writes_nothing(runs, tmp_path):
    pytest.importorskip("tensorboard")
    logdir = tmp_path / "tb"
    write_tensorboard([runs["m4"]], logdir)
    before = tree_digest(logdir)
    with pytest.raises(ConfigError, match="M4' already exists"):
        write_tensorboard([runs["m1"], runs["m4"]], logdir)
    assert tree_digest(logdir) == before and sorted(p.name for p in logdir.iterdir()) == ["M4"]


# -- in a real browser -----------------------------------------------------------------------------------------
HIST_STATE = """id => { const gd = document.getElementById(id);
  return {y: Array.from(gd.data[0].y), x0: gd.data[0].x0, title: gd.layout.title.text}; }"""
DRAWN = """() => Array.from(document.querySelectorAll('.js-plotly-plot')).every(gd =>
  gd.querySelectorAll('.scatterlayer .trace, .heatmaplayer image, .hm image').length > 0)"""


@pytest.mark.browser
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="no chromium here (apt-get install -y chromium)")
def test_the_page_draws_offline_and_the_slider_moves_the_histograms(runs, tmp_path):
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    shots = Path(os.environ.get("PINN_ARTIFACTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    path = write_html([runs["m1"], runs["m4"], runs["poisson"]], tmp_path / "compare.html")
    requests, problems = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        try:
            context = browser.new_context(offline=True, viewport={"width": 1400, "height": 1000})
            page = context.new_page()
            page.on("request", lambda r: requests.append(r.url))
            page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.goto(path.as_uri())
            page.wait_for_function(DRAWN, timeout=30_000)
            # loss, error, stiffness, kernel traces, alignment, 3 histograms, 3 fields
            assert page.locator(".js-plotly-plot").count() == 11
            buttons = page.evaluate("() => Array.from(document.querySelectorAll('.modebar-btn'))"
                                    ".map(b => b.getAttribute('data-title'))")
            assert "Download plot as a PNG" in buttons and "Share chart..." not in buttons  # nothing goes online
            before = page.evaluate(HIST_STATE, "fig-hist-0")
            grads = RunStore(runs["m1"]).snapshots("grad")
            assert f"step {grads[-1].step} " in before["title"]  # the last snapshot first
            # a click at the rail's left end (scrolled into view) selects the first snapshot, step 0
            page.locator("#fig-hist-0 .slider-rail-touch-rect").click(position={"x": 3, "y": 20})
            page.wait_for_function(f"() => document.getElementById('fig-hist-0').layout.title.text"
                                   f".includes('step 0 ')", timeout=10_000)
            after = page.evaluate(HIST_STATE, "fig-hist-0")
            assert after["y"] == grads[0].counts[0, 0].astype(int).tolist() and after["y"] != before["y"]
            page.locator("#fig-hist-0").screenshot(path=str(shots / "export-histograms.png"))
            page.screenshot(path=str(shots / "export-page.png"), full_page=True)
        finally:
            browser.close()
    assert requests == [path.as_uri()], requests  # nothing but the page itself
    assert problems == []


# -- the command line ------------------------------------------------------------------------------------------
def test_pinn_export_writes_both_and_bad_input_is_one_line_exit_2(runs, tmp_path, capsys):
    from pinncli.main import main

    page, logdir = tmp_path / "c.html", tmp_path / "tb"
    assert main(["export", str(runs["m1"]), str(runs["m4"]), "--html", str(page), "--tensorboard",
                 str(logdir)]) == 0
    out = capsys.readouterr().out
    assert page.is_file() and sorted(p.name for p in logdir.iterdir()) == ["M1", "M4"]
    assert f"wrote {page}" in out and "M1, M4" in out
    for argv, what in ((["export", str(runs["m1"])], "--html FILE and/or --tensorboard DIR"),
                       (["export", str(tmp_path / "nope"), "--html", str(tmp_path / "x.html")], "nope"),
                       (["export", str(runs["m1"]), "--tensorboard", str(page)], "is not a directory")):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("pinn: error: ") and what in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.html", "tb"]
