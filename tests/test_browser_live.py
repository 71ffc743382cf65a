"""Live runs in a real browser: a reload re-attaches to the same runs, and a shared link shows them live to a
second browser, which may watch but not control them, and may start its own copy."""
import re
import time

import pytest

from test_browser import chromium, shots, sync_playwright  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]  # one worker, one server
SETUP = "?mode=single&depth=2&width=16&batch=32&steps=200000&engine=eager&grad_every=500&eval_every=500&hess_every=0"


@pytest.fixture
def browser():
    with sync_playwright() as p:
        b = chromium(p)
        try:
            yield b
        finally:
            b.close()


def step_count(page) -> int | None:
    """The step counter of the first run card ("step 1,234"), None while there is none."""
    card = page.locator(".pinn-card").first
    if card.count() == 0:
        return None
    m = re.search(r"step ([\d,]+)", card.inner_text())
    return int(m.group(1).replace(",", "")) if m else None


def rising(page, timeout=60.0) -> int:
    """Wait until the step counter rises; return the new value."""
    deadline = time.time() + timeout
    first = None
    while time.time() < deadline:
        n = step_count(page)
        if n is not None and first is not None and n > first:
            return n
        first = n if first is None else first
        page.wait_for_timeout(500)
    pytest.fail(f"the step counter did not rise (stayed at {first})")


def said(page, text: str, shot, timeout=30_000) -> None:
    """Wait until the page shows this text; else fail with what the page showed instead (and a screenshot)."""
    try:
        page.get_by_text(text).first.wait_for(timeout=timeout)
    except Exception:
        page.screenshot(path=str(shot), full_page=True)
        pytest.fail(f"the page never said {text!r}; it showed:\n{page.locator('body').inner_text()[:3000]}")


def start(page, url):
    page.goto(url)
    button = page.locator(".st-key-btn_start button").first
    button.wait_for(state="visible", timeout=60_000)
    page.wait_for_timeout(800)
    button.click()
    rising(page)


def test_a_reload_reattaches_to_the_live_run(server, browser, shots):  # noqa: F811
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    start(page, server + "/" + SETUP)
    page.wait_for_timeout(1500)  # the URL now lists the run
    page.reload()
    page.locator(".st-key-btn_pause button").first.wait_for(state="visible", timeout=60_000)
    before = rising(page)  # the same run, still training, shown live after the reload
    assert page.get_by_text("owned by another session").count() == 0
    page.locator(".st-key-btn_pause button").first.click()  # and its owner's controls act: the card says
    # "paused" once the worker ends its chunk (on a loaded machine the page may show that a few seconds later),
    # and the counter stays where it stopped
    page.locator(".pinn-card").first.get_by_text("paused").first.wait_for(timeout=30_000)
    frozen = step_count(page)
    page.wait_for_timeout(2000)
    assert frozen is not None and frozen >= before and step_count(page) == frozen
    page.screenshot(path=str(shots / "e2e-reload.png"), full_page=True)
    assert page.locator("[data-testid='stException']").count() == 0
    page.locator(".st-key-btn_stop button").first.click()


def test_a_shared_link_shows_the_run_live_but_only_its_owner_controls_it(server, browser, shots):  # noqa: F811
    owner = browser.new_context(viewport={"width": 1280, "height": 720}).new_page()
    start(owner, server + "/" + SETUP)
    owner.wait_for_timeout(1500)
    link = owner.url
    assert "open=" in link
    guest = browser.new_context(viewport={"width": 1280, "height": 720}).new_page()  # another browser
    guest.goto(link)
    guest.locator(".st-key-btn_pause button").first.wait_for(state="visible", timeout=60_000)
    rising(guest)  # the owner's run, live
    guest.get_by_text("owned by another session").first.wait_for(timeout=30_000)
    guest.locator(".st-key-btn_pause button").first.click()
    said(guest, "cannot be controlled from here", shots / "e2e-shared-link-failure.png")
    rising(owner)  # the guest's Pause did nothing to it
    guest.screenshot(path=str(shots / "e2e-shared-link.png"), full_page=True)
    guest.locator(".st-key-btn_start button").first.click()  # a copy of its own
    guest.wait_for_function("() => !document.body.innerText.includes('owned by another session')",
                            timeout=60_000)
    guest.wait_for_function("() => !new URLSearchParams(location.search).get('open').includes("
                            f"'{link.split('open=')[1].split('&')[0].split('%2F')[-1]}')", timeout=30_000)
    rising(guest)
    for p in (owner, guest):
        assert p.locator("[data-testid='stException']").count() == 0
        p.locator(".st-key-btn_stop button").first.click()


def test_a_problem_of_your_own_trains_in_the_browser(server, browser, shots):  # noqa: F811
    from urllib.parse import urlencode

    from dashboard import custom_pde
    from dashboard.settings import defaults, to_query

    query = to_query(defaults() | {"problem": "custom", "spec": custom_pde.examples()["heat"], "mode": "single",
                                   "engine": "eager", "depth": 2, "width": 16, "batch": 32, "steps": 200_000,
                                   "hess_every": 0, "grad_every": 500, "eval_every": 500})
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    start(page, server + "/?" + urlencode(query))  # the spec came through the link; Start trains it
    rising(page)
    page.screenshot(path=str(shots / "e2e-own-pde.png"), full_page=True)
    assert page.locator("[data-testid='stException']").count() == 0
    page.locator(".st-key-btn_stop button").first.click()
