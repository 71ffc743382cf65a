"""Input embeddings, applied after the input standardisation, by name (``EMBEDDINGS``).

* ``none``: the standardised coordinates z = (x - mean) / std go to the first layer (the paper's protocol).
* ``periodic``: for every input the problem declares periodic with period L (``Problem.periodic``, {input name:
  L}), z_i is replaced by [cos(2 pi x_i / L), sin(2 pi x_i / L)] of the RAW coordinate x_i, so that the network
  and all its derivatives are exactly L-periodic in x_i (Dong & Ni 2021; Wang, Sankaran, Wang & Perdikaris, "An
  expert's guide to training PINNs", 2023, eq. 6.2-6.6); the other inputs pass through. The phase is computed
  from z as 2 pi (std_i z_i + mean_i) / L: the same number as 2 pi x_i / L, to round-off, on the derivative path's
  standardised input. Applied whenever the problem declares periodic inputs, whether or not the run's
  ``embedding`` names it.
* ``fourier``: random Fourier features (Wang, Wang & Perdikaris, "On the eigenvector bias of Fourier feature
  networks", CMAME 384, 2021, eq. 3.10; Tancik et al. 2020):

      gamma(z) = [cos(B z), sin(B z)],   B in R^{m x d},  B_ij ~ N(0, sigma^2),

  on the STANDARDISED input z (the output of the embeddings before it), with NO 2 pi inside: that is the paper's
  definition and what its released code computes, so the paper's sigma (1 and 10 on its examples) means the same
  here. With Tancik's convention, cos(2 pi B' z), the same frequencies need sigma' = sigma / (2 pi). On z rather
  than x so that sigma does not depend on the units of the domain: a unit of z is one standard deviation of the
  domain (for [0, 1], 0.289), so sigma = 10 puts the angular frequencies along x at about N(0, 34.6^2). B is a
  fixed buffer (the paper) or a trained parameter (jaxpi's FourierEmbs), ``fourier_trained``.

Embeddings compose in ``CHAIN`` order: ``periodic+fourier`` embeds the periodic inputs first, then draws the
Fourier features of the result. Both are an affine map followed by sin (cos(a) = sin(a + pi/2)), so the jets
(``pinncore.jets``) carry every input derivative through them exactly: ``JetPlan.affine`` then
``JetPlan.activation(.., "sin")``, or ``JetPlan.compose`` for the periodic map, whose pass-through units have
phi(a) = a.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np
import torch
from torch import Tensor, nn

from ..errors import ConfigError
from ..jets import Jet, JetPlan, activation_derivatives


@dataclass(frozen=True)
class EmbeddingSetup:
    """What the embeddings of one network are built from."""

    mean: np.ndarray                 # the standardisation's mean and std per input (raw units): the values its
    std: np.ndarray                  # buffers hold, so that the periodic phase is exactly omega x
    width: int                       # the network's width (the default number of Fourier features is width // 2)
    periodic: dict[int, float] = field(default_factory=dict)  # input index -> period L, raw units
    fourier_sigma: float = 1.0
    fourier_features: int | None = None
    fourier_trained: bool = False
    generator: torch.Generator | None = None


class PeriodicEmbedding(nn.Module):
    """[z_kept..., cos(2 pi x_i / L_i), sin(2 pi x_i / L_i), ...]: one affine map of z (identity rows for the
    kept inputs, buffers ``weight`` and ``bias``), then sin on the periodic rows (cos as sin(a + pi/2))."""

    def __init__(self, in_dim: int, setup: EmbeddingSetup):
        super().__init__()
        kept = [i for i in range(in_dim) if i not in setup.periodic]
        self.kept = len(kept)
        self.out_dim = len(kept) + 2 * len(setup.periodic)
        weight = np.zeros((self.out_dim, in_dim))
        bias = np.zeros(self.out_dim)
        for row, i in enumerate(kept):
            weight[row, i] = 1.0
        mean, std = np.broadcast_to(setup.mean, (in_dim,)), np.broadcast_to(setup.std, (in_dim,))
        for j, (i, period) in enumerate(sorted(setup.periodic.items())):
            omega = 2 * math.pi / period  # a = omega x = omega (std z + mean)
            row = self.kept + 2 * j
            weight[row:row + 2, i] = omega * std[i]
            bias[row:row + 2] = omega * mean[i] + np.array([math.pi / 2, 0.0])
        # float64 whatever the default dtype, so that a float64 network is periodic to float64 round-off (the
        # model's ``.to(dtype)`` casts them with the rest; ``forward`` casts them to its input's dtype otherwise)
        self.register_buffer("weight", torch.as_tensor(weight, dtype=torch.float64))
        self.register_buffer("bias", torch.as_tensor(bias, dtype=torch.float64))

    def forward(self, z: Tensor) -> Tensor:
        a = nn.functional.linear(z, self.weight.to(z.dtype), self.bias.to(z.dtype))
        return torch.cat([a[:, :self.kept], torch.sin(a[:, self.kept:])], dim=1)

    def forward_jet(self, plan: JetPlan, jet: Jet, rows: tuple[int, ...]) -> Jet:
        dtype = jet[0].dtype
        a = plan.affine(jet, self.weight.to(dtype), self.bias.to(dtype))
        k, value = self.kept, a[0]
        sin = activation_derivatives("sin", value[:, k:], plan.max_order, rows)
        same = [value[:, :k]] + [value.new_full((rows[m], k), 1.0 if m == 1 else 0.0)
                                  for m in range(1, plan.max_order + 1)]
        return plan.compose(a, [torch.cat(pair, dim=1) for pair in zip(same, sin)], rows)

    def layer_weights(self) -> dict[str, nn.Parameter]:
        return {}


class FourierFeatures(nn.Module):
    """[cos(B z), sin(B z)] with B (m, d) ~ N(0, sigma^2): one affine map with weight [B; B] and bias
    [pi/2 ...; 0 ...], then sin. ``B`` is a buffer, or a parameter when trained."""

    def __init__(self, in_dim: int, setup: EmbeddingSetup):
        super().__init__()
        m = setup.fourier_features or max(1, setup.width // 2)
        b = torch.randn(m, in_dim, generator=setup.generator) * setup.fourier_sigma
        if setup.fourier_trained:
            self.B = nn.Parameter(b)
        else:
            self.register_buffer("B", b)
        phase = torch.cat([torch.full((m,), math.pi / 2, dtype=torch.float64), torch.zeros(m, dtype=torch.float64)])
        self.register_buffer("phase", phase)  # float64, as the periodic embedding's buffers
        self.out_dim = 2 * m

    def forward(self, z: Tensor) -> Tensor:
        return torch.sin(nn.functional.linear(z, torch.cat([self.B, self.B]).to(z.dtype), self.phase.to(z.dtype)))

    def forward_jet(self, plan: JetPlan, jet: Jet, rows: tuple[int, ...]) -> Jet:
        dtype = jet[0].dtype
        affine = plan.affine(jet, torch.cat([self.B, self.B]).to(dtype), self.phase.to(dtype))
        return plan.activation(affine, "sin", rows)

    def layer_weights(self) -> dict[str, nn.Parameter]:
        return {"fourier B": self.B} if isinstance(self.B, nn.Parameter) else {}


# name -> module class (None: nothing); each class takes (in_dim, EmbeddingSetup) and has ``out_dim``
EMBEDDINGS: dict[str, type[nn.Module] | None] = {"none": None, "fourier": FourierFeatures,
                                                 "periodic": PeriodicEmbedding}
CHAIN = ("periodic", "fourier")  # the order in which embeddings compose


def embedding_choices() -> tuple[str, ...]:
    """Every value the ``embedding`` field takes: none, each embedding, and each chain of several in CHAIN order."""
    singles = tuple(n for n in EMBEDDINGS if n != "none")
    chains = tuple("+".join(c) for r in range(2, len(CHAIN) + 1) for c in combinations(CHAIN, r))
    return ("none", *singles, *chains)


def parse_embedding(text: str) -> tuple[str, ...]:
    """'periodic+fourier' -> ('periodic', 'fourier'); 'none' -> (); ConfigError naming 'embedding' otherwise."""
    if isinstance(text, str) and text.strip() == "none":
        return ()
    names = tuple(p.strip() for p in text.split("+")) if isinstance(text, str) else ()
    if not names or "+".join(names) not in embedding_choices():
        shown = text if not isinstance(text, str) or len(text) <= 40 else text[:39] + "…"
        raise ConfigError("embedding", f"unknown {shown!r}; allowed: {', '.join(embedding_choices())}")
    return names


def build_embeddings(names: tuple[str, ...], in_dim: int, setup: EmbeddingSetup) -> dict[str, nn.Module]:
    """The embedding modules of ``names`` (CHAIN order), each reading the previous one's output, by name."""
    out, dim = {}, in_dim
    for name in CHAIN:
        if name in names:
            out[name] = EMBEDDINGS[name](dim, setup)
            dim = out[name].out_dim
    return out
