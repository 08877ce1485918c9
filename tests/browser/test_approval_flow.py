"""End to end on the demo data: a developer asks for a new destination (and learns why a typo is
refused), their team lead and then security approve from the inbox, the grant appears with the
whole history, and a developer of another team cannot open the request."""

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

HOST = "api.acme-payments.com"
EXPECTED_TIMELINE = [  # the labels people read (choices.AUDIT_EVENT_LABELS), not the stored event names
    "Request created",
    "Submitted for approval",
    "Decision recorded",
    "Approval step complete",
    "Request approved",
    "Grant created",
]


def test_request_approval_grant_and_isolation(session, demo_data):
    password = demo_data

    dev = session()
    dev.sign_in("payments-dev", password)
    page = dev.page
    with dev.step("invalid host is explained"):
        dev.goto("/requests/new/")
        page.get_by_label("payments/checkout").check()
        page.get_by_label("Host", exact=True).fill(f"https://{HOST}/v1/charges")
        expect(page.locator("#dest-0-check")).to_contain_text("Refused")
        expect(page.locator("#dest-0-check")).to_contain_text("without a scheme such as https://")
    with dev.step("fixed host is normalised"):
        page.get_by_label("Host", exact=True).fill(HOST.upper() + ".")
        expect(page.locator("#dest-0-check")).to_contain_text(f"✓ {HOST}:443")
        expect(page.locator("#request-flags")).to_contain_text("prod")
        page.get_by_label("Justification").fill("Card payments through the new acquirer.")
    with dev.step("preview of the objects"):
        page.get_by_role("button", name="Preview Kubernetes objects").click()
        preview = page.locator("#preview")
        expect(preview).to_contain_text("Cluster demo:")
        added = preview.locator("details", has_text="ServiceEntry istio-egress/")
        expect(added.first).to_contain_text(f"+  - {HOST}")
        expect(preview).to_contain_text("add AuthorizationPolicy")
    with dev.step("submit"):
        page.get_by_role("button", name="Submit for approval").click()
        page.wait_for_url(re.compile(r".*/requests/\d+/$"))
        expect(page.locator("h1")).to_contain_text("Pending approval")
        request_path = page.url.removeprefix(dev.base_url)
        request_id = request_path.strip("/").split("/")[-1]
    dev.sign_out()

    lead = session()
    lead.sign_in("payments-lead", password)
    with lead.step("team approver approves from the inbox"):
        lead.goto("/approvals/")
        row = lead.page.locator(f"#inbox-row-{request_id}")
        expect(row).to_contain_text(HOST)
        row.get_by_role("button", name="Approve").click()
        expect(lead.page.locator(f"#inbox-row-{request_id}.decided")).to_contain_text("Security review")

    secops = session()
    secops.sign_in("secops", password)
    with secops.step("security approves the second step"):
        secops.goto("/approvals/")
        row = secops.page.locator(f"#inbox-row-{request_id}")
        row.get_by_label(f"Comment on request #{request_id}").fill("Reviewed: TLS only, prod payments.")
        row.get_by_role("button", name="Approve").click()
        expect(secops.page.locator(f"#inbox-row-{request_id}.decided")).to_contain_text(
            f"Request #{request_id} approved"
        )

    with dev.step("the grant appears with the whole history"):
        dev.sign_in("payments-dev", password)
        dev.goto("/grants/?host=acme")
        expect(dev.page.locator("#results")).to_contain_text(f"{HOST}:443")
        expect(dev.page.locator("#results")).to_contain_text("payments/checkout")
        dev.goto(request_path)
        expect(dev.page.locator("h1")).to_contain_text("Approved")
        timeline = dev.page.locator(".timeline")
        for event in EXPECTED_TIMELINE:
            expect(timeline).to_contain_text(event)
        expect(timeline.locator("li", has_text="Decision recorded")).to_have_count(2)
        expect(timeline.locator("li", has_text="Approval step complete")).to_have_count(2)
        expect(dev.page.locator("body")).to_contain_text("Reviewed: TLS only, prod payments.")

    other = session()
    other.sign_in("search-dev", password)
    with other.step("another team cannot open the request"):
        response = other.goto(request_path)
        assert response.status == 403
        expect(other.page.locator("h1")).to_contain_text("You are not allowed to see this page")
        expect(other.page.locator("body")).not_to_contain_text(HOST)

    for actor in (dev, lead, secops):
        assert actor.console_errors == [], actor.console_errors
    assert all("403" in error for error in other.console_errors)  # the refused page itself, nothing else
