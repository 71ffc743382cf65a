"""Typed records the trainer emits. ``step`` is always the number of optimizer updates already applied to the
parameters that were measured: StepRecord(step=0) holds the losses at initialisation, EvalSnapshot(step=N)
the final evaluation of an N-step run.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class StepRecord:
    step: int
    losses: dict[str, float]   # unweighted loss per term
    lambdas: dict[str, float]  # the weights the update at this step used
    lr: float
    wall: float                # training seconds since the run started (resumes continue the clock)
    unknowns: dict[str, float] = field(default_factory=dict)  # the unknown coefficients' values at this step


@dataclass(frozen=True)
class GradSnapshot:
    """Per-layer, per-term statistics of grad_W (lambda_t L_t) for the weight matrices W (paper Fig. 2 / 7).

    Histograms count log10 |g| on bins shared by every layer and term of the snapshot, so the orders of
    magnitude between grad L_r and grad (lambda_b L_b) are directly comparable.
    """

    step: int
    terms: tuple[str, ...]
    layers: tuple[str, ...]
    lambdas: dict[str, float]
    edges: np.ndarray      # (bins + 1,) bin edges in log10 |g|
    counts: np.ndarray     # (terms, layers, bins)
    max_abs: np.ndarray    # (terms, layers)
    mean_abs: np.ndarray   # (terms, layers)
    l2: np.ndarray         # (terms, layers)

    def arrays(self) -> dict[str, np.ndarray]:
        return {"step": np.array(self.step), "terms": np.array(self.terms), "layers": np.array(self.layers),
                "lambda_terms": np.array(list(self.lambdas)), "lambda_values": np.array(list(self.lambdas.values())),
                "edges": self.edges, "counts": self.counts, "max_abs": self.max_abs, "mean_abs": self.mean_abs,
                "l2": self.l2}

    @classmethod
    def from_arrays(cls, a) -> "GradSnapshot":
        return cls(step=int(a["step"]), terms=tuple(str(t) for t in a["terms"]),
                   layers=tuple(str(x) for x in a["layers"]),
                   lambdas={str(k): float(v) for k, v in zip(a["lambda_terms"], a["lambda_values"])},
                   edges=a["edges"], counts=a["counts"], max_abs=a["max_abs"], mean_abs=a["mean_abs"], l2=a["l2"])


@dataclass(frozen=True)
class EvalSnapshot:
    step: int
    rel_l2: float              # ||q - q_hat||_2 / ||q||_2 on the evaluation grid (q = u, or |u| for the cavity)
    prediction: np.ndarray     # q_hat on the grid, shaped like Trainer.reference_field

    def arrays(self) -> dict[str, np.ndarray]:
        return {"step": np.array(self.step), "rel_l2": np.array(self.rel_l2), "prediction": self.prediction}

    @classmethod
    def from_arrays(cls, a) -> "EvalSnapshot":
        return cls(step=int(a["step"]), rel_l2=float(a["rel_l2"]), prediction=a["prediction"])


@dataclass(frozen=True)
class HessianSnapshot:
    """Top-k Hessian eigenvalues (largest magnitude first, signs kept) of each weighted term lambda_t L_t and
    of the loss L = sum_t lambda_t L_t, on one minibatch (paper Fig. 4-5, 11).

    Plain gradient descent on L is stable only for lr < 2 / sigma_max: ``stability`` = lr * sigma_max against 2.
    Snapshots written before the weighted top-k form (arrays ``values``, ``total``) load with k = 1 and their
    per-term values, which were of the unweighted terms, and no lambdas.
    """

    step: int
    top: dict[str, tuple[float, ...]]  # per term: top-k eigenvalues of grad^2 (lambda_t L_t)
    top_total: tuple[float, ...]       # top-k eigenvalues of grad^2 sum_t lambda_t L_t
    lr: float
    lambdas: dict[str, float] = field(default_factory=dict)  # the weights the snapshot used

    @property
    def eigenvalues(self) -> dict[str, float]:
        """sigma_max of grad^2 (lambda_t L_t) per term (signed)."""
        return {t: v[0] for t, v in self.top.items()}

    @property
    def total(self) -> float:
        """sigma_max of grad^2 L (signed)."""
        return self.top_total[0]

    @property
    def sigma_max(self) -> float:
        return abs(self.total)

    @property
    def stability(self) -> float:
        """lr * sigma_max: gradient descent at this lr is unstable along the top eigenvector where it exceeds 2."""
        return self.lr * self.sigma_max

    def arrays(self) -> dict[str, np.ndarray]:
        return {"step": np.array(self.step), "terms": np.array(list(self.top)),
                "top": np.array([list(v) for v in self.top.values()], dtype=np.float64).reshape(len(self.top), -1),
                "top_total": np.array(self.top_total, dtype=np.float64), "lr": np.array(self.lr),
                "lambda_terms": np.array(list(self.lambdas)),
                "lambda_values": np.array(list(self.lambdas.values()), dtype=np.float64),
                "stability": np.array(self.stability)}

    @classmethod
    def from_arrays(cls, a) -> "HessianSnapshot":
        terms = [str(t) for t in a["terms"]]
        if "top" in a:
            top = {t: tuple(float(x) for x in row) for t, row in zip(terms, np.asarray(a["top"]))}
            total = tuple(float(x) for x in np.atleast_1d(a["top_total"]))
            lambdas = {str(k): float(v) for k, v in zip(a["lambda_terms"], a["lambda_values"])}
        else:  # the earlier format: sigma_max only, of the unweighted terms
            top = {t: (float(v),) for t, v in zip(terms, a["values"])}
            total, lambdas = (float(a["total"]),), {}
        return cls(step=int(a["step"]), top=top, top_total=total, lr=float(a["lr"]), lambdas=lambdas)


StiffnessSnapshot = HessianSnapshot  # the earlier name


Record = StepRecord | GradSnapshot | EvalSnapshot | HessianSnapshot
