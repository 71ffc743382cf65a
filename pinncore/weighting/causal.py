"""Causal weights of the residual over time: Wang, Sankaran & Perdikaris, "Respecting causality for training
physics-informed neural networks", Comput. Methods Appl. Mech. Engrg. 421 (2024) 116813, implemented from the
paper's equations. A switch (``RunConfig.causal``) on the residual term, combinable with any weighting of the
terms (fixed, annealing, grad-norm, NTK): those weight the whole residual loss against the others, this reweights
the residual's own points along t.

Each step the residual's batch is sorted by its time coordinate (whatever order it was sampled in) and split into
N_t chunks of equal size, earliest first; with L_i the mean squared residual of chunk i,

    w_i = exp(-eps * sum_{k<i} L_k)     (w_1 = 1; held constant: no gradient flows through the weights)
    L_res = n_boxes * mean_i w_i L_i    (with all w_i = 1 this is the ordinary residual loss)

so a later time only counts once the earlier ones are fitted: training moves forward in time. What a run records
as the loss of ``res`` is the plain mean squared residual (the value), while its gradient is that of L_res: runs
with and without causal weights compare on one scale, and the chunks' L_i and w_i are recorded on their own.
eps is fixed (``causal_eps``, default 1 as in jaxpi; the paper's Allen-Cahn example used 100) or, with the
``paper`` schedule, multiplied by 10 whenever min_i w_i > 0.99 (checked every ``causal_every`` steps), up to 100
(the paper's Kuramoto-Sivashinsky list 1e-2, 1e-1, 1, 10, 100 is ``causal_eps = 0.01``).

The algorithm is protected by a patent of the University of Pennsylvania for commercial use (the authors'
CausalPINNs repository says so): check before using causal training in a commercial product.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from ..errors import ConfigError
from ..problems.base import Term

SCHEDULES = ("fixed", "paper")
EPS_MAX = 100.0   # the paper schedule's last value
RAISE_AT = 0.99   # the paper's criterion: every weight above it, the current eps is satisfied


def chunk_losses(squared: Tensor, t: Tensor, chunks: int) -> Tensor:
    """The mean of ``squared`` (one value per point) in each of ``chunks`` equal chunks of points ordered by t."""
    order = torch.argsort(t, stable=True)
    return squared[order].reshape(chunks, -1).mean(dim=1)


def causal_weights(losses: Tensor, eps: Tensor | float) -> Tensor:
    """w_i = exp(-eps * sum_{k<i} L_k), detached (constants in the gradient)."""
    before = torch.cumsum(losses, 0) - losses
    return torch.exp(-eps * before).detach()


@dataclass(frozen=True)
class CausalTerm(Term):
    """The residual term with its loss reweighted along t (everything else, sampling and residual, as before)."""

    time: int = 0                 # the column of the time input
    chunks: int = 32
    eps: Tensor | None = None     # a 0-d float64 tensor shared with ``Causal`` (changed in place by the schedule)

    def squared(self, d) -> Tensor:
        sq = self.residual(d).pow(2)
        return sq.sum(dim=1) if self.columns == "sum" else sq.mean(dim=1)

    def loss_of(self, d) -> Tensor:
        """The causally weighted loss's gradient, with the plain loss's value: the value a run records for
        ``res`` stays the mean squared residual (comparable with a run without causal weights; the chunks' losses
        and weights are ``CausalRecord``s), what it trains on is n_boxes * mean_i w_i L_i.

        With chunks of equal size, mean_i w_i L_i = mean_x w_c(x) r(x)^2 (c(x): the chunk of point x), so the
        sort, the chunk losses and the weights are computed without gradient, and the differentiated part is one
        product and one mean over the points."""
        sq = self.squared(d)
        with torch.no_grad():
            t = d.x[:, self.time]
            order = torch.argsort(t, stable=True)
            losses = sq[order].reshape(self.chunks, -1).mean(dim=1)
            w = causal_weights(losses, self.eps.to(losses.dtype))
            per_point = torch.empty_like(sq).index_copy_(0, order, w.repeat_interleave(sq.shape[0] // self.chunks))
        weighted = (per_point * sq).mean()
        return self.groups * (weighted + (sq.mean() - weighted).detach())


class Causal:
    """The causal weighting of one trainer: wraps its residual term and keeps eps (and its schedule)."""

    def __init__(self, problem, terms: tuple[Term, ...], batch: int, chunks: int, eps: float, schedule: str):
        time = problem.time_index()
        if time is None:
            raise ConfigError("causal", f"needs a problem with a time input (an input named t, or 'time' declared "
                                        f"in the spec); {problem.name} has inputs {', '.join(problem.inputs)}")
        names = [t.name for t in terms]
        if "res" not in names:
            raise ConfigError("causal", f"needs a residual term named 'res'; {problem.name} has {', '.join(names)}")
        if schedule not in SCHEDULES:
            raise ConfigError("causal_schedule", f"unknown '{schedule}'; allowed: {', '.join(SCHEDULES)}")
        res = terms[names.index("res")]
        points = res.groups * batch
        if points % chunks:
            raise ConfigError("causal_chunks", f"must divide the residual's {points} points per step (batch "
                                               f"{batch} x {res.groups} box(es)), got {chunks}")
        self.index, self.time, self.chunks, self.schedule = names.index("res"), time, chunks, schedule
        self.eps = torch.tensor(float(eps), dtype=torch.float64)
        self.term = CausalTerm(**{f.name: getattr(res, f.name) for f in dataclasses.fields(Term)},
                               time=time, chunks=chunks, eps=self.eps)
        self.terms = terms[:self.index] + (self.term,) + terms[self.index + 1:]

    def observe(self, model, points: Tensor, method: str) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
        """(eps, chunk centres in t, chunk losses, weights) of the current network on this residual batch."""
        with torch.no_grad():
            d = self.term.derivatives(model, points, method) if method == "jet" else None
        if d is None:  # nested autograd needs the graph to differentiate w.r.t. x
            with torch.enable_grad():
                d = self.term.derivatives(model, points, method)
        with torch.no_grad():
            t = points[:, self.time]
            losses = chunk_losses(self.term.squared(d).detach(), t, self.chunks)
            centres = t[torch.argsort(t, stable=True)].reshape(self.chunks, -1).mean(dim=1)
            w = causal_weights(losses, self.eps.to(losses.dtype))
        to = lambda a: a.to("cpu", torch.float64).numpy()  # noqa: E731
        return float(self.eps), to(centres), to(losses), to(w)

    def raise_eps(self, weights: np.ndarray) -> None:
        """The ``paper`` schedule, after a step whose weights were observed: eps x 10 (up to 100) once every
        weight is above 0.99."""
        eps = float(self.eps)
        if self.schedule == "paper" and float(np.min(weights)) > RAISE_AT and eps < EPS_MAX:
            self.eps.fill_(min(eps * 10.0, EPS_MAX))

    def state_dict(self) -> dict:
        return {"eps": float(self.eps)}

    def load_state_dict(self, state: dict) -> None:
        self.eps.fill_(float(state["eps"]))
