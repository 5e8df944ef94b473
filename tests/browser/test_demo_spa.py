"""The demo SPA in a real headless Chromium, signing in through the emulator's own form.

Debian's `chromium` package provides the browser (`apt-get install chromium`; `.ci/run` does
it); Playwright's Python package drives it through `executable_path`, so no browser download
is needed. Where Chromium is absent the tests are skipped, with that reason. Screenshots of
every step land in `test-artifacts/browser/` (override with `TEST_ARTIFACTS`).
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS", Path(__file__).parents[2] / "test-artifacts"))
SCREENSHOTS = ARTIFACTS / "browser"
TIMEOUT_MS = 15_000

# Seeded emulator users (looker_emulator/config.py). Ada is the other tests' auto-login user;
# these tests sign in as people who have not approved the client yet, so they see every page.
GRACE = ("grace@example.com", "grace-password", "Grace Hopper")
ALAN = ("alan@example.com", "alan-password", "Alan Turing")


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    if not CHROMIUM.exists():  # noqa: ASYNC240 (one stat, before anything runs)
        pytest.skip("chromium not installed: apt-get install chromium")
    # The async API: the sync one holds an event loop on the main thread, which the suite's
    # async fixtures need.
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM),
                                                   args=CHROMIUM_ARGS)
        yield browser
        await browser.close()


@pytest.fixture(scope="module")
def interactive_looker(emulator: Any) -> Iterator[Any]:
    """The emulator with its sign-in form and approval page (no auto-login, no auto-approve)."""
    before = emulator.control.patch_config()
    emulator.control.patch_config(auto_login_user=None, auto_approve=False)
    yield emulator
    emulator.control.patch_config(auto_login_user=before["auto_login_user"],
                                  auto_approve=before["auto_approve"])


@pytest.fixture(scope="module")
def demo_url(make_bff: Callable[..., Any], interactive_looker: Any) -> str:
    """The service with the demo page mounted at `/`, as `looker-bff dev` serves it."""
    return str(make_bff(serve_demo=True).url)


@pytest.fixture
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    context = await browser.new_context(accept_downloads=True,
                                        viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    yield context
    await context.close()


@pytest.fixture
async def page(context: BrowserContext) -> AsyncIterator[Page]:
    """A tab that fails the test on any page error or console error other than a 401."""
    page = await context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))

    def on_console(message: Any) -> None:
        # Chromium logs every non-2xx fetch; the signed-out 401 of /auth/session is expected,
        # and so is the emulator's lack of a favicon.
        url = message.location.get("url", "")
        if message.type == "error" and "status of 401" not in message.text \
                and not url.endswith("/favicon.ico"):
            problems.append(f"console: {message.text} ({url})")

    page.on("console", on_console)
    yield page
    assert not problems, problems


async def shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


async def sign_in_at_looker(page: Page, email: str, password: str, *,
                            approve: bool = True) -> None:
    """The emulator's interactive pages: the sign-in form, then the approval page."""
    await expect(page).to_have_title(re.compile("Log in"))
    await page.fill("#email", email)
    await page.fill("#password", password)
    await shot(page, f"looker-sign-in-{email.split('@')[0]}")
    await page.get_by_role("button", name="Log In").click()
    await expect(page.get_by_text(f"Signed in as {email}")).to_be_visible()
    await shot(page, f"looker-approve-{email.split('@')[0]}")
    await page.get_by_role("button", name="Allow" if approve else "Deny").click()


async def test_a_user_signs_in_through_looker_and_uses_every_part_of_the_demo(
    page: Page, demo_url: str, interactive_looker: Any, tmp_path: Path
) -> None:
    email, password, name = GRACE
    response = await page.goto(demo_url + "/")
    assert response is not None and response.ok
    csp = response.headers.get("content-security-policy", "")
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp

    # Signed out: the page offers the sign-in link and nothing else.
    sign_in = page.get_by_role("link", name="Sign in with Looker")
    await expect(sign_in).to_be_visible()
    await expect(page.locator("#signed-in")).to_be_hidden()
    await shot(page, "01-signed-out")

    # Sign in through Looker's form and approval page, and land back on the demo.
    await sign_in.click()
    await sign_in_at_looker(page, email, password)
    await page.wait_for_url(f"{demo_url}/**")
    await expect(page.get_by_test_id("user")).to_have_text(f"Signed in as {name}")
    await expect(page.locator("#me-email")).to_have_text(email)
    await expect(page.locator("#me-name")).to_have_text(name)
    await expect(page.locator("#me-id")).to_have_text("2")

    # Looks and dashboards, from /api/looks and /api/dashboards.
    looks = page.locator("#looks a")
    await expect(looks.first).to_be_visible()
    await expect(page.locator("#looks")).to_contain_text("Revenue by State")
    await expect(page.locator("#dashboards")).to_contain_text("Business Pulse")
    assert await looks.count() >= 3
    await shot(page, "02-signed-in")

    # Run a look into the table; the open look is in the URL.
    await page.get_by_role("link", name="Revenue by State").click()
    await expect(page).to_have_url(re.compile(r"#look=2$"))
    await expect(page.locator("#result-title")).to_have_text("Revenue by State")
    await expect(page.locator("#result-summary")).to_have_text(re.compile(r"^\d+ rows"))
    await expect(page.locator("#result-table thead th").first).to_have_text("users.state")
    rows = page.locator("#result-table tbody tr")
    assert await rows.count() > 0
    assert await rows.first.locator("td").count() == 2
    await shot(page, "03-look-run")

    # Download the CSV: fetched with X-CSRF, saved from a blob.
    async with page.expect_download() as download_info:
        await page.get_by_role("button", name="Download CSV").click()
    download = await download_info.value
    assert download.suggested_filename.endswith(".csv")
    saved = tmp_path / download.suggested_filename
    await download.save_as(saved)
    csv_lines = saved.read_text().splitlines()
    assert len(csv_lines) > 1 and "," in csv_lines[0]
    (ARTIFACTS / "browser").mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "browser" / download.suggested_filename).write_bytes(saved.read_bytes())

    # Looker revokes the user's tokens: the next call answers 401 reauth_required, the page
    # sends the user through /auth/login and back to where they were (the look they opened).
    # Looker still knows the user and the approval, so no form shows this time.
    logins: list[str] = []
    page.on("request", lambda request: logins.append(request.url)
            if "/auth/login" in request.url else None)
    assert interactive_looker.control.revoke_tokens(user_id=2) >= 1
    await page.get_by_role("link", name="Top Product Categories").click()
    await page.wait_for_url(re.compile(r"/#look=3$"))
    await expect(page.locator("#result-title")).to_have_text("Top Product Categories")
    await expect(page.locator("#result-summary")).to_have_text(re.compile(r"^\d+ rows"))
    assert len(logins) == 1 and "return_to=%2F%23look%3D3" in logins[0], logins
    await expect(page.get_by_test_id("user")).to_have_text(f"Signed in as {name}")
    await shot(page, "04-back-after-reauth")

    # Sign out: the page shows the signed-out state and the session is gone.
    await page.get_by_role("button", name="Sign out").click()
    await expect(page.locator("#notice")).to_have_text("You are signed out.")
    await expect(page.get_by_role("link", name="Sign in with Looker")).to_be_visible()
    await expect(page.locator("#signed-in")).to_be_hidden()
    session = await page.request.get(demo_url + "/auth/session")
    assert session.status == 401
    await shot(page, "05-signed-out-again")


async def test_a_user_who_denies_access_in_looker_sees_why_they_are_not_signed_in(
    page: Page, demo_url: str
) -> None:
    email, password, _ = ALAN
    await page.goto(demo_url + "/")
    await page.get_by_role("link", name="Sign in with Looker").click()
    await sign_in_at_looker(page, email, password, approve=False)
    await page.wait_for_url(f"{demo_url}/**")
    await expect(page.locator("#notice")).to_have_text(
        "Sign-in failed: You declined access in Looker.")
    await expect(page).not_to_have_url(re.compile("login_error"))  # dropped once reported
    await expect(page.get_by_role("link", name="Sign in with Looker")).to_be_visible()
    await shot(page, "06-access-denied")


async def test_the_demo_page_is_served_with_a_strict_content_security_policy(
    demo_url: str,
) -> None:
    async with httpx2.AsyncClient(base_url=demo_url) as client:
        responses = {path: await client.get(path)
                     for path in ("/", "/app.js", "/style.css", "/config.js")}
    for path, response in responses.items():
        assert response.status_code == 200, path
        csp = response.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src 'self'" in csp, path
        assert response.headers["x-content-type-options"] == "nosniff"
