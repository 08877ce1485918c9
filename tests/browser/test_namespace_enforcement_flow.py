"""End to end on the demo data: the sidecars of the observed namespace `reports` post their catch-all
lines to the ingestion endpoint (over HTTP, with the cluster's ingest token, as a log shipper does);
a team member reviews what enforcing would block and turns two destinations into one pre-filled
request; a platform admin enforces the namespace after seeing that list and the object diff; a
refused attempt then shows as blocked at the source; going back to observe needs a reason."""

import json
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from policies.models import Cluster, Namespace
from policies.services.ingest_tokens import cluster_ingest_token_rotate
from tests.policies.accesslog.support import source_line

pytestmark = pytest.mark.browser

NEW_HOST = "api.newvendor.example.com"


@pytest.fixture
def feed(demo_data):
    """The cluster's ingest token and the ids the test needs, read before the browser starts
    (Playwright's event loop forbids the ORM afterwards)."""
    cluster = Cluster.objects.get(name="demo")
    token = cluster_ingest_token_rotate(cluster=cluster, actor=None)
    reports = Namespace.objects.get(cluster=cluster, name="reports")
    assert reports.enforcement == "observe"
    return {"password": demo_data, "token": token, "cluster": cluster.pk, "reports": reports.pk}


def post_log(page, base_url: str, feed: dict, *lines: dict) -> dict:
    """POST lines to the ingestion endpoint as a log shipper would (JSON lines, ingest token)."""
    response = page.request.post(
        f"{base_url}/api/v1/clusters/{feed['cluster']}/access-logs/",
        data="\n".join(json.dumps(line) for line in lines),
        headers={"Authorization": f"Bearer {feed['token']}", "Content-Type": "application/x-ndjson"},
    )
    assert response.status == 200, response.text()
    return response.json()


def test_observe_review_request_enforce_and_back(feed, session, live_server):
    now = timezone.now()
    reports_url = f"/namespaces/{feed['reports']}/"

    dev = session()
    dev.sign_in("search-dev", feed["password"])
    page = dev.page
    with dev.step("the observed namespace's sidecars post their catch-all lines"):
        lines = [source_line("reports", "exporter", sni=NEW_HOST, original="198.51.100.77:443", at=now)] * 3
        lines.append({"start_time": now.isoformat(), "source_namespace": "reports"})  # no principal: still fine
        assert post_log(page, live_server.url, feed, *lines) == {"accepted": 4, "rejected": 0, "errors": []}
    with dev.step("the overview shows reports observed, with traffic enforcing would block"):
        dev.goto("/namespaces/")
        row = page.locator("tr", has_text="reports")
        expect(row).to_contain_text("Observe")
        expect(row).to_contain_text("would be blocked")
        expect(page.locator("tr", has_text="ledger")).to_have_count(0)  # payments' namespace: not search's
        row.get_by_role("link", name="reports").click()
        page.wait_for_url(re.compile(r".*/namespaces/\d+/\?days=\d+$"))
    with dev.step("the readiness page lists what enforcing would block, per identity"):
        expect(page.locator("h2#h-destinations")).to_have_text("What enforcing now would block")
        table = page.locator("#observed-table")
        new = table.locator("tr", has_text=NEW_HOST)
        expect(new).to_contain_text("exporter 3×")
        expect(new).to_contain_text("seen by SNI")
        tcp = table.locator("tr", has_text="203.0.113.40")
        expect(tcp).to_contain_text("not registered yet")
        expect(page.locator(".switch-denial")).to_contain_text("Only approvers of team search or platform admins")
    with dev.step("two destinations become one pre-filled request"):
        new.get_by_role("checkbox").check()
        tcp.get_by_role("checkbox").check()
        page.get_by_role("button", name="Request all selected").click()
        page.wait_for_url(re.compile(r".*/requests/new/\?.*"))
        hosts = page.get_by_label("Host", exact=True)
        expect(hosts).to_have_count(2)
        expect(hosts.nth(0)).to_have_value(re.compile(rf"^({re.escape(NEW_HOST)}|203\.0\.113\.40)$"))
        values = {hosts.nth(0).input_value(), hosts.nth(1).input_value()}
        assert values == {NEW_HOST, "203.0.113.40"}
        expect(page.get_by_label("reports/exporter")).to_be_checked()
        expect(page.get_by_label("reports/scheduler")).to_be_checked()  # registered on the way
    assert dev.console_errors == [], dev.console_errors

    admin = session()
    admin.sign_in("admin", feed["password"])
    page = admin.page
    with admin.step("enforcing shows what would be blocked and the objects, then asks to confirm"):
        admin.goto(reports_url)
        page.get_by_role("link", name="Enforce…").click()
        page.wait_for_url(re.compile(r".*/enforcement/\?to=enforce.*"))
        expect(page.locator("h1")).to_contain_text("Enforce namespace demo/reports?")
        expect(page.locator("#would-block-table")).to_contain_text(NEW_HOST)
        expect(page.locator(".preview")).to_contain_text("NetworkPolicy reports/egressui-egress")
        page.get_by_role("button", name="Enforce reports now").click()
        page.wait_for_url(re.compile(rf".*{reports_url}$"))
        expect(page.locator("#messages")).to_contain_text("is enforced: only granted hosts leave it")
        expect(page.locator("h1 .badge")).to_have_text("Enforce")
        expect(page.locator(".timeline")).to_contain_text("enforce by admin")
    with admin.step("an attempt refused in the pod shows as blocked at the source, and under denied attempts"):
        refused = source_line("reports", "exporter", sni=NEW_HOST, catch_all="BlackHoleCluster", at=timezone.now())
        assert post_log(page, live_server.url, feed, refused)["accepted"] == 1
        page.reload()
        expect(page.locator("h2#h-destinations")).to_have_text("Blocked at the source")
        expect(page.locator("#observed-table tr", has_text=NEW_HOST)).to_contain_text("Blocked at source")
        admin.goto("/denied-attempts/?team=search")
        attempt = page.locator("#denied-table tr", has_text=NEW_HOST)
        expect(attempt).to_contain_text("reports/exporter")
        expect(attempt).to_contain_text("Blocked at source")
    with admin.step("going back to observe needs a reason"):
        admin.goto(reports_url)
        page.get_by_role("link", name="Back to observe…").click()
        page.get_by_role("button", name="Observe reports again").click()
        expect(page.locator(".errorlist")).to_contain_text("Give a reason")
        page.get_by_label("Reason").fill("The vendor SDK is being replaced; watch it for a week.")
        page.get_by_role("button", name="Observe reports again").click()
        page.wait_for_url(re.compile(rf".*{reports_url}$"))
        expect(page.locator("h1 .badge")).to_have_text("Observe")
        expect(page.locator(".timeline")).to_contain_text("The vendor SDK is being replaced")
    # The refused form came back as a 400 (as it should), which Chromium reports; nothing else failed.
    assert admin.console_errors == ["Failed to load resource: the server responded with a status of 400 (Bad Request)"]
