"""The optimisers in the dashboard's charts and cards (issue 33), without Streamlit: the switch of an adam+lbfgs run
marked on step charts, sigma_max before and after it, the loss against the error, and a stalled run's card."""
import dataclasses
import math

import pytest
from runviews import trained_view

from dashboard import cards, figures, optim_figures
from pinncore import RunConfig

SMALL = dict(problem="poisson1d", depth=1, width=8, batch=16, eval_points=12, eval_every=5, grad_every=0,
             hessian_every=10, dtype="float64", lbfgs_batch=32)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Adam alone and Adam then L-BFGS from step 15, the same seed, 30 steps, stiffness every 10 steps."""
    root = tmp_path_factory.mktemp("runs")
    return (trained_view(RunConfig(steps=30, **SMALL), root / "adam", "Adam"),
            trained_view(RunConfig(steps=30, optimizer="adam+lbfgs", lbfgs_after=15, **SMALL), root / "mixed",
                         "mixed"))


def test_the_switch_is_the_first_l_bfgs_step_of_a_run_past_it(runs):
    adam, mixed = runs
    assert mixed.status == "finished" and mixed.steps[15].lr != mixed.steps[14].lr  # the step length from 15 on
    assert optim_figures.switch_step(adam) is None and optim_figures.switch_step(mixed) == 15
    assert optim_figures.switch_step(dataclasses.replace(mixed, steps_done=15)) is None  # not there yet


def test_step_charts_mark_the_switch_in_the_run_s_colour_and_keep_their_own_lines(runs):
    adam, mixed = runs
    alone = optim_figures.mark_switch(figures.error_figure([mixed]), [mixed])
    (line,) = alone.layout.shapes
    assert (line.x0, line.x1, line.xref, line.yref, line.y0, line.y1) == (15, 15, "x", "paper", 0, 1)
    assert line.label.text == "L-BFGS from here" and not alone.layout.annotations  # no annotation: no autorange
    both = optim_figures.mark_switch(figures.stability_figure([adam, mixed]), [adam, mixed])
    assert both.layout.shapes[0].y0 == 2  # the bound 2 stays first
    assert both.layout.shapes[1].x0 == 15 and both.layout.shapes[1].line.color == figures.run_colors(runs)["mixed"]
    assert both.layout.shapes[1].label.text == "L-BFGS from here"  # one adam+lbfgs run: its colour says which
    twice = [mixed, dataclasses.replace(mixed, name="again")]
    assert [s.label.text for s in optim_figures.mark_switch(figures.error_figure(twice), twice).layout.shapes] == \
        ["mixed, again: L-BFGS from here"]
    plain = figures.loss_figure([adam])
    assert optim_figures.mark_switch(plain, [adam]) is plain and not plain.layout.shapes  # no adam+lbfgs run


def test_sigma_max_before_and_after_the_switch_come_from_the_snapshots_around_it(runs):
    _, mixed = runs
    assert [h.step for h in mixed.hess] == [0, 10, 15, 20, 30]  # every 10 steps, at the switch and at the end
    rows = optim_figures.sigma_rows(runs)
    assert [(r["run"], r["term"]) for r in rows] == [("mixed", "res"), ("mixed", "bc")]
    at, last = mixed.hess[2], mixed.hess[4]
    for r in rows:
        assert (r["before at step"], r["after at step"]) == (15, 30)
        assert r["σ_max before"] == abs(at.eigenvalues[r["term"]]) and r["σ_max after"] == abs(last.eigenvalues[r["term"]])
        assert r["after / before"] == pytest.approx(r["σ_max after"] / r["σ_max before"])
    words = optim_figures.sigma_words(rows)
    assert words == (f"mixed: res {rows[0]['σ_max before']:.2g} → {rows[0]['σ_max after']:.2g}, "
                     f"bc {rows[1]['σ_max before']:.2g} → {rows[1]['σ_max after']:.2g} (steps 15 → 30)")
    early = dataclasses.replace(mixed, hess=mixed.hess[:3], steps_done=17)  # no snapshot after the switch yet
    assert "no snapshot after the switch yet" in optim_figures.sigma_words(optim_figures.sigma_rows([early]))


def test_the_loss_against_error_scatter_pairs_each_evaluation_with_its_step_s_weighted_loss(runs):
    _, mixed = runs
    fig = optim_figures.loss_error_figure(runs)
    assert fig.layout.xaxis.type == "log" and fig.layout.yaxis.type == "log"
    colors = figures.run_colors(runs)
    assert [(t.name, t.marker.color) for t in fig.data] == [("Adam", colors["Adam"]), ("mixed", colors["mixed"])]
    trace = fig.data[1]
    assert list(trace.y) == [e.rel_l2 for e in mixed.evals]  # at steps 0, 5, ..., 30
    by_step = {r.step: r for r in mixed.steps}
    for e, x in zip(mixed.evals, trace.x):
        rec = by_step.get(e.step, mixed.steps[-1])  # the last evaluation, at step 30, follows step 29's record
        assert x == pytest.approx(sum(rec.lambdas[t] * v for t, v in rec.losses.items()))
    assert list(trace.marker.symbol) == ["circle"] * 3 + ["diamond"] * 4  # L-BFGS from step 15
    assert set(fig.data[0].marker.symbol) == {"circle"}
    assert optim_figures.loss_error_words(runs).startswith(f"Adam: loss {fig.data[0].x[-1]:.2g} at error ")


def test_a_stalled_run_s_card_says_so_in_words_and_an_adam_lbfgs_card_its_phase(tmp_path):
    cfg = RunConfig(problem="poisson1d", params={"C": 1.0}, depth=1, width=8, batch=16, lbfgs_batch=16,
                    eval_points=12, steps=400, optimizer="adam+lbfgs", lbfgs_after=5, dtype="float32", eval_every=0,
                    grad_every=0, hessian_every=0)
    view = trained_view(cfg, tmp_path / "stall", "mixed")  # float32: its line search runs out of digits
    assert view.status.startswith("stalled at step ") and view.steps_done < 400
    assert cards.icon(view.status) == ":material/trending_flat:" != cards.icon("finished")
    short, detail = cards.status_words(view.status)
    k = view.steps_done - 1
    assert short == "stalled: L-BFGS found no lower loss"
    assert detail.startswith(f"its line search found no lower loss at step {k:,} (loss ") and "ended" in detail
    assert cards.status_words("finished") == ("finished", "") and cards.icon("diverged at step 3") == ":material/error:"
    assert cards.phase(view) == "L-BFGS from step 5"
    assert "Adam</span>" in cards.phase(dataclasses.replace(view, steps_done=3))
    assert cards.phase(dataclasses.replace(view, config=RunConfig())) == ""
    assert math.isfinite(view.steps[-1].losses["res"])
