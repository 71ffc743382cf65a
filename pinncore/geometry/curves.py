"""The boundary of a CSG domain as parts of its primitives' curves, found exactly enough to sample on.

Every primitive curve (segment or circle) is parametrised by s in [0, 1]; its points and outward normals are
closed forms (a circle's point is centre + r (cos, sin), its normal (cos, sin): exact to round-off). A point of a
primitive's curve with outward normal n is on the domain's boundary when exactly one of p - d n and p + d n is in
the domain (d = ``PROBE`` times the domain's size); the domain's outward normal there is n if the domain is on the
p - d n side (an outer wall), -n otherwise (a hole: the normal points into the hole, out of the domain).

``active_intervals`` scans every curve (at least ``MIN_SCAN`` points per curve, ``SCAN`` in all by length) and
bisects every change of that classification to round-off, giving the boundary as intervals [s0, s1] of curves,
each with its sign. A boundary part shorter than the scan spacing (about length / SCAN) can be missed.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .shapes import Curve

PROBE = 1e-9
SCAN, MIN_SCAN = 1 << 16, 16
BISECT = 60
EDGE = 1e-12  # the scan's first and last parameters: classify next to a vertex, not on it


@dataclass(frozen=True)
class CurveTable:
    """Curves as arrays: ``circle`` (bool), ``a`` (start or centre), ``b`` (end), ``r`` (radius), ``length``."""

    circle: np.ndarray
    a: np.ndarray
    b: np.ndarray
    r: np.ndarray
    length: np.ndarray

    @classmethod
    def of(cls, curves: list[Curve]) -> CurveTable:
        circle = np.array([c.kind == "circle" for c in curves])
        a = np.array([c.a for c in curves], dtype=np.float64).reshape(-1, 2)
        b = np.array([c.b for c in curves], dtype=np.float64).reshape(-1, 2)
        r = np.array([c.r for c in curves], dtype=np.float64)
        length = np.where(circle, 2 * np.pi * r, np.hypot(*(b - a).T))
        return cls(circle, a, b, r, length)

    def points(self, idx: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Points (k, 2) and the primitive's outward unit normals (k, 2) at parameters s of curves idx."""
        circ = self.circle[idx]
        a, b, r = self.a[idx], self.b[idx], self.r[idx]
        theta = 2 * np.pi * s
        c, sn = np.cos(theta), np.sin(theta)
        d = b - a
        seg_len = np.where(circ, 1.0, np.hypot(d[:, 0], d[:, 1]))
        px = np.where(circ, a[:, 0] + r * c, a[:, 0] + s * d[:, 0])
        py = np.where(circ, a[:, 1] + r * sn, a[:, 1] + s * d[:, 1])
        nx = np.where(circ, c, d[:, 1] / seg_len)  # a counter-clockwise edge's outward normal: (dy, -dx) / |d|
        ny = np.where(circ, sn, -d[:, 0] / seg_len)
        return np.stack([px, py], 1), np.stack([nx, ny], 1)


def classify(table: CurveTable, contains, probe: float, idx: np.ndarray, s: np.ndarray) -> np.ndarray:
    """+1 (outer wall: normal n), -1 (hole wall: normal -n) or 0 (not on the boundary) per (curve, s)."""
    p, n = table.points(idx, s)
    minus = contains(p[:, 0] - probe * n[:, 0], p[:, 1] - probe * n[:, 1])
    plus = contains(p[:, 0] + probe * n[:, 0], p[:, 1] + probe * n[:, 1])
    return minus.astype(np.int8) - plus.astype(np.int8)


def _scan_params(table: CurveTable) -> tuple[np.ndarray, np.ndarray]:
    """(curve index, s) of the scan: per curve, EDGE, interior points evenly spaced, 1 - EDGE."""
    share = table.length / table.length.sum()
    counts = np.maximum(MIN_SCAN, np.round(SCAN * share).astype(int))
    idx = np.repeat(np.arange(len(counts)), counts)
    start = np.repeat(np.cumsum(counts) - counts, counts)
    j = np.arange(len(idx)) - start
    s = j / (np.repeat(counts, counts) - 1)
    return idx, np.clip(s, EDGE, 1 - EDGE)


def _bisect(table, contains, probe, idx, lo, hi, cls_lo) -> np.ndarray:
    for _ in range(BISECT):
        mid = 0.5 * (lo + hi)
        same = classify(table, contains, probe, idx, mid) == cls_lo
        lo, hi = np.where(same, mid, lo), np.where(same, hi, mid)
    return 0.5 * (lo + hi)


def active_intervals(table: CurveTable, contains, probe: float) -> tuple[np.ndarray, ...]:
    """The boundary: arrays (curve, s0, s1, sign) of maximal intervals on which the classification is sign != 0."""
    idx, s = _scan_params(table)
    cls = classify(table, contains, probe, idx, s)
    same_curve = idx[1:] == idx[:-1]
    change = same_curve & (cls[1:] != cls[:-1])
    k = np.nonzero(change)[0]
    cut = _bisect(table, contains, probe, idx[k], s[k], s[k + 1], cls[k])
    # split points: every curve's start and end, and the bisected changes
    first = np.r_[True, ~same_curve]
    last = np.r_[~same_curve, True]
    starts = np.sort(np.r_[np.nonzero(first)[0], k + 1])  # scan positions that begin a run
    ends = np.sort(np.r_[np.nonzero(last)[0], k])  # ... and end one
    s0 = np.where(first[starts], 0.0, np.r_[cut, np.inf][np.searchsorted(k + 1, starts)])
    s1 = np.where(last[ends], 1.0, np.r_[cut, np.inf][np.searchsorted(k, ends)])
    sign = cls[starts]
    keep = (sign != 0) & (s1 > s0)
    return idx[starts][keep], s0[keep], s1[keep], sign[keep].astype(np.float64)
