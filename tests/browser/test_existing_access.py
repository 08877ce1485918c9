"""Asking again for access that exists (issue 16, item 5), on the demo data: the form warns while typing
(still valid: renewing is legitimate), the preview says "no effective change", approvers read "replaces
grant #N", and once approved the old grant reads "Superseded by" the new one."""

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_renewing_existing_access_is_flagged_and_supersedes(session, demo_data):
    password = demo_data
    dev = session()
    dev.sign_in("payments-dev", password)
    page = dev.page
    with dev.step("the form warns about the active grant"):
        dev.goto("/requests/new/")
        page.get_by_label("demo/payments/checkout", exact=True).check()
        page.get_by_label("Host", exact=True).fill("api.stripe.com")
        check = page.locator("#dest-0-check")
        expect(check).to_contain_text("✓ api.stripe.com:443")
        expect(check).to_contain_text("already reaches api.stripe.com:443 (tls) through grant #")
        old_grant = re.search(r"through grant #(\d+)", check.inner_text()).group(1)
        page.get_by_label("Justification").fill("Renewal before the contract ends.")
    with dev.step("the preview says there is no effective change"):
        page.get_by_role("button", name="Preview Kubernetes objects").click()
        preview = page.locator("#preview")
        expect(preview).to_contain_text("Cluster demo: no effective change")
        expect(preview).not_to_contain_text("to change")
    with dev.step("submit: the request page names the grant it replaces"):
        page.get_by_role("button", name="Submit for approval").click()
        page.wait_for_url(re.compile(r".*/requests/\d+/$"))
        request_id = page.url.rstrip("/").split("/")[-1]
        expect(page.locator(".existing-access-box")).to_contain_text(f"replaces grant #{old_grant} (expires ")

    for approver in ("payments-lead", "secops"):
        person = session()
        person.sign_in(approver, password)
        with person.step(f"{approver} reads what the request replaces, and approves"):
            person.goto("/approvals/")
            row = person.page.locator(f"#inbox-row-{request_id}")
            expect(row).to_contain_text(f"replaces grant #{old_grant} (expires ")
            row.get_by_role("button", name="Approve").click()
            expect(person.page.locator(f"#inbox-row-{request_id}.decided")).to_be_visible()

    with dev.step("the old grant is superseded, not expired"):
        dev.goto(f"/grants/{old_grant}/")
        expect(page.get_by_role("heading", level=1)).to_contain_text("Superseded")
        successor = page.locator("p.superseded a")
        expect(successor).to_contain_text("grant #")
        successor.click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("Active")
        expect(page.locator("dt", has_text="Replaces")).to_be_visible()
        expect(page.locator(f"dd a[href='/grants/{old_grant}/']")).to_have_text(f"grant #{old_grant}")
