"""Each weighting variant equals a hand computation of its documented formula."""
import math

import numpy as np
import pytest
import torch

from pinncore import Annealing, ConfigError, GradNorm, RunConfig, Trainer, Weighting, make_weighting

RNG = np.random.default_rng(0)
LAYERS = ["encoder U", "layer 1", "output"]
G = {t: {k: torch.tensor(RNG.normal(scale=s, size=(3, 4))) for k in LAYERS}
     for t, s in (("res", 10.0), ("bc", 0.1), ("ic", 0.5))}
A = {t: {k: g.numpy() for k, g in gs.items()} for t, gs in G.items()}


def test_paper_variant_is_max_res_over_pooled_mean_of_unweighted_term():
    w = Annealing(["res", "bc", "ic"], initial={"bc": 3.0}, beta=0.9, variant="paper")
    w.update(G)
    top = max(np.abs(a).max() for a in A["res"].values())
    for t, lam0 in (("bc", 3.0), ("ic", 1.0)):
        pooled = np.concatenate([np.abs(a).ravel() for a in A[t].values()]).mean()
        assert w.lambdas[t] == pytest.approx(0.9 * lam0 + 0.1 * top / pooled, rel=1e-12)
    assert w.lambdas["res"] == 1.0


def test_released_code_variant_uses_weighted_term_mean_of_matrix_means_without_encoders():
    w = Annealing(["res", "bc", "ic"], initial={"bc": 3.0}, beta=0.9, variant="released-code")
    w.update(G)
    trunk = [k for k in LAYERS if not k.startswith("encoder")]
    top = max(np.abs(A["res"][k]).max() for k in trunk)
    for t, lam0 in (("bc", 3.0), ("ic", 1.0)):
        denominator = np.mean([np.abs(lam0 * A[t][k]).mean() for k in trunk])
        assert w.lambdas[t] == pytest.approx(0.9 * lam0 + 0.1 * top / denominator, rel=1e-12)


def test_released_code_fixed_point_is_the_square_root_of_the_statistic():
    w = Annealing(["res", "bc"], variant="released-code")
    for _ in range(400):
        w.update({t: G[t] for t in ("res", "bc")})
    trunk = [k for k in LAYERS if not k.startswith("encoder")]
    stat = max(np.abs(A["res"][k]).max() for k in trunk) / np.mean([np.abs(A["bc"][k]).mean() for k in trunk])
    assert w.lambdas["bc"] == pytest.approx(math.sqrt(stat), rel=1e-6)


def test_grad_norm_is_mean_norm_over_norm_for_every_term():
    w = GradNorm(["res", "bc", "ic"], beta=0.5)
    w.update(G)
    norms = {t: math.sqrt(sum((a**2).sum() for a in A[t].values())) for t in A}
    mean = np.mean(list(norms.values()))
    for t in A:
        assert w.lambdas[t] == pytest.approx(0.5 + 0.5 * mean / norms[t], rel=1e-12)


def test_fixed_keeps_user_values_and_never_updates():
    w = make_weighting("fixed", ["res", "bc"], initial={"bc": 7.0})
    assert not any(w.due(k) for k in range(100))
    assert w.update(G) == {"res": 1.0, "bc": 7.0}


def test_cadence_counts_from_step_zero():
    w = Annealing(["res", "bc"], every=10)
    assert [k for k in range(35) if w.due(k)] == [0, 10, 20, 30]
    assert GradNorm(["res", "bc"]).every == 1000


def test_trainer_feeds_the_true_per_term_gradients_to_the_weighting():
    """At step 0 the trainer's lambda equals the formula applied to autograd gradients computed here."""
    cfg = RunConfig.from_method("M2", problem="poisson1d", depth=2, width=8, steps=1, batch=16,
                                dtype="float64", eval_every=0, grad_every=0)
    probe = Trainer(cfg)
    losses = probe.losses()  # the same fresh minibatch the trainer will draw at step 0
    layers = probe.model.layer_weights()
    grads = {t: dict(zip(layers, torch.autograd.grad(L, list(layers.values()), retain_graph=True)))
             for t, L in losses.items()}  # the terms share one forward pass
    top = max(g.abs().max().item() for g in grads["res"].values())
    mean = np.mean([g.abs().mean().item() for g in grads["bc"].values()])
    trainer = Trainer(cfg)
    trainer.step(1)
    assert trainer.weighting.lambdas["bc"] == pytest.approx(0.9 + 0.1 * top / mean, rel=1e-9)


@pytest.mark.parametrize("kwargs,field", [({"beta": 1.0}, "beta"), ({"initial": {"xx": 1.0}}, "weights"),
                                          ({"initial": {"bc": -1.0}}, "weights"), ({"every": 0}, "update_every"),
                                          ({"variant": "v3"}, "annealing_variant")])
def test_bad_weighting_arguments_name_the_field(kwargs, field):
    with pytest.raises(ConfigError, match=field):
        Annealing(["res", "bc"], **kwargs)


def test_registry_rejects_unknown_names():
    with pytest.raises(ConfigError, match="weighting"):
        make_weighting("softadapt", ["res"])
    assert isinstance(make_weighting("fixed", ["res"], variant="paper"), Weighting)


def test_cavity_code_variant_is_the_max_over_matrices_of_per_matrix_ratios():
    w = Annealing(["res", "bc", "ic"], initial={"bc": 3.0}, beta=0.9, variant="cavity-code")
    w.update(G)
    trunk = [k for k in LAYERS if not k.startswith("encoder")]
    for t, lam0 in (("bc", 3.0), ("ic", 1.0)):
        ratio = max(np.abs(A["res"][k]).max() / np.abs(lam0 * A[t][k]).mean() for k in trunk)
        assert w.lambdas[t] == pytest.approx(0.9 * lam0 + 0.1 * ratio, rel=1e-12)
