"""Hessian and gradient-imbalance diagnostics: exact against the full Hessian, weighted per term, independent of
the training trajectory, persisted (old snapshots too), and cheap enough on the paper's network."""
import time

import numpy as np
import pytest
import torch

from pinncore import (ConfigError, GradSnapshot, HessianSnapshot, RunConfig, StepRecord, StiffnessSnapshot, Trainer,
                      gradient_imbalance, top_hessian_eigenvalue)
from pinncore.diagnostics import hessian_matrix, lanczos
from pinncore.run import Run

SMALL = dict(depth=2, width=16, batch=32, eval_points=10, eval_every=0, grad_every=0)


def test_power_iteration_finds_the_largest_eigenvalue_of_a_quadratic():
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    eig = np.array([250.0, 40.0, 3.0, 1.0, 0.5, 0.1])
    a = torch.tensor(q @ np.diag(eig) @ q.T)
    x = torch.zeros(6, dtype=torch.float64, requires_grad=True)
    y = torch.zeros(2, 3, dtype=torch.float64, requires_grad=True)  # two parameter tensors, as a network has
    z = torch.cat([x[:3], y.ravel()[:3]])
    loss = 0.5 * z @ a @ z + 0 * (x.sum() + y.sum())
    gen = torch.Generator().manual_seed(0)
    assert top_hessian_eigenvalue(loss, [x, y], iters=200, tol=1e-10, generator=gen) == pytest.approx(250.0, rel=1e-6)


def test_lanczos_returns_the_top_k_by_magnitude_with_signs():
    d = torch.tensor([5.0, -9.0, 3.0, 0.5, -0.1, 7.0], dtype=torch.float64)
    out = lanczos(lambda v: d * v, 6, k=3, tol=1e-10, generator=torch.Generator().manual_seed(1))
    assert out == pytest.approx([-9.0, 7.0, 5.0], rel=1e-9)
    with pytest.raises(ConfigError, match="^k: "):
        lanczos(lambda v: v, 6, k=0)


def reference_spectrum(trainer: Trainer, term: str | None) -> np.ndarray:
    """Independently of pinncore.diagnostics: torch.autograd.functional.hessian of the loss as a function of
    the flat parameters (functional_call on a module that evaluates it), then eigh, largest |.| first."""
    names, params = zip(*trainer.model.named_parameters())
    sizes = [p.numel() for p in params]
    state = trainer._diagnostic_generator().get_state()
    lam = trainer.weighting.lambdas

    class Loss(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = trainer.model

        def forward(self):
            losses = trainer.losses(torch.Generator().set_state(state))
            return sum(lam[t] * L for t, L in losses.items() if term in (None, t))

    def f(flat):
        tensors = [t.view_as(p) for t, p in zip(flat.split(sizes), params)]
        return torch.func.functional_call(Loss(), {f"model.{n}": t for n, t in zip(names, tensors)}, ())

    h = torch.autograd.functional.hessian(f, torch.cat([p.detach().reshape(-1) for p in params]))
    values = torch.linalg.eigvalsh(h.double()).numpy()
    return values[np.argsort(-np.abs(values))]


def test_top_k_eigenvalues_match_the_full_hessian_within_one_percent():
    """Weighted terms (M2 after three lambda updates, so lambda_bc != 1), each term and the total, top 3."""
    trainer = Trainer(RunConfig.from_method("M2", steps=25, **SMALL))
    trainer.step(25)
    assert trainer.weighting.lambdas["bc"] != 1.0
    snap = trainer.stiffness(k=3)
    assert isinstance(snap, HessianSnapshot) and snap.lambdas == trainer.weighting.lambdas
    full = trainer.hessian_spectra()
    for term, got in [*snap.top.items(), (None, snap.top_total)]:
        want = reference_spectrum(trainer, term)[:3]
        assert np.allclose(got, want, rtol=1e-2), (term, got, want)
        mine = full[term or "total"]
        assert np.allclose(mine[np.argsort(-np.abs(mine))][:3], want, rtol=1e-6)
    assert snap.stability == pytest.approx(snap.lr * abs(snap.top_total[0]))


def test_the_full_hessian_is_refused_for_large_networks():
    trainer = Trainer(RunConfig(depth=3, width=50, eval_points=10, eval_every=0, grad_every=0))
    with pytest.raises(ConfigError, match="^params: .*5301"):
        hessian_matrix(lambda: trainer.losses()["res"], trainer.model)


def test_stiffness_snapshots_do_not_change_the_training_trajectory():
    plain = Trainer(RunConfig(steps=12, **SMALL)).step(12)
    probed_trainer = Trainer(RunConfig(steps=12, **(SMALL | {"hessian_every": 4})))
    probed = probed_trainer.step(12)
    same = lambda recs: [r.losses for r in recs if isinstance(r, StepRecord)]  # noqa: E731
    assert same(plain) == same(probed)
    snaps = [r for r in probed if isinstance(r, StiffnessSnapshot)]
    assert [s.step for s in snaps] == [0, 4, 8]
    assert all(s.total != 0 and set(s.eigenvalues) == {"res", "bc"} for s in snaps)


def test_stiff_helmholtz_has_a_far_stiffer_residual_than_the_mild_one():
    """Paper Fig. 5: a2 = 4 against a2 = 1, after a short training."""
    sigma = {}
    for a2 in (1.0, 4.0):
        t = Trainer(RunConfig(params={"a2": a2}, steps=1000, **(SMALL | {"depth": 3, "width": 50})))
        t.step(1000)
        sigma[a2] = abs(t.stiffness().eigenvalues["res"])
    assert sigma[4.0] > 20 * sigma[1.0], sigma


def test_one_snapshot_on_helmholtz_3x50_costs_under_two_seconds():
    trainer = Trainer(RunConfig(steps=200, eval_every=0, grad_every=0))
    trainer.step(200)
    t0 = time.perf_counter()
    snap = trainer.stiffness()
    assert time.perf_counter() - t0 < 2.0
    assert snap.sigma_max > 0


def test_stiffness_snapshots_are_stored_and_reloaded(tmp_path):
    run = Run.create(RunConfig.from_method("M2", steps=12, **(SMALL | {"hessian_every": 11})), tmp_path / "r")
    run.advance(12)
    stored = run.store.snapshots("hess")
    assert [s.step for s in stored] == [0, 11]
    assert isinstance(stored[0], HessianSnapshot) and stored[0].lr == pytest.approx(1e-3)
    assert stored[1].lambdas["bc"] == run.trainer.weighting.lambdas["bc"] != 1.0
    assert len(stored[1].top_total) == 1 and stored[1].top == {t: (v,) for t, v in stored[1].eigenvalues.items()}


def test_snapshots_of_the_earlier_format_still_load():
    old = {"step": np.array(5), "terms": np.array(["res", "bc"]), "values": np.array([900.0, 3.0]),
           "total": np.array(901.0), "lr": np.array(1e-3)}
    snap = HessianSnapshot.from_arrays(old)
    assert snap.eigenvalues == {"res": 900.0, "bc": 3.0} and snap.total == 901.0 and snap.lambdas == {}
    assert snap.stability == pytest.approx(0.901)
    again = HessianSnapshot.from_arrays(snap.arrays())
    assert again == snap


def test_gradient_imbalance_reads_the_snapshot_weighted_and_unweighted():
    snap = GradSnapshot(step=3, terms=("res", "bc"), layers=("layer 1", "output"), lambdas={"res": 1.0, "bc": 10.0},
                        edges=np.linspace(-3, 0, 4), counts=np.zeros((2, 2, 3)),
                        max_abs=np.array([[8.0, 2.0], [1.0, 1.0]]), mean_abs=np.array([[1.0, 1.0], [0.5, 0.1]]),
                        l2=np.ones((2, 2)))
    w = gradient_imbalance(snap, weighted=True)
    assert w.terms == ("bc",) and np.allclose(w.per_layer, [[16.0, 20.0]])
    assert w.overall["bc"] == pytest.approx(8.0 / 0.3)
    u = gradient_imbalance(snap)  # unweighted: grad L_bc = grad (lambda L_bc) / lambda
    assert np.allclose(u.per_layer, [[160.0, 200.0]]) and u.overall["bc"] == pytest.approx(80.0 / 0.3)


def test_the_imbalance_at_initialisation_grows_with_the_frequency():
    """Paper Section 2.3 (lesson 1): max|grad L_r| / mean|grad L_bc| at initialisation, one-hidden-layer
    networks, geometric mean over three seeds: C = 4 against C = 1."""
    def ratio(c):
        values = []
        for seed in range(3):
            t = Trainer(RunConfig(problem="poisson1d", params={"C": c}, depth=1, width=50, steps=1, seed=seed,
                                  grad_every=1, eval_every=0, eval_points=10))
            snap = next(r for r in t.step(1) if isinstance(r, GradSnapshot))
            values.append(gradient_imbalance(snap).overall["bc"])
        return np.exp(np.mean(np.log(values)))
    assert ratio(4.0) > 10 * ratio(1.0)
