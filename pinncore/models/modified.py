"""The modified MLP: the paper's (M3, M4, eq. 43-47) and the one its released code builds."""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ..jets import Jet, JetPlan
from .layers import xavier_linear
from .network import Network


class ModifiedMLP(Network):
    """The paper's modified MLP (eq. 43-47), with L = ``depth`` gated layers:

        U = phi(X W_U + b_U),  V = phi(X W_V + b_V),  H_1 = phi(X W_1 + b_1)
        Z_k = phi(H_k Wz_k + bz_k),  H_{k+1} = (1 - Z_k) * U + Z_k * V,   k = 1 .. L
        f = H_{L+1} W + b

    As in eq. 45-46, k runs over the L hidden layers of the [2, 50 x L, 1] architecture, so the network gates
    L times, as the released code does. (That code has no separate H_1 = phi(X W_1 + b_1): its first gate
    reads X directly, and it swaps the roles of U and V.) X is the embedded input.
    """

    def __init__(self, in_dim: int, out_dim: int, depth: int = 3, width: int = 50, activation: str = "tanh",
                 mean=0.0, std=1.0, seed: int | None = None, **embedding):
        super().__init__(in_dim, out_dim, depth, width, activation, mean, std, seed, **embedding)
        g, d = self.generator, self.in_features
        self.encoder_u = xavier_linear(d, width, g)
        self.encoder_v = xavier_linear(d, width, g)
        self.first = xavier_linear(d, width, g)
        self.gates = nn.ModuleList(xavier_linear(width, width, g) for _ in range(depth))
        self.out = xavier_linear(width, out_dim, g)

    def forward(self, x: Tensor) -> Tensor:
        x = self.embed(x)
        u, v = self.act(self.encoder_u(x)), self.act(self.encoder_v(x))
        h = self.act(self.first(x))
        for gate in self.gates:
            z = self.act(gate(h))
            h = (1 - z) * u + z * v
        return self.out(h)

    def forward_jet(self, plan: JetPlan, x: Tensor, rows=None) -> Jet:
        rows = plan.row_counts(x.shape[0], rows)
        x = self.embed_jet(plan, x, rows)
        u, v, h = self._encoders(plan, x, [self.encoder_u, self.encoder_v, self.first], rows)
        v_minus_u = plan.sub(v, u)
        for gate in self.gates:  # H = (1 - Z) U + Z V = U + Z (V - U)
            h = plan.add(u, plan.product(self._dense(plan, h, gate, rows), v_minus_u, rows))
        return plan.affine(h, self.out.weight, self.out.bias)

    def dense_paths(self) -> dict[str, str]:
        gates = {f"gate {k + 1}": f"gates.{k}" for k in range(len(self.gates))}
        return {"encoder U": "encoder_u", "encoder V": "encoder_v", "layer 1": "first", **gates, "output": "out"}


class ReleasedModifiedMLP(ModifiedMLP):
    """The modified MLP as the authors' released TF1 code builds it: no separate H_1, the first gate reads the
    (standardised, embedded) input directly, so a [2, 50 x L, 1] network has L gate matrices, the first 2 x 50:

        U = phi(X W_U + b_U),  V = phi(X W_V + b_V),  H_0 = X
        Z_k = phi(H_{k-1} Wz_k + bz_k),  H_k = (1 - Z_k) * U + Z_k * V,   k = 1 .. L,   f = H_L W + b

    (The code writes Z * U + (1 - Z) * V; with both encoders drawn alike that is the same family.) As in that code,
    the encoder biases are drawn like the weights (``xavier_init([1, width])``: normal, std = sqrt(2 / (1 + width)))
    rather than zero; every other bias is zero.
    """

    def __init__(self, in_dim: int, out_dim: int, depth: int = 3, width: int = 50, activation: str = "tanh",
                 mean=0.0, std=1.0, seed: int | None = None, **embedding):
        Network.__init__(self, in_dim, out_dim, depth, width, activation, mean, std, seed, **embedding)
        g, d = self.generator, self.in_features
        self.encoder_u = xavier_linear(d, width, g)
        self.encoder_v = xavier_linear(d, width, g)
        with torch.no_grad():
            for encoder in (self.encoder_u, self.encoder_v):
                encoder.bias.normal_(0.0, math.sqrt(2.0 / (1 + width)), generator=g)
        self.first = None
        self.gates = nn.ModuleList(xavier_linear(d if k == 0 else width, width, g) for k in range(depth))
        self.out = xavier_linear(width, out_dim, g)

    def forward(self, x: Tensor) -> Tensor:
        h = x = self.embed(x)
        u, v = self.act(self.encoder_u(x)), self.act(self.encoder_v(x))
        for gate in self.gates:
            z = self.act(gate(h))
            h = (1 - z) * u + z * v
        return self.out(h)

    def forward_jet(self, plan: JetPlan, x: Tensor, rows=None) -> Jet:
        rows = plan.row_counts(x.shape[0], rows)
        x = self.embed_jet(plan, x, rows)
        # the first gate reads the input too: one affine map and one activation for U, V and Z_1
        u, v, z = self._encoders(plan, x, [self.encoder_u, self.encoder_v, self.gates[0]], rows)
        v_minus_u = plan.sub(v, u)
        h = plan.add(u, plan.product(z, v_minus_u, rows))
        for gate in self.gates[1:]:
            h = plan.add(u, plan.product(self._dense(plan, h, gate, rows), v_minus_u, rows))
        return plan.affine(h, self.out.weight, self.out.bias)

    def dense_paths(self) -> dict[str, str]:
        gates = {f"gate {k + 1}": f"gates.{k}" for k in range(len(self.gates))}
        return {"encoder U": "encoder_u", "encoder V": "encoder_v", **gates, "output": "out"}
