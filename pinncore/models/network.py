"""What every network shares: constructor checks, the input standardisation and embeddings, the random weight
factorisation of its dense layers, and the named weights the diagnostics read.

Networks take raw coordinates and standardise them first with the domain's mean and std (paper protocol), inside
``forward``: autograd then chain-rules every derivative w.r.t. the raw inputs through the standardisation. The
input embeddings (``embeddings``) read the standardised coordinates. Weights are Xavier-normal, std =
sqrt(2 / (fan_in + fan_out)); biases are zero; the output layer is linear.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from ..errors import ConfigError
from ..jets import Jet, JetPlan
from .embeddings import EmbeddingSetup, build_embeddings, parse_embedding
from .layers import ACTIVATIONS, FactorisedDense, Standardize


class Network(nn.Module):
    """Common constructor checks, input standardisation and embeddings, and the named weight matrices used by
    diagnostics. Subclasses build their layers with ``self.in_features`` inputs (what the embeddings make of
    the coordinates) and name them in ``dense_paths``.

    ``embedding``: a name of ``embeddings.EMBEDDINGS`` or a chain ('periodic+fourier'); ``periodic``: {input
    index: period} of the inputs the network must be exactly periodic in (the periodic embedding is applied to
    them whether or not ``embedding`` names it); the ``fourier_*`` options as ``embeddings.EmbeddingSetup``."""

    def __init__(self, in_dim: int, out_dim: int, depth: int, width: int, activation: str, mean, std,
                 seed: int | None, embedding: str = "none", periodic: dict[int, float] | None = None,
                 fourier_sigma: float = 1.0, fourier_features: int | None = None, fourier_trained: bool = False):
        super().__init__()
        self.generator = None if seed is None else torch.Generator().manual_seed(seed)
        if activation not in ACTIVATIONS:
            raise ConfigError("activation", f"unknown '{activation}'; allowed: {', '.join(ACTIVATIONS)}")
        if depth < 1:
            raise ConfigError("depth", f"must be >= 1, got {depth}")
        if width < 1:
            raise ConfigError("width", f"must be >= 1, got {width}")
        self.activation = activation
        self.act = ACTIVATIONS[activation]
        self.standardize = Standardize(mean, std)
        names = parse_embedding(embedding)
        if "periodic" in names and not periodic:
            raise ConfigError("embedding", "'periodic' needs a problem that declares periodic inputs "
                                           "(Problem.periodic); this one declares none")
        if periodic and "periodic" not in names:
            names = ("periodic", *names)
        self.embedding = "+".join(names) or "none"
        setup = EmbeddingSetup(self.standardize.mean.double().numpy().ravel(),
                               self.standardize.std.double().numpy().ravel(), width, dict(periodic or {}),
                               fourier_sigma, fourier_features, fourier_trained, self.generator)
        built = build_embeddings(names, in_dim, setup)
        self.periodic = built.get("periodic")
        self.fourier = built.get("fourier")
        self.in_features = list(built.values())[-1].out_dim if built else in_dim

    # -- to implement -------------------------------------------------------------------------------------------
    def dense_paths(self) -> dict[str, str]:
        """Display name -> module path of every dense layer, in forward order ("layer 1" -> "hidden.0")."""
        raise NotImplementedError

    def forward_jet(self, plan: JetPlan, x: Tensor, rows=None) -> Jet:
        """``forward`` with the input derivatives of ``plan.keys`` carried along, order n for the first
        ``rows[n]`` points (``rows``: as ``JetPlan.row_counts`` takes it; default: all; see ``pinncore.jets``)."""
        raise NotImplementedError

    # -- shared -------------------------------------------------------------------------------------------------
    def embed(self, x: Tensor) -> Tensor:
        """Raw coordinates -> what the first layers read: standardised, then embedded."""
        z = self.standardize(x)
        for emb in (self.periodic, self.fourier):
            if emb is not None:
                z = emb(z)
        return z

    def embed_jet(self, plan: JetPlan, x: Tensor, rows: tuple[int, ...]) -> Jet:
        """``embed`` with the input derivatives carried along."""
        jet = plan.seed(self.standardize(x), self.standardize.std, rows)
        for emb in (self.periodic, self.fourier):
            if emb is not None:
                jet = emb.forward_jet(plan, jet, rows)
        return jet

    def dense_layers(self) -> dict[str, nn.Module]:
        return {name: self.get_submodule(path) for name, path in self.dense_paths().items()}

    def factorise(self, mu: float, sigma: float) -> "Network":
        """Random weight factorisation of every dense layer (``layers.FactorisedDense``), in forward order, s
        drawn from the network's generator after all the Xavier draws: the function is unchanged (to round-off),
        so a factorised network and a plain one of the same seed start from the same weights."""
        for path in self.dense_paths().values():
            layer = self.get_submodule(path)
            if isinstance(layer, nn.Linear):
                parent, _, attr = path.rpartition(".")
                setattr(self.get_submodule(parent) if parent else self, attr,
                        FactorisedDense.of(layer, mu, sigma, self.generator))
        return self

    @property
    def factorised(self) -> bool:
        return any(isinstance(m, FactorisedDense) for m in self.dense_layers().values())

    def layer_weights(self) -> dict[str, nn.Parameter]:
        """The trained weight matrices in forward order, by display name (biases excluded), for the per-layer
        gradient histograms: a trained Fourier matrix ("fourier B"), then each dense layer's W ("layer 1"), or,
        factorised, its s and V in the order of W = diag(exp(s)) V ("layer 1 (s)", "layer 1 (V)": the parameters
        the optimiser moves; a layer's matrix stays its last entry, as the output's is the last of all)."""
        out = dict(self.fourier.layer_weights()) if self.fourier is not None else {}
        for name, layer in self.dense_layers().items():
            if isinstance(layer, FactorisedDense):
                out[f"{name} (s)"], out[f"{name} (V)"] = layer.s, layer.v
            else:
                out[name] = layer.weight
        return out

    def weight_matrices(self) -> tuple[str, ...]:
        """The names in ``layer_weights`` of the dense layers' matrices (W, or V when factorised): the weights
        of the paper's annealing statistics (no Fourier matrix, no scale vector s)."""
        return tuple(f"{name} (V)" if isinstance(layer, FactorisedDense) else name
                     for name, layer in self.dense_layers().items())

    def _dense(self, plan: JetPlan, jet: Jet, layer: nn.Module, rows: tuple[int, ...]) -> Jet:
        return plan.activation(plan.affine(jet, layer.weight, layer.bias), self.activation, rows)

    def _encoders(self, plan: JetPlan, x: Jet, layers: list[nn.Module], rows: tuple[int, ...]) -> list[Jet]:
        """``_dense`` of several layers that read the same jet, as one affine map and one activation on the
        concatenated units (the modified MLP's U, V and first layer read the input alike), split back."""
        weight = torch.cat([layer.weight for layer in layers])
        bias = torch.cat([layer.bias for layer in layers])
        both = plan.activation(plan.affine(x, weight, bias), self.activation, rows)
        sizes = [layer.bias.shape[0] for layer in layers]
        parts = [[None] * len(both) for _ in layers]
        for n, t in enumerate(both):
            if t is not None:
                for part, piece in zip(parts, t.split(sizes, dim=-1)):
                    part[n] = piece
        return parts
