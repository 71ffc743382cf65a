"""The page against damaged runs and hostile links (issue 17): one bad run never takes the page down, every
ignored link entry is named once, paths never leave the runs root, and rapid step clicks all count."""
from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from corrupt import CORRUPTIONS, make_base

APP = str(Path(__file__).resolve().parent.parent / "dashboard" / "app.py")


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    return make_base(tmp_path_factory.mktemp("base") / "run")


@pytest.fixture
def root(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("PINN_RUNS_DIR", str(tmp_path / "runs"))
    (tmp_path / "runs").mkdir()
    return tmp_path / "runs"


def page(query: dict | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    for k, v in (query or {}).items():
        at.query_params[k] = v
    at.run()
    return at


@pytest.mark.parametrize("damage", ["summary.json garbage", "summary.json directory"])
def test_one_damaged_run_does_not_take_the_page_down(root, base, damage):
    shutil.copytree(base, root / "bad")
    target = root / "bad" / "summary.json"
    target.unlink()
    if damage.endswith("directory"):
        target.mkdir()
    else:
        target.write_bytes(b"\xff\xfe\x00garbage")
    shutil.copytree(base, root / "good")
    at = page()
    at.session_state["x_saved"] = True  # "Open a saved run", opened
    at.run()
    assert not at.exception
    assert at.button(key="btn_start") is not None and at.button(key="btn_open") is not None
    listed = at.selectbox(key="w_saved").options
    assert any("damaged" in o for o in listed) and any("good" in o for o in listed)


@pytest.mark.parametrize("name", sorted(CORRUPTIONS))
def test_opening_a_damaged_run_by_link_is_one_named_warning(root, base, name):
    run = root / "r"
    shutil.copytree(base, run)
    CORRUPTIONS[name](run)
    at = page({"open": "r"})
    assert not at.exception, name
    warnings = [w.value for w in at.warning]
    assert len(warnings) <= 1, warnings
    assert all(w.startswith("Ignored URL parameter 'open=r': ") and "\n" not in w for w in warnings)


def test_a_very_long_or_endless_open_list_is_capped_and_summarised(root):
    at = page({"open": ",".join(f"nope{i}" for i in range(8000)) + "," + "x" * 300})
    assert not at.exception
    warnings = [w.value for w in at.warning]
    assert len(warnings) == 13 and "7989 more 'open' entries" in warnings[-1]
    assert all(len(w) < 400 for w in warnings)


def test_a_symlink_out_of_the_root_is_refused_and_nothing_is_written_there(root, base, tmp_path):
    outside = tmp_path / "outside"
    shutil.copytree(base, outside)
    before = {p: p.stat().st_mtime_ns for p in outside.rglob("*")}
    (root / "link").symlink_to(outside)
    at = page({"open": "link"})
    assert not at.exception
    assert len(at.warning) == 1 and "outside the runs root" in at.warning[0].value
    assert at.session_state["runs"] == {}
    assert {p: p.stat().st_mtime_ns for p in outside.rglob("*")} == before


def test_viewing_an_unfinished_run_does_not_rewrite_it(root, base):
    shutil.copytree(base, root / "u")
    before = {p: p.stat().st_mtime_ns for p in (root / "u").rglob("*")}
    at = page({"open": "u"})
    assert not at.exception and list(at.session_state["runs"]) == ["M2"]
    time.sleep(1.0)
    at.run()
    assert {p: p.stat().st_mtime_ns for p in (root / "u").rglob("*")} == before


def test_rapid_step_clicks_all_count(root):
    at = page({"mode": "single", "depth": "2", "width": "8", "batch": "16", "engine": "eager"})
    for _ in range(20):
        at.button(key="btn_step1").click().run()
    from dashboard.live import run_service

    (rid,) = at.session_state["runs"].values()
    deadline = time.time() + 60
    while run_service().view(rid).steps_done < 20 and time.time() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)
    assert run_service().view(rid).steps_done == 20, run_service().view(rid).status + " " + run_service().view(rid).message
