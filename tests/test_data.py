"""pinncore.data: scattered reference and observation files (issue 34). Readers for CSV, NPZ and COMSOL-style text,
size caps checked before reading, one-line errors with the line; linear interpolation; scores on own points."""
import io
import time
import zipfile

import numpy as np
import pytest

from pinncore.data import (MAX_BYTES, MAX_COLUMNS, DataError, Scattered, interpolator, read_table, relative_l2)
from pinncore.data import tables


def smooth(x, y):
    return np.sin(np.pi * x) * np.cos(np.pi * y / 2) + 0.5 * x * y


def scattered_square(n_inside, seed=0):
    """n_inside uniform points in [-1, 1]^2 plus 196 on its edges and the 4 corners (as a mesh's nodes would)."""
    rng = np.random.default_rng(seed)
    s = rng.uniform(0, 8, 196)
    side, u = s.astype(int) // 2, s % 2 - 1
    one = np.ones_like(u)
    edge = np.select([side[:, None] == k for k in range(3)],
                     [np.c_[u, -one], np.c_[one, u], np.c_[u, one]], np.c_[-one, u])
    return np.r_[rng.uniform(-1, 1, (n_inside, 2)), edge, [[-1, -1], [1, -1], [1, 1], [-1, 1]]]


GRID = np.stack(np.meshgrid(np.linspace(-1, 1, 101), np.linspace(-1, 1, 101)), -1).reshape(-1, 2)


# -- interpolation and scores ---------------------------------------------------------------------------------------
def test_two_thousand_scattered_points_reproduce_a_smooth_field():
    p = scattered_square(1800)
    assert len(p) == 2000
    exact = smooth(GRID[:, 0], GRID[:, 1])
    err = Scattered(p, smooth(p[:, 0], p[:, 1]))(GRID) - exact
    rel, worst = np.linalg.norm(err) / np.linalg.norm(exact), np.abs(err).max()
    print(f"2,000 points -> 101 x 101 grid: relative L2 {rel:.2e}, max {worst:.2e} (max |f| = 1.01)")
    assert rel < 1e-2 and worst < 3e-2  # measured 5.3e-3 to 5.7e-3 and 1.6e-2 to 2.2e-2 over seeds 0-4
    p4 = scattered_square(7800)  # four times the points: a second-order interpolant's error drops about 4x
    err4 = Scattered(p4, smooth(p4[:, 0], p4[:, 1]))(GRID) - exact
    assert np.linalg.norm(err4) / np.linalg.norm(exact) < rel / 2.5


def test_interpolation_is_exact_for_linear_fields_and_nearest_outside_the_hull():
    rng = np.random.default_rng(1)
    p = rng.uniform(0, 1, (300, 3)) * [1, 2, 10]  # (x, y, t) with different ranges: rescaled before Delaunay
    s = Scattered(p, 2 * p[:, 0] - p[:, 1] + 0.1 * p[:, 2])
    q = rng.uniform(0.3, 0.7, (50, 3)) * [1, 2, 10]
    assert np.abs(s(q) - (2 * q[:, 0] - q[:, 1] + 0.1 * q[:, 2])).max() < 1e-12
    s2 = Scattered([[0, 0], [1, 0], [0, 1]], [1.0, 2.0, 3.0])
    assert s2([[5.0, -0.1]])[0] == 2.0  # outside the hull: the nearest point's value
    s1 = Scattered([3.0, 1.0, 2.0], [30.0, 10.0, 20.0])  # 1D: np.interp on sorted points
    assert np.allclose(s1([1.5, 2.5]), [15.0, 25.0])


def test_the_score_uses_the_references_own_points():
    rng = np.random.default_rng(2)
    p = rng.uniform(-1, 1, (500, 2))
    noise = 0.01 * rng.standard_normal(500)
    table = read_table(_csv(np.c_[p, smooth(p[:, 0], p[:, 1]) + noise], "x,y,u"), name="ref.csv")
    seen = []

    def exact(points):
        seen.append(points.copy())
        return smooth(points[:, 0], points[:, 1])

    score = relative_l2(exact, table, ("x", "y"), "u")
    assert len(seen) == 1 and np.array_equal(seen[0], p)  # called once, on the table's points
    ref = smooth(p[:, 0], p[:, 1]) + noise
    assert score == pytest.approx(np.linalg.norm(noise) / np.linalg.norm(ref), rel=1e-12)
    assert relative_l2(ref, table, ("x", "y"), "u") == 0.0
    grid_score = np.linalg.norm(interpolator(table, ("x", "y"), "u")(GRID) - smooth(*GRID.T)) / \
        np.linalg.norm(smooth(*GRID.T))
    assert grid_score != pytest.approx(score, rel=0.05)  # a score through the interpolant would differ


# -- formats --------------------------------------------------------------------------------------------------------
def _csv(rows, header=None):
    lines = ([header] if header else []) + [",".join(repr(float(v)) for v in r) for r in rows]
    return ("\n".join(lines) + "\n").encode()


ROWS = np.array([[0.0, 0.0, 0.0, 1.0], [0.5, 0.25, 0.1, -2.0], [1.0, 1.0, 1.0, 3.5]])
COMSOL = b"""% Model:              heat.mph
% Version:            COMSOL 6.1.0.252
% Nodes:              3
% Expressions:        1
% Description:        Temperature
% x                       y                        t        T (K)
0                         0                        0        1
0.5                       0.25                     0.1      -2
1                         1                        1        3.5
"""


def _npz(**arrays):
    f = io.BytesIO()
    np.savez(f, **arrays)
    return f.getvalue()


@pytest.mark.parametrize("data, name, columns", [
    (_csv(ROWS, "x,y,t,T"), "ref.csv", None),
    (_csv(ROWS, "x,y,t,T"), "ref.csv", ["x", "y", "t", "T"]),
    (_csv(ROWS), "ref.csv", ["x", "y", "t", "T"]),
    (COMSOL, "ref.txt", ["x", "y", "t", "T"]),
    (b"# x y t T\n" + COMSOL.split(b"(K)\n")[1].replace(b"  ", b"\t"), "ref.dat", ["x", "y", "t", "T"]),
    (_npz(x=ROWS[:, 0], y=ROWS[:, 1], t=ROWS[:, 2], T=ROWS[:, 3]), "ref.npz", None),
    (_npz(x=ROWS[:, 0], y=ROWS[:, 1], t=ROWS[:, 2], T=ROWS[:, 3], extra=np.arange(7)), "ref.npz",
     ["x", "y", "t", "T"]),
    (_npz(data=ROWS), "ref.npz", ["x", "y", "t", "T"]),
])
def test_every_format_gives_the_same_table(data, name, columns, tmp_path):
    for source in (data, tmp_path / name):
        if not isinstance(source, bytes):
            source.write_bytes(data)
        t = read_table(source, columns, name=name if isinstance(source, bytes) else None)
        assert t.columns == ("x", "y", "t", "T") and np.array_equal(t.data, ROWS)
        assert np.array_equal(t.points(("x", "t")), ROWS[:, [0, 2]]) and np.array_equal(t.column("T"), ROWS[:, 3])
    assert t.where == ("row" if name.endswith(".npz") else "line")


def test_text_rows_remember_their_lines():
    t = read_table(COMSOL, ["x", "y", "t", "T"], name="a.txt")
    assert t.lines.tolist() == [7, 8, 9]


# -- malformed files ------------------------------------------------------------------------------------------------
def _pickled_npz():
    return _npz(x=np.array([1.0, 2.0]), u=np.array([{"a": 1}, None], dtype=object))


def _bomb_npz():
    """An archive of 1 MB whose member declares 80 MiB (zeros compress ~1000x)."""
    f = io.BytesIO()
    with zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED) as z:
        with z.open("u.npy", "w", force_zip64=True) as m:
            np.lib.format.write_array(m, np.zeros(10 * 2**20))
    return f.getvalue()


XYU = ["x", "y", "u"]
BAD = [
    ("NaN values", b"x,y,u\n0,0,1\n0,1,nan\n1,1,2\n", "a.csv", XYU, "a.csv: line 3: u is nan; NaN and infinite"),
    ("an infinite value", b"0 0 1\n0 1 inf\n", "a.txt", XYU, "a.txt: line 2: u is inf"),
    ("an overflowing value", b"0 0 1\n0 1e999 2\n", "a.txt", XYU, "a.txt: line 2: y is inf"),
    ("NaN rows counted", b"0 0 nan\n0 1 nan\n", "a.txt", XYU, "(2 rows in all)"),
    ("NaN in an npz", _npz(x=np.zeros(3), y=np.zeros(3), u=np.array([1, np.nan, 2])), "a.npz", XYU,
     "a.npz: row 2: u is nan"),
    ("a short row", b"% c\n0 0 1\n0 1\n", "a.txt", XYU, "a.txt: line 3: 2 columns, expected 3 (x, y, u)"),
    ("a long row", b"0,0,1\n0,1,2,3\n", "a.csv", XYU, "a.csv: line 2: 4 columns, expected 3"),
    ("too many columns in the file", (" ".join(["1"] * 20) + "\n").encode(), "a.txt", XYU,
     "a.txt: line 1: 20 columns, expected 3"),
    ("an empty file", b"", "a.csv", XYU, "a.csv has no data rows"),
    ("only comments", b"% nothing\n% here\n\n", "a.txt", XYU, "a.txt has no data rows"),
    ("only a header", b"x,y,u\n", "a.csv", XYU, "a.csv has no data rows"),
    ("text garbage", b"0 0 1\n0 zero 1\n", "a.txt", XYU, "a.txt: line 2: y is 'zero', not a number"),
    ("binary garbage", bytes(range(256)) * 4, "a.txt", XYU, "is binary (it holds NUL bytes)"),
    ("latin-1 text", "0 0 1\n% caf\xe9\n".encode("latin-1"), "a.txt", XYU, "is not UTF-8 text (byte 11)"),
    ("a header that disagrees", b"u,x,y\n1,2,3\n", "a.csv", XYU, "header (u, x, y) differs from the columns given"),
    ("no column names", b"1,2,3\n", "a.csv", None, "no column names"),
    ("a header with a bad name", b"x,y,u (m)\n1,2,3\n", "a.csv", None, "column name 'u (m)'"),
    ("a pickled npz", _pickled_npz(), "a.npz", ["x", "u"], "array 'u' holds Python objects (pickled); refused"),
    ("a zip bomb", _bomb_npz(), "a.npz", ["u"], f"expands to 83,886,208 bytes; at most {MAX_BYTES:,}"),
    ("an npz that is not a zip", b"PK but not really", "a.npz", XYU, "is not an .npz file"),
    ("an npz without a column", _npz(x=np.zeros(2), y=np.zeros(2)), "a.npz", XYU, "has no array 'u'"),
    ("npz columns of unequal length", _npz(x=np.zeros(2), y=np.zeros(3), u=np.zeros(2)), "a.npz", XYU,
     "array 'y' has shape (3,)"),
    ("an npz matrix of the wrong width", _npz(data=np.zeros((4, 2))), "a.npz", XYU, "expected (N, 3)"),
    ("an npz of strings", _npz(x=np.array(["a"]), y=np.zeros(1), u=np.zeros(1)), "a.npz", XYU,
     "holds <U1 values, not numbers"),
    ("too many caller columns", b"", "a.csv", [f"c{i}" for i in range(MAX_COLUMNS + 1)], "17 columns given"),
    ("a bad column name", b"", "a.csv", ["x", "y z"], "column name 'y z'"),
    ("repeated columns", b"", "a.csv", ["x", "x"], "column names repeat"),
    ("an unknown format", b"1", "a.csv", XYU, "format must be one of"),
]


@pytest.mark.parametrize("what, data, name, columns, message", BAD, ids=[b[0] for b in BAD])
def test_malformed_files_are_one_line_errors_naming_the_field(what, data, name, columns, message):
    fmt = "xlsx" if what == "an unknown format" else None
    with pytest.raises(DataError) as info:
        read_table(data, columns, name=name, fmt=fmt, field="evaluate.reference")
    text = str(info.value)
    assert "\n" not in text and len(text) < 300, text
    assert info.value.field == "evaluate.reference" and text.startswith("evaluate.reference: "), text
    assert message in text, text


def test_a_one_gigabyte_file_is_refused_before_reading(tmp_path):
    big = tmp_path / "huge.csv"
    with open(big, "wb") as f:  # sparse: seek and write one byte
        f.seek(2**30 - 1)
        f.write(b"\0")
    t0 = time.perf_counter()
    with pytest.raises(DataError, match=r"huge.csv has 1,073,741,824 bytes; at most 67,108,864"):
        read_table(big, XYU, field="data")
    assert time.perf_counter() - t0 < 0.1
    with pytest.raises(DataError, match="at most"):  # an upload's bytes, one past the cap
        read_table(b"\0" * (MAX_BYTES + 1), XYU)


def test_rows_are_capped(monkeypatch):
    monkeypatch.setattr(tables, "MAX_ROWS", 5)
    monkeypatch.setattr("pinncore.data.text.MAX_ROWS", 5)
    monkeypatch.setattr("pinncore.data.npz.MAX_ROWS", 5)
    with pytest.raises(DataError, match="more than 5 rows"):
        read_table(b"0 0 0\n" * 6, XYU, name="a.txt")
    with pytest.raises(DataError, match="6 rows; at most 5"):
        read_table(_npz(data=np.zeros((6, 3))), XYU, name="a.npz")
    assert len(read_table(b"0 0 0\n" * 5, XYU, name="a.txt")) == 5


def test_paths_that_are_not_files(tmp_path):
    with pytest.raises(DataError, match="cannot read"):
        read_table(tmp_path / "missing.csv", XYU)
    with pytest.raises(DataError, match="is not a file"):
        read_table(tmp_path, XYU)
    with pytest.raises(DataError, match="must be a file path or bytes"):
        read_table(3.5, XYU)


def test_interpolation_input_errors():
    with pytest.raises(DataError, match="span no 2D volume"):
        Scattered([[0, 0], [1, 1], [2, 2], [3, 3]], [0, 1, 2, 3])
    with pytest.raises(DataError, match="at least 3 points"):
        Scattered([[0, 0], [1, 1]], [0, 1])
    with pytest.raises(DataError, match="must be finite"):
        Scattered([[0, 0], [1, 0], [0, np.nan]], [0, 1, 2])
    with pytest.raises(DataError, match="shape"):
        Scattered([[0, 0], [1, 0], [0, 1]], [0, 1, 2])([[0, 0, 0]])
    t = read_table(b"0 0 0\n1 0 0\n", XYU, name="a.txt")
    with pytest.raises(DataError, match="all zero"):
        relative_l2(np.zeros(2), t, ("x", "y"), "u")
    with pytest.raises(DataError, match="has 3 values for 2 data points"):
        relative_l2(np.zeros(3), t, ("x", "y"), "u")
    with pytest.raises(DataError, match="no column 'v'"):
        t.column("v")
