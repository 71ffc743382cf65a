"""Unknown coefficients of an inverse problem: trainable scalars that residuals read like parameters.

An ``Unknown`` is declared with an initial value, optional bounds and optional true value (for scoring only). It
is trained through an unconstrained raw parameter r, mapped to the value by a smooth transform that keeps the
bounds (never reaching them):

    low and high:   value = low + (high - low) * sigmoid(r)
    low only:       value = low + softplus(r)
    high only:      value = high - softplus(r)
    neither:        value = r

``UnknownValues`` holds the raw parameters as an ``nn.Module`` (``pinncore.fused.TermLosses`` owns one), so the
optimiser, the compiled step (``torch.func.functional_call`` substitutes them like the network's weights) and the
checkpoint carry them with the network. Every failure is a ``ConfigError`` naming the field.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .errors import ConfigError

MAX_UNKNOWNS = 8


@dataclass(frozen=True)
class Unknown:
    name: str
    initial: float
    low: float | None = None
    high: float | None = None
    true: float | None = None
    help: str = ""

    def __post_init__(self):
        field = f"unknowns.{self.name}"
        for key in ("initial", "low", "high", "true"):
            v = getattr(self, key)
            if v is None and key != "initial":
                continue
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or abs(v) > 1e6:
                raise ConfigError(f"{field}.{key}", f"must be a finite number within 1e6, got {v!r}")
        lo = -math.inf if self.low is None else self.low
        hi = math.inf if self.high is None else self.high
        if not lo < hi:
            raise ConfigError(field, f"needs low < high, got {self.low:g} and {self.high:g}")
        span = hi - lo if math.isfinite(hi - lo) else max(1.0, abs(self.initial))
        margin = 1e-6 * span
        if not lo + margin < self.initial < hi - margin:
            raise ConfigError(f"{field}.initial", f"must lie strictly inside the bounds ({_bound(self.low)}, "
                                                  f"{_bound(self.high)}), got {self.initial:g}")

    @property
    def transform(self) -> str:
        """The transform's formula, for descriptions."""
        if self.low is not None and self.high is not None:
            return f"{self.low:g} + {self.high - self.low:g} sigmoid(r)"
        if self.low is not None:
            return f"{self.low:g} + softplus(r)"
        if self.high is not None:
            return f"{self.high:g} - softplus(r)"
        return "r"

    def raw_initial(self) -> float:
        """The raw parameter whose value is ``initial``."""
        v = self.initial
        if self.low is not None and self.high is not None:
            p = (v - self.low) / (self.high - self.low)
            return math.log(p / (1 - p))
        if self.low is not None:
            return _softplus_inverse(v - self.low)
        if self.high is not None:
            return _softplus_inverse(self.high - v)
        return v

    def value(self, raw: Tensor) -> Tensor:
        if self.low is not None and self.high is not None:
            return self.low + (self.high - self.low) * torch.sigmoid(raw)
        if self.low is not None:
            return self.low + nn.functional.softplus(raw)
        if self.high is not None:
            return self.high - nn.functional.softplus(raw)
        return raw


def _bound(v: float | None) -> str:
    return "-inf" if v is None else f"{v:g}"


def _softplus_inverse(y: float) -> float:
    return y + math.log(-math.expm1(-y))  # log(exp(y) - 1), stable for large y


class UnknownValues(nn.Module):
    """The raw parameters of a problem's unknowns (``raw.<name>``, shape (1, 1)) and their values."""

    def __init__(self, unknowns: tuple[Unknown, ...] = ()):
        super().__init__()
        self.specs = tuple(unknowns)
        self.raw = nn.ParameterDict({u.name: nn.Parameter(torch.full((1, 1), u.raw_initial(),
                                                                     dtype=torch.get_default_dtype()))
                                     for u in self.specs})

    def forward(self) -> dict[str, Tensor]:
        """name -> value (1, 1), differentiable in the raw parameter."""
        return {u.name: u.value(self.raw[u.name]) for u in self.specs}

    def current(self) -> dict[str, float]:
        """The values now, as floats (no graph)."""
        with torch.no_grad():
            return {u.name: float(u.value(self.raw[u.name]).double().item()) for u in self.specs}


def initial_values(unknowns, like: Tensor) -> dict[str, Tensor]:
    """The unknowns at their initial values as constants (1, 1) of ``like``'s dtype and device."""
    return {u.name: torch.full((1, 1), float(u.initial), dtype=like.dtype, device=like.device) for u in unknowns}
