"""pinncore.geometry: CSG domains with named boundary pieces (issue 34). Sampling is uniform (chi-square, fixed
seeds), boundary points lie on their pieces to 1e-12 with unit outward normals, masks are exact, and every
malformed input is a one-line GeometryError naming its field."""
import math

import numpy as np
import pytest
import shapely
import torch
from scipy.stats import chi2

from pinncore.geometry import (Difference, Disk, Domain, GeometryError, Intersection, Interval, Polygon, Rectangle,
                               SpaceTime, Union)

P_MIN = 1e-3  # a fixed seed's chi-square p-value must exceed this (uniform: fails with probability 0.001)


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def holes():
    """The Poisson example's kind of domain: a square with two circular holes."""
    return Domain(Rectangle((-1, -1), (1, 1)) - Disk((0.3, 0.0), 0.2) - Disk((-0.4, 0.2), 0.1))


def l_shape(**kw):
    return Domain(Polygon([(0, 0), (2, 0), (2, 1), (1, 1), (1, 2), (0, 2)], **kw))


def notch():
    """A square minus a disk that sticks out of it: only parts of both curves are boundary."""
    return Domain(Rectangle((0, 0), (1, 1)) - Disk((1.0, 0.5), 0.25))


# -- interior -----------------------------------------------------------------------------------------------------
def _chi_square_cells(domain, pts, cells=16):
    """p-value of the counts in a cells x cells grid over the box, each cell's expectation from its exact share of
    the region (cell area inside the region, shapely), cells expecting fewer than 5 points pooled out."""
    lo, hi = domain.bbox()
    edges = [np.linspace(lo[i], hi[i], cells + 1) for i in range(2)]
    counts, _, _ = np.histogram2d(pts[:, 0], pts[:, 1], bins=edges)
    share = np.array([[shapely.box(edges[0][i], edges[1][j], edges[0][i + 1], edges[1][j + 1])
                       .intersection(domain.geometry).area for j in range(cells)] for i in range(cells)])
    expected = len(pts) * share / share.sum()
    ok = expected >= 5
    stat = ((counts[ok] - expected[ok]) ** 2 / expected[ok]).sum()
    assert counts[~ok].sum() <= 5 * (~ok).sum() + 50  # the pooled-out cells are barely in the region
    return chi2.sf(stat, ok.sum() - 1)


@pytest.mark.parametrize("make", [holes, l_shape, notch, lambda: Domain(Disk((2, -1), 0.5)),
                                  lambda: Domain(Disk((0, 0), 1) & Disk((1, 0), 1))])
def test_interior_points_are_uniform_and_inside(make):
    domain = make()
    pts = domain.sample_interior(40_000, gen(1)).numpy()
    assert pts.shape == (40_000, 2) and pts.dtype == np.float64
    assert domain.mask(pts).all()
    p = _chi_square_cells(domain, pts)
    print(f"chi-square p = {p:.3f}")
    assert p > P_MIN


def test_interior_sampling_is_reproducible_exact_in_count_and_cast():
    d = holes()
    a, b = d.sample_interior(1234, gen(7)), d.sample_interior(1234, gen(7))
    assert torch.equal(a, b) and a.shape == (1234, 2)
    assert not torch.equal(a, d.sample_interior(1234, gen(8)))
    assert d.sample_interior(5, gen(), torch.float32).dtype == torch.float32
    assert d.sample_interior(0, gen()).shape == (0, 2)


# -- boundary -----------------------------------------------------------------------------------------------------
def test_circle_points_lie_on_their_circles_with_exact_normals():
    d = holes()
    for piece, c, r in (("hole 1", (0.3, 0.0), 0.2), ("hole 2", (-0.4, 0.2), 0.1)):
        p, n = (t.numpy() for t in d.sample_boundary(piece, 5000, gen(2)))
        rel = p - np.array(c)
        assert np.abs(np.hypot(rel[:, 0], rel[:, 1]) - r).max() < 1e-12
        assert np.abs(np.hypot(n[:, 0], n[:, 1]) - 1).max() < 1e-12
        assert np.abs(n + rel / r).max() < 1e-12  # out of the domain = into the hole


def test_polygon_points_lie_on_their_edges_with_outward_normals():
    d = l_shape()
    p, n = (t.numpy() for t in d.sample_boundary("outer", 5000, gen(3)))
    v = d.shape.vertices
    a, b = v, np.roll(v, -1, axis=0)
    e = b - a
    rel = p[:, None, :] - a[None]
    s = (rel * e).sum(-1) / (e * e).sum(-1)
    dist = np.abs(rel[..., 0] * e[:, 1] - rel[..., 1] * e[:, 0]) / np.hypot(e[:, 0], e[:, 1])
    dist = np.where((s >= -1e-12) & (s <= 1 + 1e-12), dist, np.inf)
    edge = dist.argmin(axis=1)
    assert dist.min(axis=1).max() < 1e-12
    outward = np.stack([e[:, 1], -e[:, 0]], 1) / np.hypot(e[:, 0], e[:, 1])[:, None]  # counter-clockwise
    assert np.abs(n - outward[edge]).max() < 1e-12
    _assert_outward(d, p, n, v)


def _assert_outward(d, p, n, corners, delta=1e-6):
    """Off the corners, a step along n leaves the domain and a step against it enters it."""
    far = np.min(np.hypot(*(p[:, None, :] - corners[None]).transpose(2, 0, 1)), axis=1) > 100 * delta
    assert far.mean() > 0.99
    assert not d.mask(p[far] + delta * n[far]).any()
    assert d.mask(p[far] - delta * n[far]).all()


def test_only_the_parts_on_the_region_boundary_are_sampled():
    d = notch()
    assert d.measure("outer") == pytest.approx(3.5, abs=1e-8)  # the right edge loses its middle half
    assert d.measure("hole 1") == pytest.approx(math.pi * 0.25, abs=1e-8)  # the half circle inside the square
    p, n = (t.numpy() for t in d.sample_boundary("outer", 4000, gen(4)))
    assert (np.hypot(p[:, 0] - 1, p[:, 1] - 0.5) >= 0.25 - 1e-12).all()
    p, n = (t.numpy() for t in d.sample_boundary("hole 1", 4000, gen(5)))
    assert (p[:, 0] <= 1 + 1e-12).all() and np.abs(np.hypot(p[:, 0] - 1, p[:, 1] - 0.5) - 0.25).max() < 1e-12
    corners = np.array([[0, 0], [1, 0], [1, 1], [0, 1], [1, 0.25], [1, 0.75]])
    _assert_outward(d, p, n, corners)
    u = Domain(Disk((0, 0), 1) | Disk((1, 0), 1))  # union: each circle outside the other
    p, n = (t.numpy() for t in u.sample_boundary("outer", 4000, gen(6)))
    far = np.minimum(np.hypot(p[:, 0], p[:, 1]), np.hypot(p[:, 0] - 1, p[:, 1]))
    assert np.abs(np.minimum(np.abs(np.hypot(p[:, 0], p[:, 1]) - 1), np.abs(np.hypot(p[:, 0] - 1, p[:, 1]) - 1))).max() < 1e-12
    assert (far >= 1 - 1e-12).all()  # never strictly inside the other disk
    assert u.measure("outer") == pytest.approx(2 * (2 * math.pi - 2 * math.pi / 3), rel=1e-7)
    _assert_outward(u, p, n, np.array([[0.5, math.sqrt(0.75)], [0.5, -math.sqrt(0.75)]]))


def test_boundary_points_are_uniform_in_arc_length():
    d = Domain(Rectangle((0, 0), (2, 1)))  # four edges of lengths 2, 1, 2, 1
    p = d.sample_boundary("outer", 60_000, gen(7))[0].numpy()
    on = [(p[:, 1] == 0) & (p[:, 0] < 2), (p[:, 0] == 2) & (p[:, 1] < 1), (p[:, 1] == 1) & (p[:, 0] > 0),
          (p[:, 0] == 0) & (p[:, 1] > 0)]  # each edge without its end corner: every point on exactly one
    counts = np.array([m.sum() for m in on])
    assert counts.sum() == len(p) and np.all(sum(m.astype(int) for m in on) == 1)
    expected = len(p) * np.array([2, 1, 2, 1]) / 6
    assert chi2.sf(((counts - expected) ** 2 / expected).sum(), 3) > P_MIN
    along = np.histogram(p[on[0], 0], bins=20, range=(0, 2))[0]  # and uniform along an edge
    assert chi2.sf(((along - along.mean()) ** 2 / along.mean()).sum(), 19) > P_MIN
    d = notch()  # a partial arc: uniform in angle over [pi/2, 3pi/2]
    p = d.sample_boundary("hole 1", 60_000, gen(8))[0].numpy()
    ang = np.arctan2(p[:, 1] - 0.5, p[:, 0] - 1) % (2 * math.pi)
    assert ang.min() >= math.pi / 2 - 1e-7 and ang.max() <= 3 * math.pi / 2 + 1e-7
    h = np.histogram(ang, bins=30, range=(math.pi / 2, 3 * math.pi / 2))[0]
    assert chi2.sf(((h - h.mean()) ** 2 / h.mean()).sum(), 29) > P_MIN


def test_piece_names_default_merge_and_follow_edges():
    assert holes().pieces == ("outer", "hole 1", "hole 2")
    d = Domain(Rectangle((0, 0), (1, 1), edges=["wall", "outlet", "wall", "inlet"]) - Disk((0.5, 0.5), 0.1, "cyl"))
    assert d.pieces == ("wall", "outlet", "inlet", "cyl")
    assert d.measure("wall") == pytest.approx(2.0)
    p, n = (t.numpy() for t in d.sample_boundary("inlet", 100, gen()))
    assert np.all(p[:, 0] == 0) and np.all(n == [-1.0, 0.0])
    cw = l_shape(edges=["b", None, None, None, None, "l"])  # names follow their edges when the order is reversed
    ccw = Domain(Polygon([(0, 2), (1, 2), (1, 1), (2, 1), (2, 0), (0, 0)], edges=[None, None, None, None, "b", "l"]))
    for dom in (cw, ccw):
        assert dom.measure("b") == pytest.approx(2.0) and dom.measure("l") == pytest.approx(2.0)
        assert np.all(dom.sample_boundary("b", 50, gen())[0].numpy()[:, 1] == 0)
    assert set(d.outline()) == set(d.pieces) and all(line.shape[1] == 2 for line in d.outline()["cyl"])


# -- mask, box, statistics -------------------------------------------------------------------------------------------
def test_the_mask_is_exact_and_closed():
    d = holes()
    xs = np.linspace(-1, 1, 201)
    X, Y = np.meshgrid(xs, xs)
    pts = np.c_[X.ravel(), Y.ravel()]
    expect = (np.hypot(pts[:, 0] - 0.3, pts[:, 1]) >= 0.2) & (np.hypot(pts[:, 0] + 0.4, pts[:, 1] - 0.2) >= 0.1)
    assert np.array_equal(d.mask(pts), expect)
    assert d.mask(np.array([[0.5, 0.0], [1.0, 1.0], [0.3, 0.0], [1.0 + 1e-12, 0.0]])).tolist() == \
        [True, True, False, False]  # on a hole's circle, a corner, a hole's centre, just outside
    assert np.array_equal(l_shape().mask(np.array([[1.5, 1.5], [1.0, 1.5], [0.5, 1.5]])), [False, True, True])


def test_bbox_and_standardisation_statistics():
    d = Domain(Disk((2, -1), 0.5))
    assert np.array_equal(np.array(d.bbox()), [[1.5, -1.5], [2.5, -0.5]])
    mean, std = d.stats()
    assert np.allclose(mean, [2, -1], atol=1e-12) and np.allclose(std, 0.25, rtol=1e-5)
    a = 0.5  # [-1, 1]^2 minus the disk of radius a at the origin: E x^2 = (4/3 - pi a^4 / 4) / (4 - pi a^2)
    d = Domain(Rectangle((-1, -1), (1, 1)) - Disk((0, 0), a))
    mean, std = d.stats()
    assert np.allclose(mean, 0, atol=1e-12)
    assert np.allclose(std, math.sqrt((4 / 3 - math.pi * a**4 / 4) / (4 - math.pi * a**2)), rtol=1e-5)
    assert d.area == pytest.approx(4 - math.pi * a**2, rel=1e-5)
    assert np.array_equal(np.array(d.bbox()), [[-1, -1], [1, 1]])
    assert np.array_equal(np.array(Domain(Rectangle((0, 0), (1, 1)) & Disk((0, 0), 0.5)).bbox()), [[0, 0], [.5, .5]])


def test_space_time_products():
    st = SpaceTime(Interval(-1, 1), (0, 1))
    assert st.pieces == ("initial", "left", "right") and st.dim == 2
    p, n = st.sample_boundary("right", 100, gen())
    assert torch.all(p[:, 0] == 1) and torch.all((p[:, 1] >= 0) & (p[:, 1] <= 1)) and torch.all(n == torch.tensor([1., 0.]))
    p, n = st.sample_boundary("initial", 100, gen())
    assert torch.all(p[:, 1] == 0) and torch.all(n == torch.tensor([0., -1.]))
    mean, std = st.stats()
    assert np.allclose(mean, [0, 0.5]) and np.allclose(std, [2 / 12**0.5, 1 / 12**0.5])
    st = SpaceTime(holes(), (0, 2), final="final")
    assert st.pieces == ("initial", "final", "outer", "hole 1", "hole 2") and st.dim == 3
    p, n = (t.numpy() for t in st.sample_boundary("hole 1", 500, gen()))
    assert np.abs(np.hypot(p[:, 0] - 0.3, p[:, 1]) - 0.2).max() < 1e-12 and np.all(n[:, 2] == 0)
    assert np.abs(np.hypot(n[:, 0], n[:, 1]) - 1).max() < 1e-12 and p[:, 2].min() >= 0 and p[:, 2].max() <= 2
    x = st.sample_interior(1000, gen()).numpy()
    assert st.mask(x).all() and not st.mask(x + [0, 0, 2.5]).any()
    assert st.measure("hole 1") == pytest.approx(2 * 2 * math.pi * 0.2, rel=1e-7)
    lo, hi = st.bbox()
    assert np.array_equal(lo, [-1, -1, 0]) and np.array_equal(hi, [1, 1, 2])


# -- malformed input ------------------------------------------------------------------------------------------------
BOWTIE = [(0, 0), (1, 1), (1, 0), (0, 1)]
CASES = [
    ("a polygon with 10^6 vertices (array)", lambda: Polygon(np.zeros((10**6, 2))), "polygon.vertices",
     "has 1000000 vertices; at most 10000"),
    ("a polygon with 10^6 vertices (list)", lambda: Polygon([(0.0, 0.0)] * 10**6), "polygon.vertices", "at most"),
    ("a self-intersecting polygon", lambda: Polygon(BOWTIE), "polygon.vertices",
     "not a simple polygon: self-intersection at (0.5, 0.5)"),
    ("a polygon of two points", lambda: Polygon([(0, 0), (1, 1)]), "polygon.vertices", "at least 3"),
    ("a repeated vertex", lambda: Polygon([(0, 0), (1, 0), (1, 0), (0, 1)]), "polygon.vertices", "repeats"),
    ("collinear vertices", lambda: Polygon([(0, 0), (1, 1), (2, 2)]), "polygon.vertices", ""),
    ("a vertex with a string", lambda: Polygon([(0, 0), ("1", 0), (0, 1)]), "polygon.vertices[1][0]", "number"),
    ("an array of strings", lambda: Polygon(np.array([["0", "0"], ["1", "0"], ["0", "1"]])), "polygon.vertices",
     "(n, 2) array of numbers"),
    ("a NaN vertex", lambda: Polygon(np.array([[0, 0], [1, np.nan], [0, 1]])), "polygon.vertices[1]", "finite"),
    ("edge names of the wrong count", lambda: Polygon([(0, 0), (1, 0), (0, 1)], edges=["a"]), "polygon.edges",
     "3 names"),
    ("a degenerate rectangle", lambda: Rectangle((0, 0), (1, 0)), "rectangle", "degenerate"),
    ("a reversed rectangle", lambda: Rectangle((1, 1), (0, 0)), "rectangle", "degenerate"),
    ("a NaN corner", lambda: Rectangle((0, float("nan")), (1, 1)), "rectangle.lo[1]", "finite"),
    ("an infinite corner", lambda: Rectangle((0, 0), (float("inf"), 1)), "rectangle.hi[0]", "finite"),
    ("a corner far away", lambda: Rectangle((0, 0), (1e7, 1)), "rectangle.hi[0]", "within"),
    ("a corner that is not a point", lambda: Rectangle((0, 0, 0), (1, 1)), "rectangle.lo", "point [x, y]"),
    ("a zero radius", lambda: Disk((0, 0), 0), "disk.radius", "> 0"),
    ("a negative radius", lambda: Disk((0, 0), -1), "disk.radius", "> 0"),
    ("a string radius", lambda: Disk((0, 0), "1"), "disk.radius", "must be a number, got a string"),
    ("a boolean radius", lambda: Disk((0, 0), True), "disk.radius", "must be a number, got a boolean"),
    ("a None centre", lambda: Disk(None, 1), "disk.center", "point"),
    ("a NaN centre", lambda: Disk((float("nan"), 0), 1), "disk.center[0]", "finite"),
    ("a name too long", lambda: Disk((0, 0), 1, name="x" * 41), "disk.name", "1 to 40"),
    ("a name that is a number", lambda: Disk((0, 0), 1, name=3), "disk.name", "string"),
    ("a hole larger than the domain", lambda: Domain(Rectangle((0, 0), (1, 1)) - Disk((0.5, 0.5), 2)), "difference",
     "empty"),
    ("an empty difference", lambda: Domain(Difference(Disk((0, 0), 1), Rectangle((-1, -1), (1, 1)))), "difference",
     "empty"),
    ("an empty intersection", lambda: Domain(Rectangle((0, 0), (1, 1)) & Rectangle((2, 2), (3, 3))), "intersection",
     "empty"),
    ("an intersection along an edge", lambda: Domain(Rectangle((0, 0), (1, 1)) & Rectangle((1, 0), (2, 1))),
     "intersection", "empty"),
    ("a hole outside the domain", lambda: Domain(Rectangle((0, 0), (1, 1)) - Disk((5, 5), 0.5)), "domain",
     "'hole 1' is not on the domain's boundary"),
    ("a named shape inside another", lambda: Domain(Rectangle((0, 0), (2, 2)) | Disk((1, 1), 0.5, name="core")),
     "domain", "'core' is not on the domain's boundary"),
    ("a sliver", lambda: Domain(Polygon([(0, 0), (1, 1), (1, 1 + 1e-6)])), "domain", "fills"),
    ("too many shapes", lambda: Union(*[Disk((i, 0), 0.6) for i in range(65)]), "union", "at most 64"),
    ("a non-shape operand", lambda: Union(Rectangle((0, 0), (1, 1)), "disk"), "union[1]", "must be a shape"),
    ("a non-shape domain", lambda: Domain("square"), "domain", "must be a shape"),
    ("a single-shape intersection", lambda: Intersection(Disk((0, 0), 1)), "intersection", "at least 2"),
    ("an unknown piece", lambda: holes().sample_boundary("hole 3", 10, gen()), "piece", "unknown boundary piece"),
    ("a negative count", lambda: holes().sample_interior(-1, gen()), "n", "integer in"),
    ("a fractional count", lambda: holes().sample_interior(1.5, gen()), "n", "integer in"),
    ("a huge count", lambda: holes().sample_interior(10**9, gen()), "n", "integer in"),
    ("a seed for a generator", lambda: holes().sample_interior(10, 0), "generator", "torch.Generator"),
    ("mask points of the wrong shape", lambda: holes().mask(np.zeros((4, 3))), "points", "shape (N, 2)"),
    ("a reversed time interval", lambda: SpaceTime(Interval(0, 1), (1, 0)), "domain.t", "degenerate"),
    ("a time piece clashing with space", lambda: SpaceTime(Interval(0, 1), (0, 1), initial="left"), "domain",
     "clash"),
    ("a space that is not a domain", lambda: SpaceTime(Rectangle((0, 0), (1, 1)), (0, 1)), "domain.space",
     "Domain or an Interval"),
]


@pytest.mark.parametrize("what, call, field, message", CASES, ids=[c[0] for c in CASES])
def test_malformed_geometry_is_one_line_naming_the_field(what, call, field, message):
    with pytest.raises(GeometryError) as info:
        call()
    text = str(info.value)
    assert "\n" not in text and len(text) < 300, text
    assert info.value.field == field, text
    assert text.startswith(f"{field}: ") and message in text, text


def test_the_vertex_cap_is_checked_before_any_work():
    import time
    big = [(float(i), 0.0) for i in range(10**6)]
    t0 = time.perf_counter()
    with pytest.raises(GeometryError):
        Polygon(big)
    assert time.perf_counter() - t0 < 0.05


def test_a_polygon_at_the_cap_is_accepted_and_exact_enough():
    theta = np.linspace(0, 2 * np.pi, 10_000, endpoint=False)
    d = Domain(Polygon(np.c_[np.cos(theta), np.sin(theta)]))
    n = 10_000
    assert d.measure("outer") == pytest.approx(2 * n * math.sin(math.pi / n), rel=1e-12)
    assert d.area == pytest.approx(n / 2 * math.sin(2 * math.pi / n), rel=1e-12)
