"""A run's status in words: ``ready``, ``running``, ``paused``, ``finished``, ``diverged at step k``, ``stalled at
step k: ...`` (L-BFGS found no lower loss), or a front end's own (``stopped``, ``error: ...``)."""
from __future__ import annotations


def ended(status: str) -> bool:
    """A run that trains no further: finished, diverged, or stalled (L-BFGS found no lower loss)."""
    return status == "finished" or status.startswith(("diverged", "stalled"))


def completed(status: str | None) -> bool:
    """A run whose last evaluation is its result: finished, or stalled (an L-BFGS run's normal end)."""
    return bool(status) and (status == "finished" or status.startswith("stalled"))
