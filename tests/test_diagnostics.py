"""The stiffness diagnostic: exact on a quadratic, independent of the training trajectory, persisted."""
import numpy as np
import pytest
import torch

from pinncore import RunConfig, StepRecord, StiffnessSnapshot, Trainer, top_hessian_eigenvalue
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


def test_stiffness_snapshots_are_stored_and_reloaded(tmp_path):
    run = Run.create(RunConfig(steps=6, **(SMALL | {"hessian_every": 3})), tmp_path / "r")
    run.advance(6)
    stored = run.store.snapshots("hess")
    assert [s.step for s in stored] == [0, 3]
    assert isinstance(stored[0], StiffnessSnapshot) and stored[0].lr == pytest.approx(1e-3)
