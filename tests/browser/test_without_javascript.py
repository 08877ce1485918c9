"""The core flows with JavaScript switched off: forms post and redirect, errors come back on the page."""

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_request_and_approve_without_javascript(session, demo_data):
    password = demo_data
    dev = session(javascript=False)
    dev.sign_in("payments-dev", password)
    page = dev.page
    with dev.step("refused input comes back with the reasons"):
        dev.goto("/requests/new/")
        page.get_by_label("demo/payments/refunds", exact=True).check()
        page.get_by_label("Host", exact=True).fill("*.com")
        page.get_by_role("button", name="Submit for approval").click()
        expect(page.locator("#dest-0-check")).to_contain_text("public suffix com")
        expect(page.locator("#id_justification_error")).to_contain_text("Explain why")
    with dev.step("a second destination without htmx"):
        page.get_by_label("Host", exact=True).fill("api.nojs-example.com")
        page.get_by_role("button", name="Add another destination").click()
        expect(page.locator("input[name='dest-1-host']")).to_be_visible()
        expect(page.locator("input[name='dest-0-host']")).to_have_value("api.nojs-example.com")
        page.locator("input[name='dest-1-host']").fill("files.nojs-example.com")
        page.get_by_label("Justification").fill("Reports upload.")
    with dev.step("submit"):
        page.get_by_role("button", name="Submit for approval").click()
        page.wait_for_url(re.compile(r".*/requests/\d+/$"))
        expect(page.locator(".messages")).to_contain_text("submitted for approval")
        request_id = page.url.rstrip("/").split("/")[-1]

    lead = session(javascript=False)
    lead.sign_in("payments-lead", password)
    with lead.step("approve from the inbox"):
        lead.goto("/approvals/")
        lead.page.locator(f"#inbox-row-{request_id}").get_by_role("button", name="Approve").click()
        lead.page.wait_for_url(re.compile(r".*/approvals/$"))
        expect(lead.page.locator(".messages")).to_contain_text(f"Your approval of request #{request_id} is recorded")
