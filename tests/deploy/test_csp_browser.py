"""The pages work under the Content-Security-Policy in a real browser: Chromium reports every blocked
script, style or connection on its console, and htmx (vendored, served from static/) is loaded."""

import shutil

import pytest
from django.urls import NoReverseMatch, reverse

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = shutil.which("chromium")
# Pages of the UI, the admin and the API docs; a name that does not exist (yet) is left out.
PAGES = ["dashboard", "request_list", "request_create", "approval_inbox", "grant_list", "cluster_list", "audit_log"]
OTHER_PAGES = ["admin:index", "admin:policies_cluster_changelist", "api:docs"]
HTMX_PAGES = set(PAGES)


def _existing(names: list[str]) -> list[tuple[str, str]]:
    found = []
    for name in names:
        try:
            found.append((name, reverse(name)))
        except NoReverseMatch:
            continue
    return found


@pytest.fixture
def admin_login(django_user_model):
    # Created before Playwright starts: its event loop makes later ORM calls in this thread refuse to run.
    django_user_model.objects.create_superuser("csp-admin", "csp@example.com", "csp-password-1")
    return "csp-admin", "csp-password-1"


@pytest.fixture
def browser_page():
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed here (.ci/run installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page()
        violations: list[str] = []
        page.on(
            "console",
            lambda message: (
                violations.append(f"{page.url}: {message.text}") if "Content Security Policy" in message.text else None
            ),
        )
        page.violations = violations
        # Every other warning or error on the console too (an unknown Permissions-Policy feature, a 404).
        problems: list[str] = []
        page.on(
            "console",
            lambda message: (
                problems.append(f"{page.url}: {message.type}: {message.text}")
                if message.type in ("warning", "error")
                else None
            ),
        )
        page.console_problems = problems
        try:
            yield page
        finally:
            browser.close()


class BrowserCspTests:
    def test_pages_render_and_run_htmx_without_csp_violations(self, admin_login, browser_page, live_server):
        username, password = admin_login
        page = browser_page
        page.goto(live_server.url + reverse("login"))
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", password)
        page.click("button[type=submit], input[type=submit]")
        page.wait_for_load_state("networkidle")

        visited = []
        for name, path in _existing(PAGES) + _existing(OTHER_PAGES):
            page.goto(live_server.url + path)
            page.wait_for_load_state("networkidle")
            visited.append(name)
            if name in HTMX_PAGES:
                assert page.evaluate("typeof window.htmx") == "object", f"htmx not running on {name}"
        assert "dashboard" in visited, "the login led somewhere"
        assert page.violations == []
        assert page.console_problems == []

    def test_the_browser_reports_a_violation(self, browser_page, live_server):
        """The console check above can fail: an inline script on one of our pages is refused."""
        page = browser_page
        page.goto(live_server.url + reverse("login"))
        from playwright.sync_api import Error

        with pytest.raises(Error, match="Content Security Policy"):
            page.add_script_tag(content="window.injected = true;")  # an inline <script> element
        assert page.evaluate("window.injected === true") is False
