"""The dashboard, end to end in headless Chromium from Debian's packages (Playwright drives it;
it never downloads a browser of its own). A screenshot is kept in var/artifacts/."""
from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from api import create_app
from ledger.commands import models as m
from tests.api.conftest import PRINCIPALS, SETTINGS
from tests.conftest import running_in_ci
from tests.integration.scenario import credit_code_for

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "var" / "artifacts"


@pytest.fixture
def live_url(served) -> Iterator[str]:
    """The API over the seeded ledger, served by uvicorn on a free port in a thread."""
    import uvicorn

    app = create_app(served.app, SETTINGS.model_copy(update={"stream_poll_seconds": 0.1}))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", timeout_graceful_shutdown=1))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def browser() -> Iterator[object]:
    if not (os.path.exists(CHROMIUM) and shutil.which("chromium")):
        if running_in_ci():
            pytest.fail("CI must run the browser test: install Debian's chromium (.ci/run does)", pytrace=False)
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        launched.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_dashboard_in_a_real_browser(served, live_url, browser):
    from api.auth import mint_token

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("requestfailed", lambda request: problems.append(f"failed: {request.url}") if "/v1/events" not in request.url else None)
    outside: list[str] = []
    page.on("request", lambda request: outside.append(request.url) if not request.url.startswith((live_url, "data:")) else None)

    # the public: the pool (not TS-1, blacklisted) and the published lists
    page.goto(f"{live_url}/dashboard")
    page.wait_for_selector("body[data-ready=registry]")
    shown = page.locator("#registry-table tbody tr").evaluate_all("rows => rows.map(r => r.dataset.provider)")
    assert sorted(shown) == ["TS-2", "XX-1"]
    page.goto(f"{live_url}/dashboard#lists")
    page.wait_for_selector("#lists-table tbody tr")
    assert "唐山 第十三条（二）" in page.locator("#lists-table").inner_text()

    # an auditor: the provider page, its sanction explained down to the ratings behind it, its timeline
    page.fill("#token", mint_token(PRINCIPALS["auditor"], SETTINGS))
    page.click("#save-token")
    page.goto(f"{live_url}/dashboard#provider/TS-1")
    page.wait_for_selector("body[data-ready='provider/TS-1']")
    assert "blacklisting" in page.locator("#sanctions-table").inner_text()
    page.click("#sanctions-table button.explain")
    page.wait_for_selector(".tree li li")
    tree = page.locator(".tree").inner_text()
    for rating in served.seeded.ratings:
        assert rating.fact in tree and rating.source in tree
    assert page.locator("#timeline-table tbody tr").count() >= 10

    # the charts, from the bureau's report
    page.goto(f"{live_url}/dashboard#charts")
    page.wait_for_selector("body[data-ready=charts]")
    assert page.evaluate("() => Object.keys(state.charts).length") == 4
    assert page.evaluate("() => state.charts['chart-removals'].data.datasets.map(d => d.label)") == ["唐山 第十三条（二）"]

    # live: an event recorded elsewhere arrives and the view in front is re-read
    # (the registry is shown, and the stream open, before the event is recorded: otherwise a slow
    # first read of the registry could show the new row without any live event)
    page.goto(f"{live_url}/dashboard#registry")
    page.wait_for_selector("body[data-ready=registry]")
    page.wait_for_selector("#live.on")
    assert page.locator("tr[data-provider='TS-NEW']").count() == 0
    live_before = page.evaluate("() => state.live")
    served.app.ledger.execute(m.SubmitApplication(command_id="live-1", provider_id="TS-NEW", jurisdiction="tangshan", name="新申请", credit_code=credit_code_for("TS-NEW"), kind="数字化服务商"))
    page.wait_for_function(f"() => state.live > {live_before}", timeout=10_000)
    page.wait_for_selector("tr[data-provider='TS-NEW']", timeout=10_000)

    # English
    page.click("#lang")
    assert page.locator("header h1").inner_text().startswith("Digital-transformation")

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.goto(f"{live_url}/dashboard#charts")
    page.wait_for_selector("body[data-ready=charts]")
    page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
    assert (ARTIFACTS / "dashboard.png").stat().st_size > 10_000
    assert problems == [] and outside == []


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_dashboard_in_english_and_without_a_token(served, live_url, browser):
    """?lang=en titles the page in English too; the standing filter offers every standing the API takes
    (under_notice included: the one list, from the API's OpenAPI); without a token the charts are not
    requested (no 401 in the console), the page says a token is needed."""
    from ledger.aggregates.provider import STANDINGS

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    problems: list[str] = []
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))

    page.goto(f"{live_url}/dashboard?lang=en")
    page.wait_for_selector("body[data-ready=registry]")
    assert page.title().startswith("Digital-transformation")
    page.wait_for_function(f"() => document.querySelectorAll('#registry-filters select[name=standing] option').length > {len(STANDINGS)}")
    options = page.locator("#registry-filters select[name=standing] option").evaluate_all("os => os.map(o => o.value)")
    assert options == ["", *STANDINGS]

    page.goto(f"{live_url}/dashboard?lang=en#charts")
    page.wait_for_selector("body[data-ready=charts]")
    assert page.locator("#charts-note").inner_text() == "Needs an auditor's or the regulator's token."
    assert not [url for url in requested if "/v1/reports/" in url]
    assert problems == []

    page.goto(f"{live_url}/dashboard")
    page.wait_for_selector("body[data-ready=registry]")
    page.evaluate("() => localStorage.clear()")
    page.goto(f"{live_url}/dashboard")
    page.wait_for_selector("body[data-ready=registry]")
    assert page.title() == "数字化转型服务商资源池台账"
