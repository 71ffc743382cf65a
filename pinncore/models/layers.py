"""The building blocks of the networks: activations, Xavier-initialised dense layers, their random weight
factorisation, and the input standardisation.

Random weight factorisation (RWF; Wang, Wang, Seidman & Perdikaris, "Random weight factorization improves the
training of continuous neural representations", 2022; recipe of Wang, Sankaran, Wang & Perdikaris, "An expert's
guide to training physics-informed neural networks", 2023, Sec. 4.3 and Algorithm 2): every dense layer's weight
matrix becomes

    W = diag(exp(s)) V,    s ~ N(mu, sigma^2) per output unit, drawn once,   V = W_xavier / exp(s),

so that the initial W equals the Xavier draw, and both s and V are trained. ``FactorisedDense.weight`` is that
W, computed at each call: a forward pass, the jets (``pinncore.jets``: an affine map is an affine map, whatever
made its matrix) and the compiled step all read it like an ordinary layer's weight, and autograd carries the
gradient on to s and V.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
from torch import Tensor, nn

from ..jets import tanh

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


class FactorisedDense(nn.Module):
    """A dense layer with W = diag(exp(s)) V: parameters ``v`` (out, in), ``s`` (out,) and ``bias`` (out,)."""

    def __init__(self, v: Tensor, s: Tensor, bias: Tensor):
        super().__init__()
        self.v = nn.Parameter(v)
        self.s = nn.Parameter(s)
        self.bias = nn.Parameter(bias)

    @classmethod
    def of(cls, layer: nn.Linear, mu: float, sigma: float,
           generator: torch.Generator | None = None) -> "FactorisedDense":
        """The factorisation of ``layer``'s current weights: s ~ N(mu, sigma^2) per output unit from
        ``generator``, V = W / exp(s) (so the layer computes what it computed before, to round-off)."""
        w = layer.weight.detach()
        s = torch.randn(w.shape[0], generator=generator, dtype=w.dtype) * sigma + mu
        return cls(w / torch.exp(s).unsqueeze(1), s, layer.bias.detach().clone())

    @property
    def weight(self) -> Tensor:
        return torch.exp(self.s).unsqueeze(1) * self.v

    def forward(self, x: Tensor) -> Tensor:
        return nn.functional.linear(x, self.weight, self.bias)


class Standardize(nn.Module):
    """x -> (x - mean) / std with fixed buffers (saved in the state dict)."""

    def __init__(self, mean, std):
        super().__init__()
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.get_default_dtype()).reshape(1, -1))
        self.register_buffer("std", torch.as_tensor(std, dtype=torch.get_default_dtype()).reshape(1, -1))

    def forward(self, x: Tensor) -> Tensor:
        return (x - self.mean) / self.std
