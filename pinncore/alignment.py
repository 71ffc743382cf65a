"""The alignment score of the loss terms' gradients (Wang, Bhartari, Li & Perdikaris, "Gradient alignment in
physics-informed neural networks: a second-order optimization perspective", NeurIPS 2025):

    A(g_1, ..., g_n) = 2 || (1/n) sum_i g_i / ||g_i|| ||^2 - 1

in [-1, 1]; for n = 2 it is the cosine of the angle between the two gradients. A near 1: the terms pull the
parameters the same way; near 0: at right angles; negative: against each other (a step that helps one hurts the
other). The weights lambda_i do not change it (it reads directions only). It is computed from the Gram matrix
G_ij = <g_i, g_j> as A = (2 / n^2) sum_ij G_ij / (||g_i|| ||g_j||) - 1, for all parameters and for each weight
matrix alone (the slices of the gradients that belong to it). A term whose gradient is zero there has no
direction and is left out; with fewer than two terms left the score is NaN.
"""
from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np
import torch
from torch import Tensor

from .records import AlignmentRecord


def score_from_gram(gram) -> float:
    """A from the (n, n) Gram matrix of n gradients (a tensor or an array)."""
    gram = np.asarray(gram.detach().cpu() if isinstance(gram, Tensor) else gram, dtype=np.float64)
    norms = np.sqrt(np.clip(np.diag(gram), 0.0, None))
    keep = norms > 0
    if int(keep.sum()) < 2:
        return math.nan
    n = norms[keep]
    cos = gram[np.ix_(keep, keep)] / np.outer(n, n)
    return float(np.clip(2.0 * cos.sum() / cos.shape[0] ** 2 - 1.0, -1.0, 1.0))


def alignment(vectors: Sequence[Tensor]) -> float:
    """A of these gradient vectors (any shapes, flattened)."""
    flat = torch.stack([v.detach().reshape(-1).to(torch.float64) for v in vectors])
    return score_from_gram(flat @ flat.T)


def alignment_record(step: int, per_term: Mapping[str, Sequence[Tensor]], layers: Mapping[str, int]) -> AlignmentRecord:
    """A over all parameters and per weight matrix, from each term's gradient per parameter (``per_term[t][p]``,
    the trainer's parameter order) and the weight matrices' parameter indices (``layers``: name -> index). The
    Gram matrices are formed on the gradients' device, one per parameter, and read back once."""
    grads = list(per_term.values())
    grams = torch.stack([_gram([g[p] for g in grads]) for p in range(len(grads[0]))]).cpu().numpy()
    names = list(layers)
    scores = scores_from_grams(np.concatenate([grams.sum(axis=0)[None], grams[[layers[k] for k in names]]]))
    return AlignmentRecord(step, float(scores[0]), dict(zip(names, map(float, scores[1:]))))


def scores_from_grams(grams: np.ndarray) -> np.ndarray:
    """``score_from_gram`` of each of a stack of (n, n) Gram matrices, in one pass where every gradient has a
    direction (numpy's per-call overhead, ten calls a record, cost more than the Gram matrices themselves)."""
    n = grams.shape[-1]
    norms = np.sqrt(np.clip(np.einsum("lii->li", grams), 0.0, None))
    full = (norms > 0).all(axis=1)
    out = np.empty(len(grams))
    if n >= 2 and full.any():
        cos = grams[full] / (norms[full][:, :, None] * norms[full][:, None, :])
        out[full] = np.clip(2.0 * cos.sum(axis=(1, 2)) / n ** 2 - 1.0, -1.0, 1.0)
    for i in np.flatnonzero(~full | (n < 2)):
        out[i] = score_from_gram(grams[i])
    return out


def _gram(slices: Sequence[Tensor]) -> Tensor:
    s = torch.stack([g.detach().reshape(-1) for g in slices]).to(torch.float64)
    return s @ s.T
