"""NTK weights and kernel traces, causal weights, the alignment score (issue 32): each against a computation made
here another way (an explicitly built Jacobian, hand-made numbers), and through the trainer, the run store and
the command line."""
import json
import math

import numpy as np
import pytest
import torch

from pinncore import ConfigError, RunConfig, Trainer
from pinncore.alignment import alignment, alignment_record
from pinncore.kernels import subset
from pinncore.store import RunStore
from pinncore.weighting import NTK
from pinncore.weighting.causal import Causal, causal_weights, chunk_losses

TINY = dict(depth=2, width=8, batch=6, steps=3, eval_every=0, grad_every=0, dtype="float64")


def explicit_trace_and_kernel(trainer, term: int, x: torch.Tensor):
    """J by a Python loop over points of nested-autograd residuals (the reference derivative path) and
    torch.autograd.grad: an independent computation of Tr K_ii and of K_ii = J J^T."""
    t, params = trainer.terms[term], trainer.params
    n, per_box = x.shape[0], x.shape[0] // len(t.boxes)
    rows = []
    for i in range(n):
        # a point in its own box's place: the residual of a multi-part spec term depends on the box
        pts = x[i:i + 1].repeat(len(t.boxes), 1) if not t.pointwise else x[i:i + 1]
        r = t.residuals(trainer.model, pts, "autograd")
        r = r[min(i // per_box, len(t.boxes) - 1)] if not t.pointwise else r[0]
        for c in range(r.shape[0]):
            g = torch.autograd.grad(r[c], params, retain_graph=True, allow_unused=True)
            rows.append(torch.cat([(gi if gi is not None else torch.zeros_like(p)).reshape(-1)
                                   for gi, p in zip(g, params)]))
    J = torch.stack(rows)
    K = J @ J.T
    return float(torch.trace(K)), K


@pytest.mark.parametrize("model", ["mlp", "modified-mlp"])
def test_vmapped_kernel_traces_equal_the_trace_of_an_explicit_jacobian(model):
    trainer = Trainer(RunConfig(problem="helmholtz", model=model, **TINY))  # res: 2nd derivatives; bc: 4 edges
    points = trainer._sample(trainer.generator)
    m = 5
    traces = trainer.kernels.traces(points, m)
    _, per_term, total = trainer.kernels.spectra(points, m)
    blocks = []
    for i, name in enumerate(trainer.term_names):
        x, _ = subset(points[i], m, len(trainer.terms[i].boxes))
        ref, K = explicit_trace_and_kernel(trainer, i, x)
        assert traces[name] == pytest.approx(ref, rel=1e-8, abs=1e-12)
        assert np.allclose(per_term[name], np.sort(torch.linalg.eigvalsh(K).numpy())[::-1], rtol=1e-8, atol=1e-9)
        blocks.append(K)
    assert np.sum(total) == pytest.approx(sum(float(torch.trace(K)) for K in blocks), rel=1e-8)


def test_a_spec_term_with_different_residuals_per_face_gets_each_points_own_residual(tmp_path):
    """The cavity spec's walls: one term, a residual per face (its parts): a point is taken in its own face."""
    from pathlib import Path

    text = (Path(__file__).resolve().parent.parent / "examples" / "problems" / "cavity.toml").read_text()
    trainer = Trainer(RunConfig(problem="cavity-spec", spec=text, **TINY))
    points = trainer._sample(trainer.generator)
    i = next(k for k, t in enumerate(trainer.terms) if not t.pointwise)
    x, _ = subset(points[i], 8, len(trainer.terms[i].boxes))
    ref, _ = explicit_trace_and_kernel(trainer, i, x)
    assert trainer.kernels.traces(points, 8)[trainer.term_names[i]] == pytest.approx(ref, rel=1e-8)


@pytest.mark.parametrize("example", ["convection", "allen-cahn"])
def test_a_periodic_penalty_terms_kernel_point_is_a_pair_on_opposite_faces(example):
    """The periodic penalty pairs each point with its partner on the opposite face: its kernel's "point" is the
    pair (``Term.paired``), and Tr K equals the sum of the squared parameter gradients of the pairs' residuals,
    computed here on the whole stacked layout with torch.autograd.grad."""
    from pathlib import Path

    text = (Path(__file__).resolve().parent.parent / "examples" / "problems" / f"{example}.toml").read_text()
    trainer = Trainer(RunConfig(problem=example, spec=text, **TINY))
    points = trainer._sample(trainer.generator)
    i = trainer.term_names.index("periodic")
    t = trainer.terms[i]
    assert t.paired == 1
    m = 4
    x, _ = subset(points[i], m, t.groups, t.paired)
    assert x.shape[:2] == (m, 2)
    layout = x.transpose(0, 1).reshape(2 * m, -1)  # [face low rows; face high rows], as the term samples them
    r = t.residuals(trainer.model, layout, "autograd")
    ref = 0.0
    for v in r.reshape(-1):
        g = torch.autograd.grad(v, trainer.params, retain_graph=True, allow_unused=True)
        ref += sum(float(gi.square().sum()) for gi in g if gi is not None)
    assert trainer.kernels.traces(points, m)["periodic"] == pytest.approx(ref, rel=1e-8)
    traces, per_term, _ = trainer.kernels.spectra(points, m)
    assert traces["periodic"] == pytest.approx(ref, rel=1e-8) and len(per_term["periodic"]) == r.numel()
    snapped = Trainer(RunConfig(problem=example, spec=text, **{**TINY, "grad_every": 1, "weighting": "ntk"}))
    kinds = {type(rec).__name__ for rec in snapped.step(3)}  # every run takes kernel snapshots: they once crashed here
    assert {"KernelSpectrum", "KernelTraces"} <= kinds and snapped.status == "finished"


def test_ntk_weights_follow_the_rule_on_a_hand_made_case():
    w = NTK(["res", "bc", "ic"], initial={"bc": 3.0}, beta=0.5)
    w.update({"res": 8.0, "bc": 2.0, "ic": 0.5})
    total = 10.5
    assert w.lambdas == pytest.approx({"res": 0.5 * 1 + 0.5 * total / 8, "bc": 0.5 * 3 + 0.5 * total / 2,
                                       "ic": 0.5 * 1 + 0.5 * total / 0.5})
    fresh = NTK(["res", "bc"])  # the paper: replaced (beta 0), every 100 steps
    assert fresh.every == 100 and fresh.update({"res": 4.0, "bc": 1.0}) == {"res": 1.25, "bc": 5.0}


def test_the_trainer_sets_ntk_weights_from_the_traces_of_its_batch():
    config = RunConfig(problem="poisson1d", weighting="ntk", ntk_points=4, **TINY)
    probe = Trainer(config)
    points = probe._sample(probe.generator)  # the batch the trainer draws at step 0
    traces = {}
    for i, name in enumerate(probe.term_names):
        x, _ = subset(points[i], 4, len(probe.terms[i].boxes))
        traces[name] = explicit_trace_and_kernel(probe, i, x)[0]
    trainer = Trainer(config)
    records = trainer.step(1)
    total = sum(traces.values())
    assert trainer.weighting.lambdas == pytest.approx({t: total / v for t, v in traces.items()}, rel=1e-9)
    kernel = next(r for r in records if type(r).__name__ == "KernelTraces")
    assert kernel.points == 4 and kernel.traces == pytest.approx(traces, rel=1e-9)


# -- causal weights ----------------------------------------------------------------------------------------------
def test_causal_weights_start_at_one_never_increase_and_carry_no_gradient():
    losses = torch.tensor([0.5, 0.0, 2.0, 0.1], requires_grad=True)
    w = causal_weights(losses, 1.5)
    assert w[0] == 1.0 and not w.requires_grad
    assert torch.all(w[1:] <= w[:-1])
    assert torch.allclose(w, torch.exp(-1.5 * torch.tensor([0.0, 0.5, 0.5, 2.5])))


def test_chunks_are_ordered_by_t_whatever_the_sampling_order():
    gen = torch.Generator().manual_seed(0)
    t = torch.rand(64, generator=gen, dtype=torch.float64)
    sq = torch.sin(7 * t) ** 2
    perm = torch.randperm(64, generator=gen)
    assert torch.equal(chunk_losses(sq, t, 8), chunk_losses(sq[perm], t[perm], 8))
    order = torch.argsort(t)
    assert torch.allclose(chunk_losses(sq, t, 8), sq[order].reshape(8, 8).mean(dim=1))


def test_the_causal_loss_has_the_plain_value_and_the_weighted_gradient():
    trainer = Trainer(RunConfig(problem="klein-gordon", causal=True, causal_chunks=3, causal_eps=2.0, **TINY))
    term = trainer.terms[trainer.causal.index]
    x = term.sample(6, trainer.generator, torch.float64)
    d = term.derivatives(trainer.model, x)
    loss = term.loss_of(d)
    sq = term.squared(d)
    L = chunk_losses(sq, x[:, trainer.causal.time], 3)
    w = causal_weights(L, 2.0)
    assert float(loss.detach()) == pytest.approx(float(sq.detach().mean()), rel=1e-12)  # the plain mean
    g = torch.autograd.grad(loss, trainer.params, retain_graph=True)
    ref = torch.autograd.grad((w * L).mean(), trainer.params)  # w constant: no gradient through it
    assert all(torch.allclose(a, b, rtol=1e-10, atol=1e-14) for a, b in zip(g, ref))


def test_a_causal_run_records_its_weights_and_the_paper_schedule_raises_eps():
    config = RunConfig(problem="klein-gordon", causal=True, causal_chunks=3, causal_every=2, **TINY)
    records = Trainer(config).step(3)
    causal = [r for r in records if type(r).__name__ == "CausalRecord"]
    assert [r.step for r in causal] == [0, 2]
    assert all(r.weights[0] == 1.0 and np.all(np.diff(r.t) > 0) and np.all(np.diff(r.weights) <= 0) for r in causal)
    c = Causal(config.make_problem(), config.make_problem().terms(), 6, 3, 0.01, "paper")
    c.raise_eps(np.array([1.0, 0.995, 0.991]))
    assert float(c.eps) == pytest.approx(0.1)
    c.raise_eps(np.array([1.0, 0.5, 0.2]))  # not every weight above 0.99: eps stays
    assert float(c.eps) == pytest.approx(0.1)


@pytest.mark.parametrize("config, field", [
    (dict(problem="helmholtz", causal=True), "causal: needs a problem with a time input"),
    (dict(problem="klein-gordon", causal=True, causal_chunks=7), "causal_chunks: must divide"),
    (dict(problem="klein-gordon", causal=True, causal_schedule="linear"), "causal_schedule"),
    (dict(weighting="ntk", ntk_beta=1.0), "ntk_beta"),
    (dict(ntk_points=0), "ntk_points"),
])
def test_bad_ntk_and_causal_settings_are_refused_naming_the_field(config, field):
    with pytest.raises(ConfigError, match=field):
        RunConfig(**config).validated()


# -- alignment -----------------------------------------------------------------------------------------------------
def test_the_alignment_score_is_the_cosine_for_two_terms_and_lies_in_minus_one_one():
    gen = torch.Generator().manual_seed(1)
    a, b = torch.randn(50, generator=gen, dtype=torch.float64), torch.randn(50, generator=gen, dtype=torch.float64)
    assert alignment([a, b]) == pytest.approx(float(a @ b / a.norm() / b.norm()), rel=1e-12)
    assert alignment([a, -3 * a]) == pytest.approx(-1.0) and alignment([a, 2 * a, 0.5 * a]) == pytest.approx(1.0)
    for _ in range(20):
        vs = [torch.randn(30, generator=gen) for _ in range(int(torch.randint(2, 6, (1,), generator=gen)))]
        assert -1.0 <= alignment(vs) <= 1.0


def test_per_layer_scores_use_the_layers_slices():
    gen = torch.Generator().manual_seed(2)
    w1, b1, w2 = (torch.randn(s, generator=gen, dtype=torch.float64) for s in ((4, 3), (4,), (2, 4)))
    per_term = {"res": [w1, b1, w2], "bc": [-w1, torch.randn(4, generator=gen, dtype=torch.float64), 2 * w2]}
    rec = alignment_record(7, per_term, {"layer 1": 0, "output": 2})
    assert rec.layers["layer 1"] == pytest.approx(-1.0) and rec.layers["output"] == pytest.approx(1.0)
    whole = alignment([torch.cat([g.reshape(-1) for g in per_term[t]]) for t in ("res", "bc")])
    assert rec.step == 7 and rec.score == pytest.approx(whole, rel=1e-12)
    assert math.isnan(alignment_record(0, {"res": [w1], "bc": [torch.zeros_like(w1)]}, {"l": 0}).score)


# -- trainer, engine, store, command line ----------------------------------------------------------------------------
@pytest.mark.parametrize("setup", [
    # NTK weights: the joint compiled step, and the kernel traces' own compiled graph at every update
    dict(problem="poisson1d", weighting="ntk", update_every=4, depth=1, width=8, batch=16, steps=9, grad_every=5),
    # causal weights (the sort inside the graph) with annealing (the per-term graph) and a snapshot
    dict(problem="klein-gordon", weighting="annealing", causal=True, causal_chunks=4, causal_every=3, depth=1,
         width=8, batch=8, steps=8, grad_every=5),
])
def test_the_new_recipes_train_compiled_and_agree_with_eager(setup):
    def trajectory(compiled: bool):
        trainer = Trainer(RunConfig(**setup, eval_every=0, compile=compiled))
        records = trainer.step(setup["steps"])
        return ([(r.losses, r.lambdas) for r in records if type(r).__name__ == "StepRecord"],
                [p.detach().clone() for p in trainer.params], trainer)

    eager, eager_params, _ = trajectory(False)
    compiled, compiled_params, trainer = trajectory(True)
    assert trainer.compile_seconds is not None  # it did compile (not a fallback to eager)
    assert len(compiled) == len(eager) == setup["steps"]
    for (le, lame), (lc, lamc) in zip(eager, compiled):
        assert lc == pytest.approx(le, rel=1e-4) and lamc == pytest.approx(lame, rel=1e-4)
    for pe, pc in zip(eager_params, compiled_params):
        assert torch.allclose(pc, pe, rtol=1e-4, atol=1e-6)


def test_a_diverging_ntk_or_causal_run_stops_cleanly_with_its_weights_as_before():
    for config in (RunConfig(problem="poisson1d", weighting="ntk", update_every=2, **TINY | {"steps": 10}),
                   RunConfig(problem="klein-gordon", causal=True, causal_chunks=3, **TINY | {"steps": 10})):
        t = Trainer(config)
        t.step(2)
        before = dict(t.weighting.lambdas)
        with torch.no_grad():
            t.model.out.bias.fill_(float("nan"))
        t.step(1)
        assert t.status == "diverged at step 2" and t.weighting.lambdas == before


def test_every_run_records_kernel_traces_spectra_and_alignment_at_its_snapshots(tmp_path):
    from pinncore.run import Run

    config = RunConfig(problem="klein-gordon", weighting="annealing", causal=True, causal_chunks=3,
                       **TINY | {"steps": 6, "grad_every": 3, "eval_every": 3, "ntk_eig_points": 4})
    run = Run.create(config, tmp_path / "run")
    records = run.advance(4)
    kinds = [type(r).__name__ for r in records]
    assert kinds.count("KernelTraces") == 2 and kinds.count("KernelSpectrum") == 2
    assert kinds.count("AlignmentRecord") == 2  # annealing's update at 0 and the snapshots at 0 and 3: same steps
    run.save()
    run.close()
    again = Run.open(tmp_path / "run")
    assert [r.step for r in again.series["kernel"]] == [0, 3] and [r.step for r in again.series["causal"]] == [0]
    assert again.series["alignment"][0].score == pytest.approx(run.series["alignment"][0].score)
    assert again.series["causal"][0].weights == pytest.approx(run.series["causal"][0].weights)
    assert [s.step for s in again.snapshots["ntk"]] == [0, 3]
    again.advance(2)
    again.close()
    from pinnlab.export import comparison_html

    page = comparison_html([tmp_path / "run"])
    assert "Kernel traces" in page and "Gradient alignment" in page and "Causal weights" in page
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from pinnlab.export import write_tensorboard

    (d,) = write_tensorboard([tmp_path / "run"], tmp_path / "tb")
    ea = EventAccumulator(str(d), size_guidance={"scalars": 0})
    ea.Reload()
    tags = set(ea.Tags()["scalars"])
    assert {"ntk_trace/res", "ntk_trace/ic", "ntk_trace/bc", "alignment/all", "causal/eps", "causal/min_w"} <= tags
    stored = RunStore(tmp_path / "run").series("kernel")
    assert [e.value for e in ea.Scalars("ntk_trace/res")] == pytest.approx(
        [k.traces["res"] / k.points for k in stored], rel=1e-6)


def test_the_command_line_trains_ntk_and_causal_weights_and_refuses_causal_without_time(tmp_path, capsys):
    from pinncli.main import main

    out = tmp_path / "kg"
    assert main(["train", "--problem", "klein-gordon", "--weighting", "ntk", "--causal", "--causal-chunks", "4",
                 "--depth", "1", "--width", "8", "--batch", "8", "--steps", "3", "--eval-points", "10",
                 "--no-compile", "--out", str(out)]) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["weighting"] == "ntk" and config["causal"] is True
    assert (out / "kernel.parquet").exists() and (out / "causal.parquet").exists()
    capsys.readouterr()
    assert main(["train", "--problem", "helmholtz", "--causal", "--steps", "3", "--out", str(tmp_path / "h")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "causal: needs a problem with a time input" in err[0]
    assert not (tmp_path / "h").exists()


def test_sweep_grids_range_over_the_new_fields():
    from pinnlab.sweep import expand, parse_grid

    configs = expand(parse_grid(["weighting=fixed,ntk", "causal=false,true", "causal_eps=1,10"]),
                     RunConfig(problem="klein-gordon", steps=10))
    # causal_eps changes nothing without causal weights: those points are one run each
    assert len(configs) == 2 * (1 + 2)
    assert {(c.weighting, c.causal, c.causal_eps) for c in configs} >= {("ntk", True, 10.0), ("fixed", False, 1.0)}


def test_a_spec_declares_its_time_input():
    from pathlib import Path

    from pinncore import problem_from_spec

    text = (Path(__file__).resolve().parent.parent / "examples" / "problems" / "heat.toml").read_text()
    assert problem_from_spec(text).time_index() == 1  # the input named t
    assert problem_from_spec('time = "x"\n' + text).time_index() == 0
    with pytest.raises(ConfigError, match="time: must name one of the inputs"):
        problem_from_spec('time = "s"\n' + text)
