"""Nothing widens the page (issue 16, item 6): the approvals inbox with "Preview objects" open and the
dashboard's "Blocked egress" card with SPIFFE names keep document.scrollWidth within the viewport at
1280 px and at 390 px (phone); long YAML and names wrap or scroll inside their own box."""

import pytest
from playwright.sync_api import expect

from policies.models import AccessRecord

pytestmark = pytest.mark.browser

WIDTHS = (1280, 390)
LONG_HOST = "reports-archive-bucket-with-a-very-long-name.s3.dualstack.eu-west-1.amazonaws.com"


@pytest.fixture
def long_names(demo_data):
    """A blocked attempt whose principal and host are long (written before the browser starts)."""
    record = AccessRecord.objects.filter(verdict="denied").order_by("id").first()
    AccessRecord.objects.filter(pk=record.pk).update(
        host=LONG_HOST,
        source_principal="cluster.local/ns/payments/sa/checkout-service-account-with-a-long-descriptive-name",
    )
    return demo_data


def _page_width(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth")


def test_inbox_preview_does_not_widen_the_page(long_names, session):
    lead = session()
    lead.sign_in("payments-lead", long_names)
    page = lead.page
    for width in WIDTHS:
        with lead.step(f"inbox with every preview open at {width} px"):
            page.set_viewport_size({"width": width, "height": 900})
            lead.goto("/approvals/")
            toggles = page.locator("details.more summary", has_text="Preview objects")
            expect(toggles.first).to_be_visible()
            for index in range(toggles.count()):
                toggles.nth(index).click()
            expect(page.locator(".preview-body pre.diff").first).to_be_visible()
            # Every object's diff open, the longest YAML included (what clicking each summary does).
            page.locator(".preview-body details").evaluate_all("all => all.forEach(d => { d.open = true; })")
            assert _page_width(page) <= width, f"page is {_page_width(page)} px wide at {width} px"
            decide = page.get_by_role("button", name="Approve").first
            box = decide.bounding_box()
            assert box is not None and box["x"] + box["width"] <= width, "the Decide column is off screen"
            page.screenshot(path=f"/tmp/i16-inbox-preview-{width}.png", full_page=True)


def test_dashboard_blocked_egress_card_keeps_long_names_inside(long_names, session):
    admin = session()
    admin.sign_in("admin", long_names)
    page = admin.page
    for width in WIDTHS:
        with admin.step(f"dashboard at {width} px"):
            page.set_viewport_size({"width": width, "height": 900})
            admin.goto("/")
            card = page.locator("section.card", has_text="Blocked egress")
            expect(card).to_contain_text("amazonaws.com")
            assert _page_width(page) <= width, f"page is {_page_width(page)} px wide at {width} px"
            card_box = card.bounding_box()
            inner = card.evaluate("el => el.scrollWidth <= el.clientWidth")
            assert inner and card_box["x"] + card_box["width"] <= width
            page.screenshot(path=f"/tmp/i16-dashboard-{width}.png", full_page=True)


LIST_PAGES = (
    "/requests/",
    "/grants/",
    "/grants/unused/",
    "/denied-attempts/",
    "/clusters/",
    "/audit/",
    "/approvals/",
    "/namespaces/",
    "/tokens/",
    "/access-map/",
)


def test_list_pages_and_their_filters_fit_a_phone(demo_data, session):
    """The filter selects are as wide as their longest option (the audit log's event labels): they
    shrink to the form, and no list page is wider than a 390 px screen."""
    admin = session()
    admin.sign_in("admin", demo_data)
    page = admin.page
    page.set_viewport_size({"width": 390, "height": 900})
    for path in LIST_PAGES:
        with admin.step(f"{path} at 390 px"):
            admin.goto(path)
            assert _page_width(page) <= 390, f"{path} is {_page_width(page)} px wide at 390 px"
