"""Pages that follow background work without a reload (issue 16, item 8), on the demo data: a queued
reconcile run turns into its result when a worker finishes it, a revoked grant goes from "Being
removed" to "Removed from the cluster", and an inline approval updates the inbox's own count.

The worker is played by a thread running the reconcile task's body (the browser's event loop forbids
the ORM in the test's own thread)."""

import re
import threading

import pytest
from django.db import connections
from playwright.sync_api import expect

from policies.models import Cluster, Grant

pytestmark = pytest.mark.browser


@pytest.fixture
def demo_ids(demo_data, tmp_path):
    """Ids the test needs, read before the browser starts; the demo cluster writes into tmp_path."""
    Cluster.objects.filter(name="demo").update(directory_path=str(tmp_path))
    cluster = Cluster.objects.get(name="demo")
    grant = Grant.objects.filter(status="active", cluster=cluster, identity__service_account="refunds").get()
    return {"cluster": cluster.pk, "grant": grant.pk, "password": demo_data}


def work(cluster_id: int, **kwargs) -> None:
    """What a worker does with the queued message, in another thread, now."""

    def body():
        from policies.reconciler.loop import reconcile_cluster_for_task

        try:
            reconcile_cluster_for_task(cluster_id, **kwargs)
        finally:
            connections.close_all()

    thread = threading.Thread(target=body)
    thread.start()
    thread.join(timeout=60)


def test_pages_follow_background_work(demo_ids, session):
    admin = session()
    admin.sign_in("admin", demo_ids["password"])
    page = admin.page
    with admin.step("a queued run says it waits, then shows its result without a reload"):
        admin.goto(f"/clusters/{demo_ids['cluster']}/")
        page.get_by_role("button", name="Reconcile now").click()
        page.wait_for_url(re.compile(r".*/runs/\d+/$"))
        run_id = int(page.url.rstrip("/").split("/")[-1])
        expect(page.locator("#run-live")).to_contain_text("Waiting for a worker to pick this run up")
        expect(page.get_by_text("No object was created")).to_have_count(0)
        page.evaluate("window.__same_page = true")
        work(demo_ids["cluster"], trigger="manual", run_id=run_id)
        expect(page.locator("h1")).to_contain_text("Succeeded", timeout=15_000)
        expect(page.locator("#run-live")).not_to_contain_text("Waiting for a worker")
        assert page.evaluate("window.__same_page === true"), "the page was reloaded instead of updated"
        correlation = page.locator("dt", has_text="Correlation id").locator("xpath=following-sibling::dd[1]")
        expect(correlation).to_have_text(re.compile(r"[0-9a-f]{32}"))

    lead = session()
    lead.sign_in("payments-lead", demo_ids["password"])
    grant_page = f"/grants/{demo_ids['grant']}/"
    with lead.step("a revoked grant reads 'Being removed' until the reconcile removed it"):
        lead.goto(f"/grants/{demo_ids['grant']}/revoke/")
        lead.page.get_by_label("Reason").fill("Refunds move to the new provider.")
        lead.page.get_by_role("button", name=re.compile("Revoke grant")).click()
        lead.page.wait_for_url(re.compile(re.escape(grant_page) + "$"))
        state = lead.page.locator("#grant-cluster-state")
        expect(state).to_contain_text("Being removed")
        expect(state).not_to_contain_text("Applied")
        expect(lead.page.locator("#messages")).to_contain_text("is being reconciled to remove the access")
        work(demo_ids["cluster"], trigger="change")
        expect(state).to_contain_text("Removed from the cluster", timeout=15_000)

    with lead.step("an inline approval updates the inbox's own count"):
        lead.goto("/approvals/")
        rows = lead.page.locator("tbody tr")
        expect(lead.page.locator("#inbox-range")).to_contain_text(f"of {rows.count()}")
        waiting = rows.count()
        rows.first.get_by_role("button", name="Approve").click()
        expect(lead.page.locator("tr.decided")).to_have_count(1)
        expect(lead.page.locator("#inbox-range")).to_contain_text(
            f"{waiting - 1} still waiting for you" if waiting > 1 else "Nothing else waits for you"
        )
