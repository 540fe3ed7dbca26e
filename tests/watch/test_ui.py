"""assay's dashboard at /ui/ in headless Chromium (Debian's, driven by Playwright): the login keeps the token in the
tab's session, every view renders charts with data and no console errors, the range picker changes what is drawn,
hostile strings stay text, and the shells carry a strict Content-Security-Policy."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.watch.conftest import Server, make_token

playwright = pytest.importorskip("playwright.sync_api")
HOSTILE = "<script>window.__xss=1</script>"


def _until(check: Callable[[], bool], timeout: float = 15.0) -> None:
    """Poll from Python: the page's CSP forbids the string evaluation Playwright's wait_for_function uses."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("the page did not reach the expected state")
        time.sleep(0.05)


def test_dashboard_views_in_chromium(serve: Callable[..., Server], tmp_path: Path) -> None:
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail("chromium is not on PATH: scripts/install-debian.sh chromium:chromium installs it")
    store = f"sqlite:///{tmp_path / 'watch.sqlite'}"
    server = serve(store, "slos:\n  - {name: fraud-latency, model: fraud, sli: {event: latency_below, seconds: 0.3},"
                   " objective: 0.99}\n")
    token = make_token(server.config, store, "ui", "ingest", "read")
    h = {"Authorization": f"Bearer {token}"}
    now = time.time()
    events = [{"id": f"e{i}", "timestamp": now - 12 * 3600 + i * 144, "score": (i % 10) / 10 + 0.05,
               "latency_s": 0.05 + (i % 7) / 100, "amount": float(i % 50),
               "country": [HOSTILE, "DE", "FR"][i % 3]} for i in range(300)]
    assert httpx.post(f"{server.url}/v1/models/fraud/predictions", json={"events": events}, headers=h,
                      timeout=30).status_code == 200
    labels = [{"id": f"e{i}", "is_fraud": int((i % 10) >= 5)} for i in range(300)]
    assert httpx.post(f"{server.url}/v1/models/fraud/labels", json={"events": labels}, headers=h,
                      timeout=30).status_code == 200
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status = httpx.get(f"{server.url}/v1/models/fraud/status", headers=h, timeout=30).json()
        if status["materialization_lag"]["predictions"] == 0 and status["materialization_lag"]["labels"] == 0:
            break
        time.sleep(0.2)
    shell = httpx.get(f"{server.url}/ui/", timeout=30)
    assert shell.status_code == 200 and "script-src 'self'" in shell.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in shell.headers["content-security-policy"]
    assert httpx.get(f"{server.url}/ui/models/fraud/nope", timeout=30).status_code == 404
    assert httpx.get(f"{server.url}/ui/static/../app.py", timeout=30).status_code == 404

    errors: list[str] = []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page()
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{server.url}/ui/")
        page.wait_for_selector("#login:not([hidden])")
        page.fill("#token", "assay_wrong")
        page.click("#login button")
        _until(lambda: bool(page.text_content("#login-error")))
        errors.clear()  # the refused token's 401 is the browser's console error, expected here
        page.fill("#token", token)
        page.click("#login button")
        page.wait_for_selector("#view[data-ready='1']")
        assert "fraud" in page.inner_text("#view") and "fraud-latency" in page.inner_text("#view")
        timings = {}
        for view in ("executive", "on-call", "debug"):
            t0 = time.perf_counter()
            page.goto(f"{server.url}/ui/models/fraud/{view}")
            page.wait_for_selector("#view[data-ready='1']")
            timings[view] = time.perf_counter() - t0
            drawn = page.eval_on_selector_all("svg.chart", "els => els.map(e => Number(e.dataset.points))")
            assert drawn and max(drawn) > 0, (view, drawn)
        # the hostile segment value is shown as text, and never ran
        assert HOSTILE in page.inner_text("#view")
        assert page.evaluate("window.__xss") is None
        # the range picker changes what is drawn
        page.goto(f"{server.url}/ui/models/fraud/executive")
        page.wait_for_selector("#view[data-ready='1']")
        points = "els => els.reduce((n, e) => n + Number(e.dataset.points), 0)"
        before = (page.get_attribute("#view", "data-from"), page.eval_on_selector_all("svg.chart", points))
        page.select_option("#range", "21600")
        _until(lambda: page.get_attribute("#view", "data-from") != before[0]
               and page.get_attribute("#view", "data-ready") == "1")
        after = (page.get_attribute("#view", "data-from"), page.eval_on_selector_all("svg.chart", points))
        assert after[0] != before[0] and int(after[1]) < int(before[1]), (before, after)
        browser.close()
    assert not errors, errors
    print("first render (navigation to data drawn):", {k: round(v, 3) for k, v in timings.items()})
