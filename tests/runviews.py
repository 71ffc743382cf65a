"""A run trained to its end in this process, as the run service would show it (the dashboard's figure tests)."""
import warnings

from pinnlab.live import RunView
from pinncore import EvalSnapshot, GradSnapshot, RunConfig, StepRecord, StiffnessSnapshot
from pinncore.run import Run


def trained_view(config: RunConfig, path, name: str) -> RunView:
    """A run trained until it ends, in this process, as the run service would show it."""
    run = Run.create(config, path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # L-BFGS in float32
        records = run.advance(config.steps)
    run.close()
    of = lambda cls: [r for r in records if isinstance(r, cls)]  # noqa: E731
    t = run.trainer
    return RunView(name, config.label(), t.config, t.status, t.steps_done, None, of(StepRecord), of(EvalSnapshot),
                   of(GradSnapshot), of(StiffnessSnapshot), t.reference_field, path)
