"""The plain MLP (the paper's M1 and M2)."""
from __future__ import annotations

from torch import Tensor, nn

from ..jets import Jet, JetPlan
from .layers import xavier_linear
from .network import Network


class MLP(Network):
    """H_1 = phi(X W_1 + b_1), H_{k+1} = phi(H_k W_{k+1} + b_{k+1}), f = H_depth W + b, X the embedded input."""

    def __init__(self, in_dim: int, out_dim: int, depth: int = 3, width: int = 50, activation: str = "tanh",
                 mean=0.0, std=1.0, seed: int | None = None, **embedding):
        super().__init__(in_dim, out_dim, depth, width, activation, mean, std, seed, **embedding)
        g = self.generator
        sizes = [self.in_features] + [width] * depth
        self.hidden = nn.ModuleList(xavier_linear(a, b, g) for a, b in zip(sizes[:-1], sizes[1:]))
        self.out = xavier_linear(width, out_dim, g)

    def forward(self, x: Tensor) -> Tensor:
        h = self.embed(x)
        for layer in self.hidden:
            h = self.act(layer(h))
        return self.out(h)

    def forward_jet(self, plan: JetPlan, x: Tensor, rows=None) -> Jet:
        rows = plan.row_counts(x.shape[0], rows)
        h = self.embed_jet(plan, x, rows)
        for layer in self.hidden:
            h = self._dense(plan, h, layer, rows)
        return plan.affine(h, self.out.weight, self.out.bias)

    def dense_paths(self) -> dict[str, str]:
        return {**{f"layer {i + 1}": f"hidden.{i}" for i in range(len(self.hidden))}, "output": "out"}
