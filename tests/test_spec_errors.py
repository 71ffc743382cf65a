"""Malformed and hostile problem specs: each is refused with a one-line ConfigError that names the field (and the
spec line where there is one), and nothing in them is executed."""
from __future__ import annotations

import builtins
import json

import pytest

from pinncore import ConfigError
from pinncore.problems.spec import SpecError, problem_class, read_spec
from pinncore.problems.spec.locate import locate

TEMPLATE = """name = "probe"
solution = "{solution}"
[inputs]
x = {x}
y = [0, 1]
[params]
a = {{ default = {a}, low = 0, high = 2 }}
{extra}
[[terms]]
name = "res"
on = "interior"
residual = "{res}"
[[terms]]
name = "{bc}"
on = {on}
residual = "u - exact"
"""
OK = dict(solution="sin(pi*x)*y", x="[0, 1]", a="1", extra="", res="u_xx + u_yy - (exact_xx + exact_yy)",
          bc="bc", on='["x = 0", "y = 1"]')
RES_LINE, ON_LINE = 12, 15


def spec(**kw) -> str:
    return TEMPLATE.format(**{**OK, **kw})


PWNED = "/tmp/pinn-spec-pwned"
CASES = [  # (spec text, field path in the message, line or None, words of the message)
    (spec(res=f"__import__('os').system('touch {PWNED}')"), "terms[0].residual", RES_LINE, "unexpected character"),
    (spec(res="u.real + u_xx"), "terms[0].residual", RES_LINE, "unexpected character '.' (column 2)"),
    (spec(res="(lambda: u)()"), "terms[0].residual", RES_LINE, "unexpected character ':'"),
    (spec(res="u[0]"), "terms[0].residual", RES_LINE, "unexpected character '['"),
    (spec(res="[u for u in x]"), "terms[0].residual", RES_LINE, "unexpected character '['"),
    (spec(res="9^9^9"), "terms[0].residual", RES_LINE, "exponent 3.8742e+08 is out of range [-16, 16]"),
    (spec(res="(" * 10_000 + "u" + ")" * 10_000), "terms[0].residual", RES_LINE, "longer than 2000 characters"),
    (spec(res="(" * 60 + "u" + ")" * 60), "terms[0].residual", RES_LINE, "nested deeper than 40 levels"),
    (spec(res="u_xx + foo"), "terms[0].residual", RES_LINE, "unknown name 'foo'"),
    (spec(res="u_xxxx"), "terms[0].residual", RES_LINE, "order 4; at most 3"),
    (spec(x="[1, 1]"), "inputs.x", 4, "empty domain [1, 1]"),
    (spec(on='["x = 2"]'), "terms[1].on[0]", ON_LINE, "'x = 2' lies outside the domain [0, 1] of x"),
    (spec(res="u_xx + u_yy - log(x - 2)"), "terms[0].residual", RES_LINE, "is not finite at 64 of 64 sampled points"),
    (spec(x='"zero to one"'), "inputs.x", 4, "must be [low, high], got a string"),
    (spec(x="[true, 1]"), "inputs.x", 4, "must be a finite number, got a boolean"),
    (spec(res="u", extra='', bc="bc").replace('residual = "u"', "residual = 5"), "terms[0].residual", RES_LINE,
     "must be a string or a list of 1 to 8 strings, got an integer"),
    (spec().replace('name = "probe"', "name = 3"), "name", 1, "must be a string, got an integer"),
    (spec().replace('y = [0, 1]', 'y = [0, 1'), "spec", 6, "malformed TOML"),
    ('{"name": "probe",\n "inputs": {"x": [0, 1]},,}', "spec", 2, "malformed JSON"),
    (spec().replace('name = "probe"', 'name = "probe"\nimports = ["os"]'), "imports", 2, "unknown field"),
    (spec(res="eval(u)"), "terms[0].residual", RES_LINE, "unknown function 'eval'"),
    (spec(res="u^x"), "terms[0].residual", RES_LINE, "an exponent must be a constant number"),
    (spec(res="u_xx +"), "terms[0].residual", RES_LINE, "unexpected the end of the expression"),
    (spec(res="u - 1e999"), "terms[0].residual", RES_LINE, "larger than 1e+12"),
    (spec(res="u/(x - x)"), "terms[0].residual", RES_LINE, "infinite or undefined"),
    (spec(res="x + y"), "terms[0].residual", RES_LINE, "does not depend on the network"),
    (spec(a="5"), "params.a", 7, "needs low <= default <= high"),
    (spec().replace('[inputs]', 'outputs = ["x"]\n[inputs]'), "outputs[0]", 3, "'x' is already used"),
    (spec(bc="res"), "terms[1].name", 14, "'res' must be a new name"),
    (spec(extra='[define]\nw = "u_xx"'), "define.w", None, None),  # valid so far: used below
    (spec(extra='[define]\nw = "u_xx"', res="w_xx"), "terms[0].residual", RES_LINE + 1,
     "needs the derivative u_xxxx of order 4"),
    (spec(extra='[define]\nw = "abs(u)"', res="w_xx"), "terms[0].residual", RES_LINE + 1, "is not supported"),
    (spec(solution="u*x"), "solution", 2, "unknown name 'u' (a solution may use the inputs, parameters and pi"),
    (spec(on='["x == 0"]'), "terms[1].on[0]", ON_LINE, "'x == 0': the value must be a number"),
    (spec(res="u - sqrt(-1)"), "terms[0].residual", RES_LINE, "is not a finite real number"),
    ("a = " + "[" * 30_000, "spec", None, ""),
    ("x" * 70_000, "spec", None, "longer than 64000 characters"),
    ('{"name": "probe", "inputs": {"x": [NaN, 1]}, "terms": []}', "inputs.x", 1, "must be a finite number"),
    (spec().replace('[inputs]', '[inputs]\nz = [0, 1]\nw = [0, 1]\nv = [0, 1]'), "inputs", 3,
     "must have 1 to 3 inputs, got 5"),
    (spec(bc="ic").replace('name = "res"', 'name = "pde"'), "terms", 9, "one term must be named 'res'"),
    (spec().replace("a = {", "terms = {"), "params.terms", 7, "'terms' is reserved"),
    (spec(res="exp(exp(exp(exp(u + 2)))) + u_xx"), "terms[0].residual", RES_LINE, "is not finite"),
    (spec(extra='[define]\nw = "' + "*".join(f"sin({k}*u)" for k in range(1, 11)) + '"', res="w_xyy"),
     "terms[0].residual", RES_LINE + 1, "more than 3000: write a simpler expression"),  # sympy kept bounded
]


@pytest.fixture
def no_eval(monkeypatch):
    """Every eval / exec while a spec is read is recorded (the libraries underneath may use them for their own
    code: torch builds modules with exec); none may see any part of the spec's text."""
    seen: list[str] = []

    def spy(real):
        def call(source, *args, **kwargs):
            seen.append(source if isinstance(source, str) else repr(source))
            return real(source, *args, **kwargs)
        return call
    monkeypatch.setattr(builtins, "eval", spy(builtins.eval))
    monkeypatch.setattr(builtins, "exec", spy(builtins.exec))
    return seen


@pytest.mark.parametrize("text, field, line, words", CASES, ids=[f"case{i}" for i in range(len(CASES))])
def test_bad_specs_are_refused_with_one_line_naming_the_field(no_eval, text, field, line, words):
    if words is None:
        problem_class(text)  # the control: the same spec is fine before the bad use
        return
    with pytest.raises(SpecError) as info:
        problem_class(text)
    for source in no_eval:
        for marker in ("__import__", "lambda", PWNED, "system", "imports"):
            assert marker not in source, source
    err = info.value
    assert isinstance(err, ConfigError)
    msg = str(err)
    assert "\n" not in msg and len(msg) < 400, msg
    assert err.path == field, msg
    assert field in msg and words in msg, msg
    assert err.line == line, msg
    if line is not None:
        assert msg.startswith(f"spec line {line}, {field}: "), msg


def test_nothing_was_executed():
    import os

    assert not os.path.exists(PWNED)


def test_the_error_carries_the_column_of_an_expression():
    with pytest.raises(SpecError) as info:
        read_spec(spec(res="u_xx + u_yy + u.x"))
    assert info.value.column == 16 and info.value.line == RES_LINE


def test_lines_are_found_in_json_too():
    data = {"name": "probe", "solution": "x", "inputs": {"x": [0, 1]},
            "terms": [{"name": "res", "on": "interior", "residual": "u_xx"},
                      {"name": "bc", "on": ["x = 0", "x = 5"], "residual": "u - exact"}]}
    text = json.dumps(data, indent=1)
    with pytest.raises(SpecError) as info:
        read_spec(text)
    assert info.value.path == "terms[1].on[1]"
    assert text.splitlines()[info.value.line - 1].strip().startswith('"x = 5"')
    assert locate(text, "terms[0].residual") == next(i + 1 for i, s in enumerate(text.splitlines())
                                                     if '"residual": "u_xx"' in s)


def test_parameters_out_of_range_are_refused_like_the_builtins():
    cls = problem_class(spec())
    with pytest.raises(ConfigError, match=r"problem parameter 'a': must be in \[0, 2\], got 3"):
        cls(a=3.0)
    with pytest.raises(ConfigError, match="problem parameter 'b': unknown for probe"):
        cls(b=1.0)


def test_check_reports_instead_of_raising():
    from pinncore.problems.spec import check

    bad = check(spec(res="u_xx + foo"))
    assert bad["ok"] is False and bad["error"]["line"] == RES_LINE and bad["error"]["path"] == "terms[0].residual"
    assert check(spec(), a=5.0)["error"]["path"] == "problem parameter 'a'"
    good = check(spec(), a=0.5)
    assert good["ok"] and good["info"]["values"] == {"a": 0.5} and good["info"]["terms"][1]["parts"][0]["on"] == \
        ["x = 0", "y = 1"]
