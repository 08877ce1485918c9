"""Issue 16, items 7, 9 and 10, on the demo data as a newcomer sees it: human labels instead of
internal names, one way of naming an identity, honest answers when something cannot be judged, and
only the actions that make sense."""

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_pages_speak_plainly_to_a_member(demo_data, session):
    dev = session()
    dev.sign_in("payments-dev", demo_data)
    page = dev.page
    with dev.step("the greeting uses the whole name"):
        expect(page.locator("h1")).to_have_text("Hello, Pat Developer")
    with dev.step("identities read namespace/service account in lists, never SPIFFE"):
        card = page.locator("section", has_text="Blocked egress")
        expect(card).to_contain_text("payments/refunds → hooks.slack.com")
        expect(card).not_to_contain_text("cluster.local/ns/")
    with dev.step("a denied attempt already asked for shows its port and the request, not 'Request access'"):
        dev.goto("/denied-attempts/")
        row = page.locator("#denied-table tr", has_text="hooks.slack.com")
        expect(row).to_contain_text("hooks.slack.com:443")
        expect(row).to_contain_text("payments/refunds")
        expect(row.get_by_role("link", name=re.compile(r"request #\d+"))).to_be_visible()
        expect(row.get_by_role("button", name="Request access")).to_have_count(0)
        expect(row.get_by_role("link", name="Request access")).to_have_count(0)
    with dev.step("a revoked grant offers no renewal"):
        dev.goto("/grants/?status=revoked")
        revoked = page.locator("tbody tr", has_text="api.braintreegateway.com")
        expect(revoked.get_by_role("button", name="Renew")).to_have_count(0)
        revoked.get_by_role("link", name=re.compile(r"#\d+")).first.click()
        expect(page.get_by_role("button", name="Renew…")).to_have_count(0)
    with dev.step("an active grant: Renew, and who may revoke instead of a missing button"):
        dev.goto("/grants/?status=active")
        # demo-ambient grants the same identity name and host: take the demo cluster's row.
        rows = page.locator("tbody tr", has_text="payments/checkout").filter(has_text="api.stripe.com")
        active = rows.filter(has_text="demo:")
        expect(active.get_by_role("button", name="Renew")).to_be_visible()
        expect(active).to_contain_text("an approver of payments can revoke")
        expect(page.locator(".page-head")).to_contain_text("Approvers of the grant's team and platform admins")
    with dev.step("an approved request: labels in its timeline, no 'what approving would add'"):
        active.get_by_role("link", name=re.compile(r"#\d+")).first.click()
        page.locator("dl.facts a[href*='/requests/']").first.click()
        page.wait_for_url(re.compile(r".*/requests/\d+/$"))
        timeline = page.locator("ol.timeline")
        expect(timeline).to_contain_text("Request created")
        expect(timeline).to_contain_text("Request approved")
        expect(timeline).not_to_contain_text("request.created")
        expect(page.locator("body")).not_to_contain_text("What approving this request now would add")
        expect(page.locator("body")).to_contain_text("Approved: its grants' objects are part of")
    with dev.step("unused grants: what cannot be judged, and why"):
        dev.goto("/grants/unused/")
        expect(page.locator("body")).to_contain_text("Nothing could be judged.")
        expect(page.locator("body")).not_to_contain_text("was used in the last")
    assert dev.console_errors == [], dev.console_errors


@pytest.fixture
def reconciled_demo(demo_data, tmp_path):
    """One reconcile of the demo cluster into a temporary directory (no worker runs in tests); before
    the browser starts, since Playwright's event loop forbids the ORM afterwards."""
    from policies.models import Cluster
    from policies.reconciler.loop import reconcile_cluster

    cluster = Cluster.objects.get(name="demo")
    Cluster.objects.filter(pk=cluster.pk).update(directory_path=str(tmp_path))  # fixture set-up, not a change
    reconcile_cluster(cluster.pk, trigger="manual")
    return demo_data


def test_pages_speak_plainly_to_approvers_and_admins(reconciled_demo, session):
    demo_data = reconciled_demo
    lead = session()
    lead.sign_in("payments-lead", demo_data)
    page = lead.page
    with lead.step("the inbox: one wording for sending back, labelled badges"):
        lead.goto("/approvals/")
        expect(page.get_by_role("button", name="Ask for changes")).to_have_count(0)
        expect(page.get_by_role("button", name="Request changes").first).to_be_visible()
        expect(page.locator("body")).not_to_contain_text("waiting just now")
        expect(page.locator(".badge", has_text=re.compile(r"^prod$"))).to_have_count(0)
    lead.sign_out()
    admin = session()
    admin.sign_in("admin", demo_data)
    page = admin.page
    with admin.step("runs read as sentences, with a heading that says what they count"):
        admin.goto("/clusters/")
        page.get_by_role("link", name="demo").first.click()
        runs = page.locator("#runs")
        expect(runs).to_contain_text("Objects in the cluster")
        expect(runs).to_contain_text(re.compile(r"objects? changed|No change"))
        expect(runs).not_to_contain_text("=")
        runs.get_by_role("link", name=re.compile(r"#\d+")).first.click()
        facts = page.locator("dl.facts")
        expect(facts).to_contain_text("Result")
        expect(facts).not_to_contain_text("created=")
        expect(facts).not_to_contain_text("queued=")
    with admin.step("the audit log: labels, and subjects linked to their pages"):
        admin.goto("/audit/?event_type=reconcile.finished")
        row = page.locator("tbody tr").first
        expect(row).to_contain_text("Reconcile finished")
        row.get_by_role("link", name=re.compile(r"reconcile run #\d+")).click()
        page.wait_for_url(re.compile(r".*/clusters/\d+/runs/\d+/$"))
    assert admin.console_errors == [], admin.console_errors
