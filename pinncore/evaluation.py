"""The trainer's evaluation (a mixin of ``pinncore.trainer.Trainer``): the grid over the domain's box, the reference
on it, and the relative L2 error of the network's prediction, on the grid's points in the domain or on a scattered
reference's own points."""
from __future__ import annotations

import numpy as np
import torch

from .records import EvalSnapshot


class Evaluation:
    def _evaluation(self, n: int) -> None:
        """The evaluation grid over the domain's box, the reference on it (NaN outside a region: pictures are
        masked), and the points the error is scored on when they are not the grid (a scattered reference's)."""
        grid, self.grid_shape = self.problem.grid(n)
        self.grid = grid
        self.grid_mask = self.problem.mask(grid)
        self._masked = not self.grid_mask.all()
        if self._masked:
            ref = np.full(len(grid), np.nan)
            ref[self.grid_mask] = self.problem.reference(grid[self.grid_mask])
        else:
            ref = self.problem.reference(grid)
        self.reference_field = ref.reshape(self.grid_shape)
        self._grid_t = torch.as_tensor(grid, dtype=self.dtype, device=self.device)
        self.score_points = self.problem.scoring()

    def evaluate(self) -> EvalSnapshot:
        """The prediction on the grid (NaN outside a region) and the relative L2 error: on the grid's points in
        the domain, or on the scattered reference's own points."""
        pred = self._predict(self._grid_t)
        ref = self.reference_field.ravel()
        if self._masked:
            pred[~self.grid_mask] = np.nan
        if self.score_points is not None:
            points, values = self.score_points
            err = float(np.linalg.norm(self._predict(points) - values) / np.linalg.norm(values))
        elif self._masked:
            m = self.grid_mask
            err = float(np.linalg.norm(pred[m] - ref[m]) / np.linalg.norm(ref[m]))
        else:
            err = float(np.linalg.norm(pred - ref) / np.linalg.norm(ref))
        return EvalSnapshot(self.steps_done, err, pred.reshape(self.grid_shape).astype(np.float32))

    def _predict(self, points, chunk: int = 1 << 16) -> np.ndarray:
        """The evaluated quantity at points (float64 numpy), in chunks (a scattered reference may be large)."""
        if isinstance(points, torch.Tensor) and len(points) <= chunk:
            pred = self.problem.predict(self.model, points, self.config.derivatives)
            return pred.to("cpu", torch.float64).numpy()
        return np.concatenate([self._predict(torch.as_tensor(points[i:i + chunk], dtype=self.dtype,
                                                             device=self.device))
                               for i in range(0, len(points), chunk)])

