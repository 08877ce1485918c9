"""What the security hardening of issue 12 shows in a browser, on the demo data: a member of team search
previews a request for a host team payments already holds and sees payments' share only as counts; a
failed cluster sync says that it failed, not why; repeated wrong passwords end in a clear lock-out."""

import pytest
from playwright.sync_api import expect

from policies.choices import ClusterStatus
from policies.models import ClusterSyncState

pytestmark = pytest.mark.browser

SECRET_DETAIL = "kubeconfig line 7, column 3: a tab character is not allowed here"


@pytest.fixture
def failed_sync(demo_data):
    """Written before the browser starts (Playwright's event loop forbids the ORM afterwards)."""
    ClusterSyncState.objects.filter(cluster__name="demo").update(
        status=ClusterStatus.DEGRADED, last_error=SECRET_DETAIL, status_message=SECRET_DETAIL
    )
    return demo_data


def test_masked_preview_and_hidden_sync_error(failed_sync, session):
    searcher = session()
    searcher.sign_in("search-dev", failed_sync)
    page = searcher.page
    with searcher.step("the dashboard says the sync failed, not why"):
        expect(page.get_by_text("Sync failed — a platform admin can see why.")).to_be_visible()
        expect(page.get_by_text(SECRET_DETAIL)).to_have_count(0)
    with searcher.step("a preview shows payments' share as counts"):
        searcher.goto("/requests/new/")
        page.get_by_label("demo/search/indexer", exact=True).check()
        page.get_by_label("Host", exact=True).fill("api.stripe.com")
        page.get_by_label("Justification").fill("Billing for search ads.")
        page.get_by_role("button", name="Preview Kubernetes objects").click()
        preview = page.locator("#preview")
        expect(preview).to_contain_text("shown as counts")
        policy = preview.locator("details", has_text="AuthorizationPolicy istio-egress/api-stripe-com")
        policy.locator("summary").click()
        expect(policy).to_contain_text("cluster.local/ns/search/sa/indexer")
        expect(policy).to_contain_text("principals of other teams")
        expect(preview).not_to_contain_text("ns/payments/sa/")
        page.set_viewport_size({"width": 390, "height": 844})
        page.screenshot(path="/tmp/i12-preview-390.png", full_page=True)
        page.set_viewport_size({"width": 1280, "height": 900})
        page.screenshot(path="/tmp/i12-preview-1280.png", full_page=True)

    admin = session()
    admin.sign_in("admin", failed_sync)
    with admin.step("platform admins read why"):
        expect(admin.page.get_by_text(SECRET_DETAIL)).to_be_visible()


def test_lockout_after_repeated_wrong_passwords(session, demo_data, settings):
    settings.AXES_FAILURE_LIMIT = 3
    visitor = session()
    page = visitor.page
    with visitor.step("three wrong passwords, then the right one"):
        for attempt in [*["wrong-password"] * 3, demo_data]:
            visitor.goto("/login/")
            page.fill("#id_username", "payments-dev")
            page.fill("#id_password", attempt)
            page.click("form[action='/login/'] button[type=submit]")
        expect(page.get_by_role("alert")).to_contain_text("Too many failed sign-in attempts")
        expect(page.get_by_role("alert")).to_contain_text("blocked for 15 minutes, even with the right password")
        page.screenshot(path="/tmp/i12-lockout-1280.png", full_page=True)
        page.set_viewport_size({"width": 390, "height": 844})
        page.screenshot(path="/tmp/i12-lockout-390.png", full_page=True)
