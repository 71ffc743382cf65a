"""Runs as TensorBoard event files, written with ``torch.utils.tensorboard.SummaryWriter`` (needs the
``tensorboard`` package: ``pip install -e ".[tensorboard]"``). One TensorBoard run per run, ``LOGDIR/<label>``:

    scalars     loss/<term> (unweighted), lambda/<term>, lr           every stored step
                unknown/<name> (an inverse problem's coefficients)    every stored step
                rel_l2                                                every evaluation
                sigma_max/<term>, sigma_max/total, stability (lr·σ_max)   every Hessian snapshot, where recorded
                ntk_trace/<term> (Tr K_ii per point)                   every kernel trace record (snapshots, NTK
                                                                       updates)
                alignment/all, alignment/<layer>                      every alignment record
                causal/eps, causal/min_w, causal/front_t              every causal record (front_t: the latest
                                                                       t up to which every weight is >= 0.5)
    histograms  grad_<term>/<layer>: log10 |∇_W (λ_t L_t)|            every gradient snapshot, from the stored
                bin counts (``add_histogram_raw``: bucket limits = the right bin edges; min, max = the outer
                edges; sum and sum of squares from the bin centres, as the raw samples are not stored)
    images      field/reference (once), field/prediction, field/error  every evaluation (2D problems: colour
                maps, the prediction on the reference's colour scale; 1D problems: curves)

Wall times are the run's own clock: the config's modification time plus the step's training seconds. Everything
is written into a hidden directory in LOGDIR and renamed into place at the end, so an export that fails leaves
nothing behind; a run that exists in LOGDIR already is refused (TensorBoard would merge the two).
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Sequence

import numpy as np

from pinncore import ConfigError

from .data import RunData, load_runs, publish_dirs, staging_dir

IMAGE_SCALE = 3  # a 100 x 100 field is drawn 300 x 300


def _writer_class():
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise ConfigError("tensorboard", "needs the tensorboard package: pip install -e \".[tensorboard]\"") \
            from None
    return SummaryWriter


def tb_name(label: str) -> str:
    """A directory name for a run's label (no path separators)."""
    name = "".join("-" if c in '/\\:*?"<>|' else c for c in label).strip(". ")
    return name or "run"


def _t0(run: RunData) -> float:
    try:
        return (run.path / "config.json").stat().st_mtime
    except OSError:
        return 0.0


def _add_scalars(writer, step: int, walltime: float, values: dict[str, float]) -> None:
    """Several scalar tags at one step as one event: the Summary protobuf ``SummaryWriter.add_scalar`` builds,
    with one value per tag, through the writer's own event file (5x faster than one event per tag)."""
    from tensorboard.compat.proto.summary_pb2 import Summary

    summary = Summary(value=[Summary.Value(tag=t, simple_value=v) for t, v in values.items()])
    writer._get_file_writer().add_summary(summary, step, walltime)


def _walls(run: RunData):
    """step -> wall time of the event: the config's mtime plus the training seconds of the last stored step at
    or before it (snapshots past the last stored metrics, or the final evaluation, take the latest known)."""
    t0, m = _t0(run), run.metrics
    steps = m["step"].to_numpy() if len(m) else np.zeros(0)
    walls = m["wall"].to_numpy(np.float64) if len(m) else np.zeros(0)

    def at(step: int) -> float:
        i = int(np.searchsorted(steps, step, side="right")) - 1
        return t0 + (float(walls[i]) if i >= 0 else 0.0)
    return at


def write_scalars(writer, run: RunData) -> None:
    m, t0, wall = run.metrics, _t0(run), _walls(run)
    if len(m):
        cols = [(c, "loss/" + c[5:]) for c in m.columns if c.startswith("loss_")]
        cols += [(c, "lambda/" + c[7:]) for c in m.columns if c.startswith("lambda_")]
        cols += [(c, "unknown/" + c[8:]) for c in m.columns if c.startswith("unknown_")]
        cols.append(("lr", "lr"))
        tags = [tag for _, tag in cols]
        table = m[[c for c, _ in cols]].to_numpy(np.float64).tolist()
        for step, w, row in zip(m["step"].tolist(), m["wall"].tolist(), table):
            _add_scalars(writer, int(step), t0 + float(w), dict(zip(tags, row)))
    for e in run.evals:
        _add_scalars(writer, e.step, wall(e.step), {"rel_l2": float(e.rel_l2)})
    for h in run.hess:
        values = {f"sigma_max/{t}": abs(float(v)) for t, v in h.eigenvalues.items()}
        values.update({"sigma_max/total": float(h.sigma_max), "stability": float(h.stability)})
        _add_scalars(writer, h.step, wall(h.step), values)
    for k in run.kernels:
        _add_scalars(writer, k.step, wall(k.step), {f"ntk_trace/{t}": v / k.points for t, v in k.traces.items()})
    for a in run.aligns:
        values = {"alignment/all": a.score, **{f"alignment/{layer}": v for layer, v in a.layers.items()}}
        _add_scalars(writer, a.step, wall(a.step), {t: float(v) for t, v in values.items() if np.isfinite(v)})
    for c in run.causal:
        below = np.flatnonzero(c.weights < 0.5)
        front = c.t[-1] if below.size == 0 else c.t[max(below[0] - 1, 0)]
        _add_scalars(writer, c.step, wall(c.step), {"causal/eps": c.eps, "causal/min_w": float(c.weights.min()),
                                                    "causal/front_t": float(front)})


def histogram_args(edges: np.ndarray, counts: np.ndarray) -> dict:
    """``add_histogram_raw`` arguments of one stored histogram (bins ``edges``, ``counts``)."""
    edges = np.asarray(edges, np.float64)
    counts = np.asarray(counts, np.float64)
    centres = (edges[:-1] + edges[1:]) / 2
    return dict(min=float(edges[0]), max=float(edges[-1]), num=float(counts.sum()),
                sum=float((counts * centres).sum()), sum_squares=float((counts * centres**2).sum()),
                bucket_limits=edges[1:].tolist(), bucket_counts=counts.tolist())


def write_histograms(writer, run: RunData) -> None:
    wall = _walls(run)
    for g in run.grads:
        wt = wall(g.step)
        for ti, t in enumerate(g.terms):
            for li, layer in enumerate(g.layers):
                writer.add_histogram_raw(f"grad_{t}/{layer}", global_step=g.step, walltime=wt,
                                         **histogram_args(g.edges, g.counts[ti, li]))


def colour_map(z: np.ndarray, lo: float, hi: float, cmap: str) -> np.ndarray:
    """(H, W) values -> (3, H * IMAGE_SCALE, W * IMAGE_SCALE) uint8, row 0 at the top of the image = the
    largest second coordinate, as on a plot. NaN (outside a domain with holes) is white."""
    from matplotlib import colormaps

    span = hi - lo if hi > lo else 1.0
    u = np.clip((np.nan_to_num(z, nan=lo) - lo) / span, 0.0, 1.0)
    rgb = (colormaps[cmap](u[::-1])[..., :3] * 255).astype(np.uint8)
    rgb[np.isnan(z[::-1])] = 255
    rgb = np.repeat(np.repeat(rgb, IMAGE_SCALE, axis=0), IMAGE_SCALE, axis=1)
    return rgb.transpose(2, 0, 1)


def _curve_image(x: np.ndarray, curves: dict[str, np.ndarray], title: str) -> np.ndarray:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 3), dpi=80)
    for name, y in curves.items():
        ax.plot(x, y, label=name)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.canvas.draw()
    rgb = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
    plt.close(fig)
    return rgb.transpose(2, 0, 1)


def write_fields(writer, run: RunData) -> None:
    if run.reference is None or not run.evals:
        return
    grid, ref = run.reference
    ref = np.asarray(ref, np.float64)
    wall = _walls(run)
    lo, hi = float(np.nanmin(ref)), float(np.nanmax(ref))
    x = np.asarray(grid)[:, 0]
    if ref.ndim == 2:
        writer.add_image("field/reference", colour_map(ref, lo, hi, "RdBu_r"), run.evals[0].step,
                         walltime=wall(run.evals[0].step))
    for e in run.evals:
        pred = np.asarray(e.prediction, np.float64)
        if pred.shape != ref.shape:
            continue
        wt = wall(e.step)
        err = np.abs(pred - ref)
        if ref.ndim == 2:
            top = float(np.max(err[np.isfinite(err)])) if np.isfinite(err).any() else 1.0
            writer.add_image("field/prediction", colour_map(pred, lo, hi, "RdBu_r"), e.step, walltime=wt)
            writer.add_image("field/error", colour_map(err, 0.0, top, "viridis"), e.step, walltime=wt)
        else:
            writer.add_image("field/prediction", _curve_image(x, {"reference": ref, "prediction": pred},
                                                              f"step {e.step}"), e.step, walltime=wt)
            writer.add_image("field/error", _curve_image(x, {"|error|": err}, f"step {e.step}"), e.step,
                             walltime=wt)


def write_run(writer_class, run: RunData, directory: Path) -> None:
    writer = writer_class(log_dir=str(directory), max_queue=1000, flush_secs=3600)
    try:
        writer.add_text("setup", "```\n" + run.config.to_json() + "\n```", 0)
        write_scalars(writer, run)
        write_histograms(writer, run)
        write_fields(writer, run)
    finally:
        writer.close()


def write_tensorboard(run_dirs: Sequence[str | os.PathLike], logdir: str | os.PathLike) -> list[Path]:
    """One TensorBoard run per run under ``logdir``; returns their directories. ConfigError (one line) for a
    directory that is no run, a run name taken in ``logdir``, or an unwritable ``logdir``; nothing is left
    behind then."""
    writer_class = _writer_class()
    logdir = Path(logdir)
    if logdir.exists() and not logdir.is_dir():
        raise ConfigError("tensorboard", f"'{logdir}' is not a directory")
    runs = load_runs(run_dirs)
    names = [tb_name(r.label) for r in runs]
    for name in names:
        if (logdir / name).exists():
            raise ConfigError("tensorboard", f"'{logdir / name}' already exists: remove it or choose another "
                                             "directory")
    created = not logdir.exists()
    staging = staging_dir(logdir, "tensorboard")
    try:
        for run, name in zip(runs, names):
            write_run(writer_class, run, staging / name)
        publish_dirs(staging, names, logdir, "tensorboard")
    except BaseException as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if created:
            try:
                logdir.rmdir()  # only if still empty
            except OSError:
                pass
        if isinstance(exc, OSError):
            raise ConfigError("tensorboard", f"cannot write '{logdir}' ({exc.strerror or exc})") from None
        raise
    shutil.rmtree(staging, ignore_errors=True)
    return [logdir / n for n in names]


__all__ = ["write_tensorboard", "histogram_args", "tb_name"]
