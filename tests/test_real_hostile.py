"""Hostile and malformed real-problem specs and files (issue 34): geometry, periodic inputs, unknowns, data and
reference files. Each is refused with one line that names the field, and a run given it writes nothing."""
from __future__ import annotations

import json
import os
import zipfile

import numpy as np
import pytest

from pinncore import ConfigError, RunConfig
from pinncore.run import Run
from pinncore.problems.spec import problem_class

BOX = """name = "probe"
solution = "sin(pi*x)*y"
{top}
[inputs]
x = [0, 1]
y = [0, 1]
{tables}
[[terms]]
name = "res"
on = "interior"
residual = "{res}"
[[terms]]
name = "bc"
on = {on}
residual = "{bc}"
"""
DEFAULT = dict(top="", tables="", res="u_xx + u_yy - (exact_xx + exact_yy)", on='"outer"', bc="u - exact")


def box(**kw) -> str:
    return BOX.format(**{**DEFAULT, **kw})


def domain(tables: str, **kw) -> str:
    return box(tables="[domain]\n" + tables, **kw)


def disk(cx, cy, r, extra="") -> str:
    return f'{{ shape = "disk", center = [{cx}, {cy}], radius = {r}{extra} }}'


HEAT = """name = "probe"
solution = "exp(-0.1*pi^2*t)*sin(pi*x)"
{top}
[inputs]
x = [0, 1]
t = [0, 1]
{tables}
[[terms]]
name = "res"
on = "interior"
residual = "{res}"
[[terms]]
name = "data"
data = {{ file = "{file}", columns = {columns} }}
residual = "{data}"
{evaluate}
"""
HEAT_DEFAULT = dict(top="", tables='[unknowns]\nkappa = { initial = 0.5, low = 0.01, high = 1 }', res="u_t - kappa*u_xx",
                    file="{obs}", columns='["x", "t", "obs"]', data="u - obs", evaluate="")


def heat(**kw) -> str:
    return HEAT.format(**{**HEAT_DEFAULT, **kw})


BOWTIE = '{ shape = "polygon", vertices = [[0, 0], [1, 1], [1, 0], [0, 1]] }'
NEST = '{ shape = "union", of = [' * 5 + disk(0.5, 0.5, 0.1) + ", " + disk(0.5, 0.5, 0.2) + "] }" * 5
SPECS = [  # (what, spec text ({obs}, {ref}: files written by the test), field named, words of the message)
    ("polygon with 10^6 vertices", json.dumps({"name": "p", "inputs": {"x": [0, 1], "y": [0, 1]}, "domain": {
        "base": {"shape": "polygon", "vertices": [[i * 1e-6, (i % 2) * 1e-3] for i in range(10**6)]}}}),
     "spec", "longer than 64000 characters"),
    ("self-intersecting polygon", domain(f"base = {BOWTIE}\n"), "domain.base.vertices",
     "is not a simple polygon: self-intersection at (0.5, 0.5)"),
    ("hole larger than the domain", domain(f"holes = [{disk(0.5, 0.5, 2)}]\n"), "domain.holes",
     "its holes cover the first shape) is empty"),
    ("empty intersection", domain(f"intersect = [{disk(0.9, 0.9, 0.05)}]\nbase = {disk(0.1, 0.1, 0.05)}\n"),
     "domain.intersect", "do not overlap) is empty"),
    ("negative radius", domain(f"holes = [{disk(0.5, 0.5, -0.1)}]\n"), "domain.holes[0].radius", "must be > 0"),
    ("unknown shape", domain('holes = [{ shape = "circle", center = [0.5, 0.5] }]\n'), "domain.holes[0].shape",
     "unknown shape 'circle'"),
    ("shape outside the inputs' box", domain(f"base = {disk(0.5, 0.5, 2)}\n"), "domain",
     "reaches x from -1.5 to 2.5, outside the range [0, 1] of inputs.x"),
    ("shapes nested too deeply", domain(f"base = {NEST}\n"), "domain.base.of[0].of[0].of[0]",
     "nested deeper than 4 levels"),
    ("a piece that does not exist", domain(f"holes = [{disk(0.5, 0.5, 0.2)}]\n", on='["outer", "hole 3"]'),
     "terms[1].on[1]", "'hole 3' is not 'interior' or a boundary piece of the [domain]: outer, hole 1"),
    ("a normal derivative in the interior", domain(f"holes = [{disk(0.5, 0.5, 0.2)}]\n", res="u_n + u_xx"),
     "terms[0].residual", "normals are defined on the [domain]'s boundary pieces only"),
    ("a normal without a domain", box(on='"x = 0"', bc="u_n - exact_n"), "terms[1].residual",
     "normals n_x and normal derivatives u_n need a [domain]"),
    ("periodic in a non-input", box(top='periodic = ["z"]', on='"x = 0"'), "periodic[0]",
     "'z' is not an input; inputs: x, y"),
    ("an unknown periodic mode", box(top='periodic = ["x"]\nperiodic_mode = "magic"', on='"x = 0"'),
     "periodic_mode", "must be one of embedding, penalty, got 'magic'"),
    ("periodic with a domain", domain(f"holes = [{disk(0.5, 0.5, 0.2)}]\n", top='periodic = ["x"]'), "periodic",
     "needs a box domain"),
    ("a periodic mode without periodic inputs", box(top='periodic_mode = "penalty"', on='"x = 0"'),
     "periodic_mode", "needs periodic = [...]"),
    ("periodic derivatives not a boolean", box(top='periodic = ["x"]\nperiodic_mode = "penalty"\n'
                                                   'periodic_derivatives = "yes"', on='"x = 0"'),
     "periodic_derivatives", "must be true or false, got a string"),
    ("an unknown used before it is declared", heat(tables=""), "terms[0].residual",
     "unknown name 'kappa' (a coefficient to learn? declare it under [unknowns])"),
    ("an unknown's initial value outside its bounds", heat(tables="[unknowns]\nkappa = { initial = 2, high = 1 }"),
     "unknowns.kappa.initial", "must lie strictly inside the bounds (-inf, 1)"),
    ("an unknown with low >= high", heat(tables="[unknowns]\nkappa = { initial = 0.5, low = 1, high = 0.1 }"),
     "unknowns.kappa", "needs low < high"),
    ("an unknown in the evaluated quantity",
     heat(evaluate='[evaluate]\nquantity = "kappa*u"'), "evaluate.quantity",
     "unknown name 'kappa' (an unknown may be read by definitions and residuals only)"),
    ("an unknown through a definition in the evaluated quantity",
     heat(tables='[unknowns]\nkappa = 0.5\n[define]\nflux = "kappa*u_x"', evaluate='[evaluate]\nquantity = "flux"'),
     "evaluate.quantity", "reads define.flux, which reads an unknown"),
    ("an unknown that takes an input's name", heat(tables="[unknowns]\nx = 0.5"), "unknowns.x", "'x' is already used"),
    ("an unknown that is not a number", heat(tables='[unknowns]\nkappa = "half"'), "unknowns.kappa.initial",
     "must be a finite number, got a string"),
    ("data columns without an input", heat(columns='["x", "obs"]'), "terms[1].data.columns",
     "must list the file's 3 to 16 columns"),
    ("a data column named like an output", heat(columns='["x", "t", "u"]', data="u - 1"),
     "terms[1].data.columns[2]", "'u' is already a name of the spec"),
    ("a data term that also samples faces", heat().replace('residual = "u - obs"', 'residual = "u - obs"\non = "x = 0"'),
     "terms[1].on", "a data term samples its file's points"),
]


def _files(tmp_path) -> dict[str, str]:
    obs = tmp_path / "obs.csv"
    obs.write_text("x,t,obs\n0.5,0.5,0.3\n0.25,0.1,0.6\n")
    return {"obs": str(obs)}


@pytest.mark.parametrize("what, text, field, message", SPECS, ids=[c[0] for c in SPECS])
def test_hostile_specs_are_one_line_naming_the_field_and_write_nothing(what, text, field, message, tmp_path):
    text = text.replace("{obs}", _files(tmp_path)["obs"])
    _refused(text, field, message, tmp_path)


def _refused(text: str, field: str, message: str, tmp_path) -> None:
    with pytest.raises(ConfigError) as err:
        problem_class(text)
    msg = str(err.value)
    assert "\n" not in msg and field in msg and message in msg, msg
    assert err.value.field.startswith(field) or field == "spec", err.value.field
    out = tmp_path / "runs" / "r"
    with pytest.raises(ConfigError):
        Run.create(RunConfig(problem="probe", spec=text, steps=5), out)
    assert not (tmp_path / "runs").exists()  # nothing written, not even the parent


def _pickled_npz(path) -> None:
    np.savez(path, x=np.array([{"a": 1}], dtype=object), t=np.zeros(1), obs=np.zeros(1))


def _sparse(path, size: int) -> None:
    with open(path, "wb") as f:
        f.truncate(size)


FILES = [  # (what, writes the data file, its name, field named, words of the message)
    ("a data file of 1 GB", lambda p: _sparse(p, 2**30), "big.csv", "terms[1].data.file",
     "has 1,073,741,824 bytes; at most 67,108,864"),
    ("an npz with a pickled object", _pickled_npz, "obs.npz", "terms[1].data.file",
     "holds Python objects (pickled); refused"),
    ("NaN values", lambda p: p.write_text("x,t,obs\n0.5,0.5,0.3\n0.2,0.1,nan\n"), "obs.csv", "terms[1].data.file",
     "line 3: obs is nan; NaN and infinite values are refused"),
    ("wrong column counts", lambda p: p.write_text("x,t,obs\n0.5,0.5,0.3\n0.2,0.1\n"), "obs.csv",
     "terms[1].data.file", "line 3: 2 columns, expected 3 (x, t, obs)"),
    ("a header that is not the columns", lambda p: p.write_text("x,t,u\n0.5,0.5,0.3\n"), "obs.csv",
     "terms[1].data.file", "header (x, t, u) differs from the columns given (x, t, obs)"),
    ("an observation outside the domain", lambda p: p.write_text("x,t,obs\n0.5,0.5,0.3\n3,0.1,0.2\n"), "obs.csv",
     "terms[1].data.file", "line 3: x = 3 lies outside [0, 1]"),
    ("a zip bomb", lambda p: _bomb(p), "obs.npz", "terms[1].data.file", "expands to"),
    ("not UTF-8", lambda p: p.write_bytes(b"x,t,obs\n\xff\xfe,1,2\n"), "obs.csv", "terms[1].data.file",
     "is not UTF-8 text"),
]


def _bomb(path) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("x.npy", b"\0" * (80 * 2**20))


@pytest.mark.parametrize("what, write, name, field, message", FILES, ids=[c[0] for c in FILES])
def test_hostile_data_files_are_one_line_naming_the_field_and_write_nothing(what, write, name, field, message,
                                                                              tmp_path):
    f = tmp_path / name
    write(f)
    _refused(heat(file=str(f)), field, message, tmp_path)


def test_a_missing_file_and_a_device_are_refused(tmp_path):
    _refused(heat(file=str(tmp_path / "gone.csv")), "terms[1].data.file", "No such file or directory", tmp_path)
    if os.path.exists("/dev/zero"):
        _refused(heat(file="/dev/zero"), "terms[1].data.file", "is not a file", tmp_path)


REFS = [  # (what, file content, name, reference field, field named, words)
    ("a reference with NaN", "x,t,u\n0.5,0.5,0.3\n0.2,0.1,nan\n0.1,0.9,0.2\n", "ref.csv", '"{f}"',
     "evaluate.reference", "line 3: u is nan"),
    ("a reference with two value columns", "x,t,u,v\n0.5,0.5,0.3,1\n0.2,0.1,0.4,1\n0.1,0.9,0.2,1\n", "ref.csv",
     '"{f}"', "evaluate.reference", "has the value columns u, v: name the one to compare with value = ..."),
    ("a reference without the inputs", "a,b,u\n0.5,0.5,0.3\n0.2,0.1,0.4\n0.1,0.9,0.2\n", "ref.csv", '"{f}"',
     "evaluate.reference", "has no column for the input 'x'"),
    ("a reference value that is not a column", "x,t,u\n0.5,0.5,0.3\n", "ref.csv",
     '{{ file = "{f}", columns = ["x", "t", "u"], value = "w" }}', "evaluate.reference.value",
     "'w' is not one of the columns x, t, u"),
    ("a reference on a line", "x,t,u\n0.1,0.1,0.3\n0.2,0.2,0.4\n0.3,0.3,0.2\n", "ref.csv", '"{f}"',
     "evaluate.reference", "span no 2D volume"),
]


@pytest.mark.parametrize("what, content, name, ref, field, message", REFS, ids=[c[0] for c in REFS])
def test_hostile_reference_files(what, content, name, ref, field, message, tmp_path):
    f = tmp_path / name
    f.write_text(content)
    obs = _files(tmp_path)["obs"]
    text = heat(file=obs).replace('solution = "exp(-0.1*pi^2*t)*sin(pi*x)"\n', "") + \
        "[evaluate]\nreference = " + ref.format(f=f) + "\n"
    _refused(text, field, message, tmp_path)
