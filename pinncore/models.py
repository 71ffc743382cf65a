"""Networks: a plain tanh MLP (M1, M2) and the paper's modified MLP (M3, M4, eq. 43-47).

Both take raw coordinates and standardise them first with the domain's mean and std (paper protocol), inside
``forward``: autograd then chain-rules every derivative w.r.t. the raw inputs through the standardisation.
Weights are Xavier-normal, std = sqrt(2 / (fan_in + fan_out)); biases are zero; the output layer is linear.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
from torch import Tensor, nn

from .errors import ConfigError
from .jets import Jet, JetPlan, tanh

# tanh: torch.tanh, or its cheaper twin inside a compiled graph (``jets.tanh``)
ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {"tanh": tanh, "sin": torch.sin,
                                                      "gelu": nn.functional.gelu}


def xavier_linear(fan_in: int, fan_out: int, generator: torch.Generator | None = None) -> nn.Linear:
    """Xavier-normal weights drawn from ``generator`` (not the process-wide RNG, which concurrent dashboard
    sessions share), zero biases."""
    layer = nn.Linear(fan_in, fan_out)
    with torch.no_grad():
        layer.weight.normal_(0.0, math.sqrt(2.0 / (fan_in + fan_out)), generator=generator)
        layer.bias.zero_()
    return layer


class Standardize(nn.Module):
    """x -> (x - mean) / std with fixed buffers (saved in the state dict)."""

    def __init__(self, mean, std):
        super().__init__()
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.get_default_dtype()).reshape(1, -1))
        self.register_buffer("std", torch.as_tensor(std, dtype=torch.get_default_dtype()).reshape(1, -1))

    def forward(self, x: Tensor) -> Tensor:
        return (x - self.mean) / self.std


class Network(nn.Module):
    """Common constructor checks, input standardisation and the named weight matrices used by diagnostics."""

    def __init__(self, in_dim: int, out_dim: int, depth: int, width: int, activation: str, mean, std,
                 seed: int | None):
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

    def layer_weights(self) -> dict[str, nn.Parameter]:
        """The weight matrices in forward order, by display name (biases excluded)."""
        raise NotImplementedError

    def forward_jet(self, plan: JetPlan, x: Tensor, rows=None) -> Jet:
        """``forward`` with the input derivatives of ``plan.keys`` carried along, order n for the first
        ``rows[n]`` points (``rows``: as ``JetPlan.row_counts`` takes it; default: all; see ``pinncore.jets``)."""
        raise NotImplementedError

    def _dense(self, plan: JetPlan, jet: Jet, layer: nn.Linear, rows: tuple[int, ...]) -> Jet:
        return plan.activation(plan.affine(jet, layer.weight, layer.bias), self.activation, rows)

    def _encoders(self, plan: JetPlan, x: Jet, layers: list[nn.Linear], rows: tuple[int, ...]) -> list[Jet]:
        """``_dense`` of several layers that read the same jet, as one affine map and one activation on the
        concatenated units (the modified MLP's U, V and first layer read the input alike), split back."""
        weight = torch.cat([layer.weight for layer in layers])
        bias = torch.cat([layer.bias for layer in layers])
        both = plan.activation(plan.affine(x, weight, bias), self.activation, rows)
        sizes = [layer.weight.shape[0] for layer in layers]
        parts = [[None] * len(both) for _ in layers]
        for n, t in enumerate(both):
            if t is not None:
                for part, piece in zip(parts, t.split(sizes, dim=-1)):
                    part[n] = piece
        return parts


class MLP(Network):
    """H_1 = phi(X W_1 + b_1), H_{k+1} = phi(H_k W_{k+1} + b_{k+1}), f = H_depth W + b."""

    def __init__(self, in_dim: int, out_dim: int, depth: int = 3, width: int = 50, activation: str = "tanh",
                 mean=0.0, std=1.0, seed: int | None = None):
        super().__init__(in_dim, out_dim, depth, width, activation, mean, std, seed)
        g = self.generator
        sizes = [in_dim] + [width] * depth
        self.hidden = nn.ModuleList(xavier_linear(a, b, g) for a, b in zip(sizes[:-1], sizes[1:]))
        self.out = xavier_linear(width, out_dim, g)

    def forward(self, x: Tensor) -> Tensor:
        h = self.standardize(x)
        for layer in self.hidden:
            h = self.act(layer(h))
        return self.out(h)

    def forward_jet(self, plan: JetPlan, x: Tensor, rows=None) -> Jet:
        rows = plan.row_counts(x.shape[0], rows)
        h = plan.seed(self.standardize(x), self.standardize.std, rows)
        for layer in self.hidden:
            h = self._dense(plan, h, layer, rows)
        return plan.affine(h, self.out.weight, self.out.bias)

    def layer_weights(self) -> dict[str, nn.Parameter]:
        names = {f"layer {i + 1}": layer.weight for i, layer in enumerate(self.hidden)}
        return {**names, "output": self.out.weight}


class ModifiedMLP(Network):
    """The paper's modified MLP (eq. 43-47), with L = ``depth`` gated layers:

        U = phi(X W_U + b_U),  V = phi(X W_V + b_V),  H_1 = phi(X W_1 + b_1)
        Z_k = phi(H_k Wz_k + bz_k),  H_{k+1} = (1 - Z_k) * U + Z_k * V,   k = 1 .. L
        f = H_{L+1} W + b

    As in eq. 45-46, k runs over the L hidden layers of the [2, 50 x L, 1] architecture, so the network gates
    L times, as the released code does. (That code has no separate H_1 = phi(X W_1 + b_1): its first gate
    reads X directly, and it swaps the roles of U and V.)
    """

    def __init__(self, in_dim: int, out_dim: int, depth: int = 3, width: int = 50, activation: str = "tanh",
                 mean=0.0, std=1.0, seed: int | None = None):
        super().__init__(in_dim, out_dim, depth, width, activation, mean, std, seed)
        g = self.generator
        self.encoder_u = xavier_linear(in_dim, width, g)
        self.encoder_v = xavier_linear(in_dim, width, g)
        self.first = xavier_linear(in_dim, width, g)
        self.gates = nn.ModuleList(xavier_linear(width, width, g) for _ in range(depth))
        self.out = xavier_linear(width, out_dim, g)

    def forward(self, x: Tensor) -> Tensor:
        x = self.standardize(x)
        u, v = self.act(self.encoder_u(x)), self.act(self.encoder_v(x))
        h = self.act(self.first(x))
        for gate in self.gates:
            z = self.act(gate(h))
            h = (1 - z) * u + z * v
        return self.out(h)

    def forward_jet(self, plan: JetPlan, x: Tensor, rows=None) -> Jet:
        rows = plan.row_counts(x.shape[0], rows)
        x = plan.seed(self.standardize(x), self.standardize.std, rows)
        u, v, h = self._encoders(plan, x, [self.encoder_u, self.encoder_v, self.first], rows)
        v_minus_u = plan.sub(v, u)
        for gate in self.gates:  # H = (1 - Z) U + Z V = U + Z (V - U)
            h = plan.add(u, plan.product(self._dense(plan, h, gate, rows), v_minus_u, rows))
        return plan.affine(h, self.out.weight, self.out.bias)

    def layer_weights(self) -> dict[str, nn.Parameter]:
        gates = {f"gate {k + 1}": g.weight for k, g in enumerate(self.gates)}
        return {"encoder U": self.encoder_u.weight, "encoder V": self.encoder_v.weight,
                "layer 1": self.first.weight, **gates, "output": self.out.weight}


class ReleasedModifiedMLP(ModifiedMLP):
    """The modified MLP as the authors' released TF1 code builds it: no separate H_1, the first gate reads the
    (standardised) input directly, so a [2, 50 x L, 1] network has L gate matrices, the first 2 x 50:

        U = phi(X W_U + b_U),  V = phi(X W_V + b_V),  H_0 = X
        Z_k = phi(H_{k-1} Wz_k + bz_k),  H_k = (1 - Z_k) * U + Z_k * V,   k = 1 .. L,   f = H_L W + b

    (The code writes Z * U + (1 - Z) * V; with both encoders drawn alike that is the same family.) As in that code,
    the encoder biases are drawn like the weights (``xavier_init([1, width])``: normal, std = sqrt(2 / (1 + width)))
    rather than zero; every other bias is zero.
    """

    def __init__(self, in_dim: int, out_dim: int, depth: int = 3, width: int = 50, activation: str = "tanh",
                 mean=0.0, std=1.0, seed: int | None = None):
        Network.__init__(self, in_dim, out_dim, depth, width, activation, mean, std, seed)
        g = self.generator
        self.encoder_u = xavier_linear(in_dim, width, g)
        self.encoder_v = xavier_linear(in_dim, width, g)
        with torch.no_grad():
            for encoder in (self.encoder_u, self.encoder_v):
                encoder.bias.normal_(0.0, math.sqrt(2.0 / (1 + width)), generator=g)
        self.first = None
        self.gates = nn.ModuleList(xavier_linear(in_dim if k == 0 else width, width, g) for k in range(depth))
        self.out = xavier_linear(width, out_dim, g)

    def forward(self, x: Tensor) -> Tensor:
        h = x = self.standardize(x)
        u, v = self.act(self.encoder_u(x)), self.act(self.encoder_v(x))
        for gate in self.gates:
            z = self.act(gate(h))
            h = (1 - z) * u + z * v
        return self.out(h)

    def forward_jet(self, plan: JetPlan, x: Tensor, rows=None) -> Jet:
        rows = plan.row_counts(x.shape[0], rows)
        x = plan.seed(self.standardize(x), self.standardize.std, rows)
        # the first gate reads the input too: one affine map and one activation for U, V and Z_1
        u, v, z = self._encoders(plan, x, [self.encoder_u, self.encoder_v, self.gates[0]], rows)
        v_minus_u = plan.sub(v, u)
        h = plan.add(u, plan.product(z, v_minus_u, rows))
        for gate in self.gates[1:]:
            h = plan.add(u, plan.product(self._dense(plan, h, gate, rows), v_minus_u, rows))
        return plan.affine(h, self.out.weight, self.out.bias)

    def layer_weights(self) -> dict[str, nn.Parameter]:
        gates = {f"gate {k + 1}": g.weight for k, g in enumerate(self.gates)}
        return {"encoder U": self.encoder_u.weight, "encoder V": self.encoder_v.weight, **gates,
                "output": self.out.weight}


MODELS: dict[str, type[Network]] = {"mlp": MLP, "modified-mlp": ModifiedMLP,
                                    "modified-mlp-released": ReleasedModifiedMLP}


def make_model(name: str, in_dim: int, out_dim: int, **kwargs) -> Network:
    if name not in MODELS:
        raise ConfigError("model", f"unknown '{name}'; allowed: {', '.join(MODELS)}")
    return MODELS[name](in_dim, out_dim, **kwargs)
