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


# -- since 2021: kernel traces, alignment, causal weights (series: one row each, ``pinncore.series``) ----------------
def _floats(row: dict, prefix: str) -> dict[str, float]:
    return {k[len(prefix):]: float(v) for k, v in row.items() if k.startswith(prefix)}


def _vector(row: dict, prefix: str) -> np.ndarray:
    keys = sorted((k for k in row if k.startswith(prefix)), key=lambda k: int(k[len(prefix):]))
    return np.array([float(row[k]) for k in keys], dtype=np.float64)


@dataclass(frozen=True)
class KernelTraces:
    """Tr K_ii per term (Wang, Yu & Perdikaris 2022), each on ``points`` of the term's points at this step: at
    every NTK weight update and every gradient snapshot, whatever the run's weighting."""

    step: int
    traces: dict[str, float]
    points: int

    def row(self) -> dict:
        return {"step": self.step, "points": self.points, **{f"trace_{t}": v for t, v in self.traces.items()}}

    @classmethod
    def from_row(cls, row: dict) -> "KernelTraces":
        return cls(int(row["step"]), _floats(row, "trace_"), int(row["points"]))


@dataclass(frozen=True)
class AlignmentRecord:
    """The alignment score A of the terms' gradients (``pinncore.alignment``) over all parameters and per weight
    matrix, at every step where the per-term gradients are computed (weighting updates, gradient snapshots)."""

    step: int
    score: float
    layers: dict[str, float]  # weight matrix -> A of its slices (NaN where fewer than two terms move it)

    def row(self) -> dict:
        return {"step": self.step, "score": self.score, **{f"layer_{k}": v for k, v in self.layers.items()}}

    @classmethod
    def from_row(cls, row: dict) -> "AlignmentRecord":
        return cls(int(row["step"]), float(row["score"]), _floats(row, "layer_"))


@dataclass(frozen=True)
class CausalRecord:
    """Causal weights (Wang, Sankaran & Perdikaris 2024) of the residual's time chunks at this step, earliest
    first: the chunks' centres in t, their mean squared residuals L_i and weights w_i, and the eps in force."""

    step: int
    eps: float
    t: np.ndarray        # (chunks,)
    losses: np.ndarray   # (chunks,)
    weights: np.ndarray  # (chunks,)

    def row(self) -> dict:
        out = {"step": self.step, "eps": self.eps}
        for name, values in (("t", self.t), ("loss", self.losses), ("w", self.weights)):
            out.update({f"{name}_{i}": float(v) for i, v in enumerate(values)})
        return out

    @classmethod
    def from_row(cls, row: dict) -> "CausalRecord":
        return cls(int(row["step"]), float(row["eps"]), _vector(row, "t_"), _vector(row, "loss_"), _vector(row, "w_"))


@dataclass(frozen=True)
class KernelSpectrum:
    """Eigenvalues (largest first) of each term's kernel block K_ii and of the whole kernel K, on ``points``
    points of every term, at a gradient snapshot: the paper's spectral-bias picture (its Fig. 1-2)."""

    step: int
    points: int
    terms: dict[str, np.ndarray]  # term -> eigenvalues of K_ii (points x residual columns of them)
    total: np.ndarray             # eigenvalues of K

    def arrays(self) -> dict[str, np.ndarray]:
        return {"step": np.array(self.step), "points": np.array(self.points), "terms": np.array(list(self.terms)),
                "total": np.asarray(self.total, dtype=np.float64),
                **{f"eig_{i}": np.asarray(v, dtype=np.float64) for i, v in enumerate(self.terms.values())}}

    @classmethod
    def from_arrays(cls, a) -> "KernelSpectrum":
        names = [str(t) for t in a["terms"]]
        return cls(int(a["step"]), int(a["points"]), {t: a[f"eig_{i}"] for i, t in enumerate(names)}, a["total"])


Record = (StepRecord | GradSnapshot | EvalSnapshot | HessianSnapshot | KernelTraces | AlignmentRecord | CausalRecord
          | KernelSpectrum)
