"""Typed records the trainer emits. ``step`` is always the number of optimizer updates already applied to the
parameters that were measured: StepRecord(step=0) holds the losses at initialisation, EvalSnapshot(step=N)
the final evaluation of an N-step run.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class StepRecord:
    step: int
    losses: dict[str, float]   # unweighted loss per term
    lambdas: dict[str, float]  # the weights the update at this step used
    lr: float
    wall: float                # training seconds since the run started (resumes continue the clock)


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
class StiffnessSnapshot:
    """Largest Hessian eigenvalue of each unweighted term and of the weighted loss (paper Fig. 4-5).

    Plain gradient descent is stable only for lr < 2 / total.
    """

    step: int
    eigenvalues: dict[str, float]  # sigma_max of grad^2 L_t per term
    total: float                   # sigma_max of grad^2 (sum_t lambda_t L_t)
    lr: float

    def arrays(self) -> dict[str, np.ndarray]:
        return {"step": np.array(self.step), "terms": np.array(list(self.eigenvalues)),
                "values": np.array(list(self.eigenvalues.values())), "total": np.array(self.total),
                "lr": np.array(self.lr)}

    @classmethod
    def from_arrays(cls, a) -> "StiffnessSnapshot":
        return cls(step=int(a["step"]), eigenvalues={str(t): float(v) for t, v in zip(a["terms"], a["values"])},
                   total=float(a["total"]), lr=float(a["lr"]))


Record = StepRecord | GradSnapshot | EvalSnapshot | StiffnessSnapshot
