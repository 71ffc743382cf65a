"""The training points of every term, step after step, from the run's sampling generator.

A box term draws its points at every step (``Term.sample``). A term that samples a geometric region (rejection
in the interior, arc length on boundary pieces: ``pieces.RegionInterior``, ``RegionBoundary``) costs a fixed
overhead per call, about 0.1 ms, comparable to a compiled step; its points are drawn ``BLOCK`` steps at a time
instead and handed out one step's worth after another. Every step's points are still independent and uniform:
a block is ``BLOCK`` independent samples of the step's size. The unused rest of a block is part of the run's state
(``state_dict``: checkpoints, and a switch between the eager and the compiled step), so a resumed run draws the
same points as an uninterrupted one.
"""
from __future__ import annotations

import torch
from torch import Tensor

BLOCK = 32


def blocked(term) -> bool:
    return bool(term.pieces) and all(p.blockable for p in term.pieces)


class Sampler:
    def __init__(self, terms, batch: int, dtype: torch.dtype, device: torch.device):
        self.terms, self.batch, self.dtype, self.device = tuple(terms), batch, dtype, device
        self.blocked = [blocked(t) for t in self.terms]
        self.blocks: dict[int, Tensor] = {}  # term index -> (BLOCK, rows, columns), on the device
        self.next: dict[int, int] = {}  # term index -> the block's next unused step

    def draw(self, generator: torch.Generator) -> list[Tensor]:
        """One step's points of every term, in term order."""
        return [self._blocked(i, generator) if self.blocked[i] else
                t.sample(self.batch, generator, self.dtype).to(self.device) for i, t in enumerate(self.terms)]

    def _blocked(self, i: int, generator: torch.Generator) -> Tensor:
        k = self.next.get(i, BLOCK)
        if k >= BLOCK:
            t = self.terms[i]
            pts = t.sample(self.batch * BLOCK, generator, self.dtype)  # piece after piece, BLOCK * batch rows each
            groups = len(t.pieces)
            pts = pts.reshape(groups, BLOCK, self.batch, -1).transpose(0, 1).reshape(BLOCK, groups * self.batch, -1)
            self.blocks[i] = pts.contiguous().to(self.device)
            k = 0
        self.next[i] = k + 1
        return self.blocks[i][k]

    def state_dict(self) -> dict:
        """The unused points of each block (by term name): what an exact resumption needs."""
        names = [t.name for t in self.terms]
        return {names[i]: self.blocks[i][k:].cpu() for i, k in self.next.items() if k < BLOCK}

    def load_state_dict(self, state: dict | None) -> None:
        self.blocks, self.next = {}, {}
        names = [t.name for t in self.terms]
        for name, rest in (state or {}).items():
            if name not in names or not isinstance(rest, Tensor) or rest.ndim != 3 or not 0 < len(rest) <= BLOCK:
                raise ValueError(f"sampler state for {name!r} does not fit this problem")
            i = names.index(name)
            full = torch.zeros(BLOCK, *rest.shape[1:], dtype=self.dtype, device=self.device)
            full[BLOCK - len(rest):] = rest.to(device=self.device, dtype=self.dtype)
            self.blocks[i], self.next[i] = full, BLOCK - len(rest)
