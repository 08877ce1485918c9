"""Screenshots of the main pages, on the demo data, into docs/screenshots/ (linked from the README).

    python scripts/screenshots.py [--output docs/screenshots]

Builds a throwaway installation in a temporary directory (embedded SQLite database and broker, debug
mode), loads `seed_demo`, reconciles the demo cluster once (a GitOps directory, so it needs no
Kubernetes), serves it with `runserver` on a free port and drives Debian's Chromium through
Playwright. Nothing outside the temporary directory and the output directory is touched.
"""

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._setup import free_port, manage, start_server, stop  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
PASSWORD = "screenshot-demo-1"
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}


class Shooter:
    def __init__(self, browser, base_url: str, output: Path):
        self.browser, self.base_url, self.output = browser, base_url, output
        self.written: list[Path] = []

    def signed_in(self, username: str, viewport=DESKTOP):
        context = self.browser.new_context(viewport=viewport, device_scale_factor=1)
        page = context.new_page()
        page.goto(self.base_url + "/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", PASSWORD)
        page.click("form[action='/login/'] button[type=submit]")
        page.wait_for_url(self.base_url + "/")
        return context, page

    def shot(self, page, name: str, *, full_page: bool = True) -> None:
        page.wait_for_load_state("networkidle")
        target = self.output / f"{name}.png"
        page.screenshot(path=str(target), full_page=full_page)
        self.written.append(target)


def take(shooter: Shooter) -> None:
    base = shooter.base_url

    context = shooter.browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    page.goto(base + "/login/")
    shooter.shot(page, "login", full_page=False)
    context.close()

    context, page = shooter.signed_in("payments-dev")
    shooter.shot(page, "dashboard")
    page.goto(base + "/requests/new/")
    page.get_by_label("demo/payments/checkout", exact=True).check()
    page.get_by_label("Host", exact=True).fill("https://api.acme-payments.com/v1")
    page.locator("#dest-0-check .refused").wait_for()
    shooter.shot(page, "request-form-validation", full_page=False)
    page.get_by_label("Host", exact=True).fill("api.acme-payments.com")
    page.locator("#dest-0-check .normalised").wait_for()
    page.get_by_label("Justification").fill("Card payments through the new acquirer.")
    page.get_by_role("button", name="Preview Kubernetes objects").click()
    page.locator("#preview .preview-cluster").wait_for()
    page.locator("#preview").scroll_into_view_if_needed()
    shooter.shot(page, "request-form-preview")
    page.goto(base + "/requests/?status=changes_requested")
    page.locator("#results a[href^='/requests/']").first.click()
    shooter.shot(page, "request-detail")
    page.goto(base + "/grants/")
    shooter.shot(page, "grants")
    context.close()

    context, page = shooter.signed_in("search-dev")
    page.goto(base + "/namespaces/")
    page.get_by_role("link", name="reports").click()
    shooter.shot(page, "namespace-readiness")
    context.close()

    context, page = shooter.signed_in("payments-lead")
    page.goto(base + "/approvals/")
    shooter.shot(page, "approvals-inbox")
    context.close()

    context, page = shooter.signed_in("payments-lead", viewport=PHONE)
    page.goto(base + "/approvals/")
    shooter.shot(page, "approvals-inbox-phone", full_page=False)
    context.close()

    context, page = shooter.signed_in("admin")
    page.goto(base + "/clusters/")
    page.get_by_role("link", name="demo", exact=True).click()
    shooter.shot(page, "cluster-detail")
    page.goto(base + "/namespaces/?cluster=demo")
    page.get_by_role("link", name="reports").click()
    page.get_by_role("link", name="Enforce…").click()
    shooter.shot(page, "namespace-enforce", full_page=False)
    page.goto(base + "/audit/")
    page.get_by_role("button", name="Verify the chain now").click()
    page.locator("#chain-result .badge-ok").wait_for()
    shooter.shot(page, "audit-log", full_page=False)
    context.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"{CHROMIUM} is missing: install Debian's chromium package.")
    from playwright.sync_api import sync_playwright

    output = args.output.resolve()
    output.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="egressui-screenshots-") as workdir:
        env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "REDIS_URL")}
        env.update(
            DJANGO_SETTINGS_MODULE="egressui.settings",
            DJANGO_DEBUG="true",
            EGRESSUI_VAR_DIR=workdir,
            EGRESSUI_LOG_FORMAT="console",
            DJANGO_LOG_LEVEL="WARNING",
        )
        manage(env, "migrate", "--noinput")
        manage(env, "seed_demo", "--password", PASSWORD)
        (Path(workdir) / "gitops" / "demo").mkdir(parents=True, exist_ok=True)  # the demo cluster's GitOps target
        manage(env, "reconcile", "--cluster", "demo")
        port = free_port()
        command = [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"]
        server = start_server(command, name="runserver", env=env, port=port, seconds=30)
        try:
            base_url = f"http://127.0.0.1:{port}"
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=CHROMIUM,
                    headless=True,
                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
                )
                shooter = Shooter(browser, base_url, output)
                try:
                    take(shooter)
                finally:
                    browser.close()
        finally:
            stop(server)
    for path in shooter.written:
        print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)


if __name__ == "__main__":
    main()
