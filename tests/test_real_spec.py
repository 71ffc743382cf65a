"""Real problems in specs (issue 34): domains with holes (pieces, normals, masked evaluation), the periodic penalty,
unknown coefficients, data terms and scattered references; each wired through the trainer."""
import math
from pathlib import Path

import numpy as np
import pytest
import shapely
import torch
from scipy.stats import chi2

from pinncore import RunConfig, Trainer
from pinncore.data import read_table, relative_l2
from pinncore.problems.periodic import periodic_term
from pinncore.problems.spec import describe, file_fields, load_spec_file, problem_class, with_files
from pinncore.sampling import BLOCK, Sampler
from pinncore.unknowns import Unknown, UnknownValues

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "problems"
SMALL = dict(depth=2, width=16, batch=32, eval_points=24, grad_every=0)


def example(name: str) -> str:
    return load_spec_file(EXAMPLES / f"{name}.toml")


def trainer(text: str, method: str = "M1", **kw) -> Trainer:
    return Trainer(RunConfig.from_method(method, problem=problem_class(text).name, spec=text, **{**SMALL, **kw}))


# -- domains with holes -------------------------------------------------------------------------------------------
def test_the_trainer_samples_the_region_uniformly_in_blocks():
    """The interior term's points over 200 steps (drawn BLOCK steps at a time) fill the square minus its holes
    uniformly: chi-square on 16 x 16 cells, each expecting its exact area share."""
    t = trainer(example("poisson-holes"), batch=128)
    pts = np.concatenate([t.sampler.draw(t.generator)[0].double().numpy() for _ in range(200)])
    region = t.problem.region
    assert pts.shape == (200 * 128, 2) and region.mask(pts).all()
    edges = np.linspace(-1, 1, 17)
    counts, _, _ = np.histogram2d(pts[:, 0], pts[:, 1], bins=[edges, edges])
    share = np.array([[shapely.box(edges[i], edges[j], edges[i + 1], edges[j + 1]).intersection(
        region.geometry).area for j in range(16)] for i in range(16)])
    expected = len(pts) * share / share.sum()
    ok = expected >= 5
    p = chi2.sf(((counts[ok] - expected[ok]) ** 2 / expected[ok]).sum(), ok.sum() - 1)
    assert p > 1e-3, p


def test_boundary_pieces_carry_exact_outward_normals_into_u_n():
    """The Neumann term samples the 'vent' circle (to 1e-12) with unit normals pointing into the hole, and its
    residual u_n - exact_n vanishes for the exact solution."""
    problem = problem_class(example("poisson-holes"))()
    flux = next(t for t in problem.terms() if t.name == "flux")
    assert flux.aux == ("n_x", "n_y") and flux.needs == ("x", "y")
    pts = flux.sample(500, torch.Generator().manual_seed(1), torch.float64)
    x, extra = flux.split(pts)
    rel = x.numpy() - np.array([0.4, 0.35])
    n = torch.cat([extra["n_x"], extra["n_y"]], 1).numpy()
    assert np.abs(np.hypot(*rel.T) - 0.3).max() < 1e-12
    assert np.abs(np.hypot(*n.T) - 1).max() < 1e-12 and np.abs(n + rel / 0.3).max() < 1e-12
    r = flux.residuals(problem.exact, pts.clone(), "autograd")
    assert r.abs().max() < 1e-12
    bc = next(t for t in problem.terms() if t.name == "bc")
    assert bc.aux == () and bc.groups == 2  # Dirichlet: no normals carried, one batch per piece


def test_evaluation_is_masked_to_the_region():
    t = trainer(example("poisson-holes"), steps=2, eval_every=1)
    inside = t.problem.mask(t.grid)
    assert 0.5 < inside.mean() < 0.9
    assert np.isnan(t.reference_field.ravel()[~inside]).all() and np.isfinite(t.reference_field.ravel()[inside]).all()
    snap = t.evaluate()
    pred = snap.prediction.ravel().astype(np.float64)
    assert np.isnan(pred[~inside]).all()
    ref = t.reference_field.ravel()[inside]
    assert snap.rel_l2 == pytest.approx(np.linalg.norm(pred[inside] - ref) / np.linalg.norm(ref), rel=1e-6)
    lo, hi = np.array(t.problem.domain).T
    assert np.allclose(lo, -1) and np.allclose(hi, 1) and t.problem.stats()[0][0] != 0.0  # the region's mean


# -- periodic -----------------------------------------------------------------------------------------------------
def test_the_periodic_penalty_vanishes_for_a_periodic_function_only():
    inputs, domain = ("x", "t"), ((-1.0, 1.0), (0.0, 1.0))
    term = periodic_term(inputs, domain, ["x"], derivatives=True)
    pts = term.sample(256, torch.Generator().manual_seed(0), torch.float64)
    assert pts.shape == (512, 2) and (pts[:256, 0] == -1).all() and (pts[256:, 0] == 1).all()
    assert torch.equal(pts[:256, 1], pts[256:, 1])

    def periodic(x):
        return torch.sin(math.pi * x[:, :1] + 0.3) * torch.exp(-x[:, 1:]) + torch.cos(2 * math.pi * x[:, :1]) ** 2

    def not_periodic(x):
        return x[:, :1] ** 3 + x[:, 1:]

    assert term.loss(periodic, pts.clone(), "autograd").item() < 1e-28
    value_only = periodic_term(inputs, domain, ["x"], derivatives=False)
    assert value_only.needs == () and value_only.loss(lambda x: x[:, :1] ** 2, pts.clone(), "autograd") < 1e-28
    assert term.loss(lambda x: x[:, :1] ** 2, pts.clone(), "autograd") > 1.0  # u_x differs: 2x at -1 and 1
    assert term.loss(not_periodic, pts.clone(), "autograd") > 1.0


def test_periodic_modes_in_a_spec():
    penalty = problem_class(example("convection"))()
    assert [t.name for t in penalty.terms()] == ["res", "ic", "periodic"] and penalty.periodic == {}
    text = example("convection").replace('periodic_mode = "penalty"', 'periodic_mode = "embedding"')
    embedded = problem_class(text)()
    assert [t.name for t in embedded.terms()] == ["res", "ic"]
    assert embedded.periodic == {"x": pytest.approx(2 * math.pi)}
    default = problem_class(text.replace('periodic_mode = "embedding"\n', ""))()
    assert default.periodic == embedded.periodic  # the embedding is the default
    assert describe(example("allen-cahn"))["periodic"] == {"inputs": ["x"], "mode": "penalty", "derivatives": True,
                                                           "periods": {"x": 2.0}}


def test_the_penalty_matches_slopes_where_the_equation_is_of_second_order_in_the_periodic_input():
    """Left out, periodic_derivatives follows the equations: Allen-Cahn reads u_xx (values and u_x matched),
    convection only u_x (values alone); given, it is obeyed either way."""
    def penalty(text):
        return next(t for t in problem_class(text)().terms() if t.name == "periodic")

    assert penalty(example("allen-cahn")).needs == ("x",) and penalty(example("convection")).needs == ()
    assert describe(example("convection"))["periodic"]["derivatives"] is False
    forced = example("convection").replace('periodic_mode = "penalty"', 'periodic_mode = "penalty"\n'
                                                                           'periodic_derivatives = true')
    assert penalty(forced).needs == ("x",) and describe(forced)["periodic"]["derivatives"] is True
    off = example("allen-cahn").replace('periodic_mode = "penalty"', 'periodic_mode = "penalty"\n'
                                                                       'periodic_derivatives = false')
    assert penalty(off).needs == ()


# -- unknowns -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("low, high", [(0.01, 1.0), (0.01, None), (None, 2.0), (None, None)])
def test_unknown_transforms_start_at_the_initial_value_and_keep_the_bounds(low, high):
    u = Unknown("kappa", 0.5, low, high)
    values = UnknownValues((u,)).double()
    assert values()["kappa"].item() == pytest.approx(0.5, rel=1e-7)  # the raw parameter is made in float32
    for raw in (-40.0, 40.0):
        v = u.value(torch.tensor(raw, dtype=torch.float64)).item()
        assert (low is None or v >= low) and (high is None or v <= high)


def test_the_inverse_example_trains_the_unknown_and_records_it(tmp_path):
    from pinncore.run import Run

    text = example("heat-inverse")
    config = RunConfig.from_method("M2", problem="heat-inverse", spec=text, steps=30, eval_every=10,
                                   checkpoint_every=10, **{k: v for k, v in SMALL.items() if k != "batch"})
    run = Run.create(config, tmp_path / "run")
    run.advance(30)
    kappa = [m.unknowns["kappa"] for m in run.metrics]
    assert len(kappa) == 30 and kappa[0] == pytest.approx(0.5, rel=1e-6) and kappa[-1] != kappa[0]
    data = next(t for t in run.trainer.terms if t.name == "data")
    assert data.pieces[0].rows(32) == 200  # every observation at every step
    stored = run.store.metrics()
    assert [m.unknowns for m in stored] == [m.unknowns for m in run.metrics]
    assert run.store.summary()["unknowns"]["kappa"] == pytest.approx(run.trainer.unknown_values()["kappa"])
    assert "unknowns.raw.kappa" in dict(run.trainer.loss_module.named_parameters())


# -- files --------------------------------------------------------------------------------------------------------
def _scattered_spec(tmp_path) -> tuple[str, Path]:
    rng = np.random.default_rng(0)
    s = np.linspace(0, 1, 26)[:-1]  # a solver's nodes include the boundary: 100 on it, 1,900 inside
    edge = np.concatenate([np.stack([s, 0 * s], 1), np.stack([1 + 0 * s, s], 1), np.stack([1 - s, 1 + 0 * s], 1),
                           np.stack([0 * s, 1 - s], 1)])
    pts = np.concatenate([edge, rng.uniform([0, 0], [1, 1], (1900, 2))])
    u = np.sin(math.pi * pts[:, 0]) * np.exp(-pts[:, 1])
    f = tmp_path / "ref.txt"
    rows = "\n".join(f"{a:.17g} {b:.17g} {c:.17g}" for a, b, c in zip(*pts.T, u))
    f.write_text("% exported by a solver\n% x y u\n" + rows)
    text = (f'name = "scattered"\n[inputs]\nx = [0, 1]\ny = [0, 1]\n[[terms]]\nname = "res"\non = "interior"\n'
            f'residual = "u_xx + u_yy"\n[evaluate]\nreference = "{f}"\n')
    return text, f


def test_a_scattered_reference_is_interpolated_for_pictures_and_scored_on_its_own_points(tmp_path):
    text, f = _scattered_spec(tmp_path)
    t = trainer(text, eval_points=41)
    exact = np.sin(math.pi * t.grid[:, 0]) * np.exp(-t.grid[:, 1])
    err = np.linalg.norm(t.reference_field.ravel() - exact) / np.linalg.norm(exact)
    assert err < 1e-2  # linear on 2,000 scattered points; nearest outside their hull (the grid's corners)
    snap = t.evaluate()
    table = read_table(f, ("x", "y", "value"))
    pred = t.problem.predict(t.model, torch.as_tensor(table.points(("x", "y")), dtype=torch.float32))
    assert snap.rel_l2 == pytest.approx(relative_l2(pred.double().numpy(), table, ("x", "y"), "value"), rel=1e-6)


def test_file_fields_are_listed_and_made_absolute():
    text = load_spec_file(EXAMPLES / "heat-inverse.toml")
    files = file_fields(text)
    assert list(files) == ["terms[3].data.file"] and Path(files["terms[3].data.file"]).is_absolute()
    moved = with_files(text, {"terms[3].data.file": "/elsewhere/obs.csv"})
    assert file_fields(moved) == {"terms[3].data.file": "/elsewhere/obs.csv"}


def test_a_blocked_sampler_resumes_exactly():
    """Two trainers of a region problem: one runs 50 steps straight, the other 21, hands its state (with the
    unused rest of its sample blocks) to a fresh trainer, which runs the other 29: identical parameters."""
    text = example("poisson-holes")
    a = trainer(text, steps=50, eval_every=0)
    a.step(50)
    b = trainer(text, steps=50, eval_every=0)
    b.step(21)
    state = b.state_dict()
    assert set(state["sampler"]) == {"res", "bc", "flux"} and len(state["sampler"]["res"]) == BLOCK - 21
    c = trainer(text, steps=50, eval_every=0)
    c.load_state_dict(state)
    c.step(29)
    for p, q in zip(a.model.parameters(), c.model.parameters()):
        assert torch.equal(p, q)
    with pytest.raises(ValueError, match="sampler state"):
        Sampler(a.terms, 32, torch.float32, torch.device("cpu")).load_state_dict({"res": torch.zeros(3)})


# -- exports ------------------------------------------------------------------------------------------------------
def test_exports_carry_the_unknowns_and_masked_fields(tmp_path):
    """The HTML page charts kappa against step and states it with its true value; TensorBoard has unknown/kappa at
    every stored step; a domain with holes exports its fields with the holes blank (NaN)."""
    from pinncore.run import Run
    from pinnlab.export.html import comparison_html
    from pinncore.store import RunStore

    small = {k: v for k, v in SMALL.items() if k != "batch"}
    for name in ("heat-inverse", "poisson-holes"):
        run = Run.create(RunConfig.from_method("M2", problem=name, spec=example(name), steps=12, eval_every=6,
                                               grad_every=6, **{k: v for k, v in small.items() if k != "grad_every"}),
                         tmp_path / name)
        run.advance(12)
        run.close()
    page = comparison_html([tmp_path / "heat-inverse", tmp_path / "poisson-holes"])
    kappa = RunStore(tmp_path / "heat-inverse").summary()["unknowns"]["kappa"]
    assert 'id="fig-unknowns"' in page and f"{kappa:.4g} (true 0.1, " in page
    grid, field = RunStore(tmp_path / "poisson-holes").reference()
    assert np.isnan(field).any() and np.isfinite(field).any()
    pytest.importorskip("tensorboard")
    from pinnlab.export.tensorboard import write_tensorboard
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    (d, _) = write_tensorboard([tmp_path / "heat-inverse", tmp_path / "poisson-holes"], tmp_path / "tb")
    ea = EventAccumulator(str(d), size_guidance={"scalars": 0})
    ea.Reload()
    stored = RunStore(tmp_path / "heat-inverse").metrics()
    assert [e.value for e in ea.Scalars("unknown/kappa")] == [float(np.float32(m.unknowns["kappa"])) for m in stored]


def test_normal_derivatives_of_any_output_and_definition():
    """psi_n and v_n (a definition) are n . grad over the spatial inputs, with time in the domain too."""
    text = """name = "psi"
outputs = ["psi"]
solution = "x^2*y*(1 + t)"
[inputs]
x = [-1, 1]
y = [-1, 1]
t = [0, 1]
[define]
v = "psi_x*y"
[domain]
holes = [{ shape = "disk", center = [0, 0], radius = 0.5, name = "hole" }]
[[terms]]
name = "res"
on = "interior"
residual = "psi_t - psi_xx"
[[terms]]
name = "wall"
on = "hole"
residual = ["psi_n - exact_n", "v_n"]
[[terms]]
name = "ic"
on = "t = 0"
residual = "psi - exact"
"""
    problem = problem_class(text)()
    wall = problem.terms()[1]
    assert wall.aux == ("n_x", "n_y", "n_t") and problem.terms()[2].pieces[0].piece == "initial"
    pts = wall.sample(300, torch.Generator().manual_seed(2), torch.float64)
    r = wall.residuals(problem.exact, pts.clone(), "autograd")
    x, y, t = pts[:, 0], pts[:, 1], pts[:, 2]
    nx, ny = -x / 0.5, -y / 0.5  # out of the domain: into the hole
    assert r[:, 0].abs().max() < 1e-12  # the network is exact here: psi_n - exact_n = 0
    v_n = nx * 2 * y**2 * (1 + t) + ny * 4 * x * y * (1 + t)  # v = psi_x y = 2 x y^2 (1 + t)
    assert torch.allclose(r[:, 1], v_n, atol=1e-12)
