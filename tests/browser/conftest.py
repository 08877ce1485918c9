"""Real-browser tests: Playwright drives Debian's Chromium (never a downloaded browser) against
pytest-django's live server. A failing step leaves a screenshot in docs/screenshots/failures/."""

import contextlib
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache
from django.core.management import call_command

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
FAILURES = Path(settings.BASE_DIR) / "docs" / "screenshots" / "failures"
DEMO_PASSWORD = "browser-demo-password-1"


@pytest.fixture
def demo_data(transactional_db):
    """seed_demo in the test database. It runs before Playwright starts: Playwright's event loop makes
    Django refuse ORM calls from this thread afterwards."""
    cache.clear()  # per-user values (the approvals badge) from earlier tests' databases
    call_command("seed_demo", password=DEMO_PASSWORD, force=True, stdout=open("/dev/null", "w"))
    return DEMO_PASSWORD


@pytest.fixture
def browser(demo_data, live_server):
    """Started after the demo data and the live server exist (see demo_data)."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent: install Debian's chromium package (.ci/run does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()


class Session:
    """One signed-in user in its own browser context, with named steps that screenshot on failure."""

    def __init__(self, browser, base_url: str, test_name: str, *, javascript: bool = True):
        self.context = browser.new_context(viewport={"width": 1280, "height": 900}, java_script_enabled=javascript)
        self.page = self.context.new_page()
        self.page.set_default_timeout(15_000)
        self.base_url = base_url
        self.test_name = re.sub(r"[^A-Za-z0-9_.-]+", "-", test_name)
        self.console_errors: list[str] = []
        self.page.on("console", lambda m: self.console_errors.append(m.text) if m.type == "error" else None)

    def goto(self, path: str):
        return self.page.goto(self.base_url + path)

    @contextlib.contextmanager
    def step(self, name: str):
        try:
            yield self.page
        except BaseException:
            FAILURES.mkdir(parents=True, exist_ok=True)
            target = FAILURES / f"{self.test_name}-{re.sub(r'[^a-z0-9]+', '-', name.lower())}.png"
            with contextlib.suppress(Exception):
                self.page.screenshot(path=str(target), full_page=True)
            raise

    def sign_in(self, username: str, password: str) -> None:
        with self.step(f"sign in as {username}"):
            self.goto("/login/")
            self.page.fill("#id_username", username)
            self.page.fill("#id_password", password)
            self.page.click("form[action='/login/'] button[type=submit]")
            self.page.wait_for_url(self.base_url + "/")

    def sign_out(self) -> None:
        with self.step("sign out"):
            self.page.click("text=Sign out")
            self.page.wait_for_url(re.compile(r".*/login/$"))

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def session(browser, live_server, request):
    opened: list[Session] = []

    def open_session(*, javascript: bool = True) -> Session:
        opened.append(Session(browser, live_server.url, request.node.name, javascript=javascript))
        return opened[-1]

    yield open_session
    for item in opened:
        item.close()
