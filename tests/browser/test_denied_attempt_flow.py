"""End to end on the demo data: the egress gateway refused two connections of team payments (one from
a service account egressui does not know yet); a developer finds them on the dashboard and the
denied-attempts page, turns one into a request with one click (the form arrives pre-filled with
that identity and host), and submits it."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from playwright.sync_api import expect

from policies.models import Cluster, WorkloadIdentity
from policies.selectors.monitoring import denied_attempts_summary
from policies.services.access_logs import access_log_ingest

pytestmark = pytest.mark.browser

KNOWN_HOST = "api.newpartner.example.com"
NEW_HOST = "scoring.fraudlabs.example.net"


@pytest.fixture
def blocked_traffic(demo_data):
    """Ingested before the browser starts (Playwright's event loop forbids the ORM afterwards)."""
    cluster = Cluster.objects.get(name="demo")
    # Newer than every demo line (the dashboard card lists the five newest blocked pairs, and the demo
    # clusters have blocked pairs of their own).
    moment = timezone.now()

    def line(account, host, **fields):
        return {
            "start_time": moment.isoformat(),
            "sni": host,
            "source_principal": f"spiffe://{cluster.trust_domain}/ns/payments/sa/{account}",
            "upstream_cluster": f"outbound|443||{host}",
            "response_flags": "-",
            "bytes_sent": 0,
            "bytes_received": 517,
            **fields,
        }

    denied = {"connection_termination_details": "rbac_access_denied_matched_policy[none]"}
    records = [line("checkout", KNOWN_HOST, **denied)] * 3 + [line("fraud-scorer", NEW_HOST, response_flags="NR")] * 2
    report = access_log_ingest(cluster=cluster, records=list(enumerate(records, start=1)))
    assert (report.accepted, report.rejected) == (5, 0)
    assert not WorkloadIdentity.objects.filter(service_account="fraud-scorer").exists()
    # The demo data has refused attempts of its own; the card counts them all.
    dev = get_user_model().objects.get(username="payments-dev")
    return demo_data, denied_attempts_summary(user=dev)["attempts"]


def test_denied_attempt_becomes_a_prefilled_request(blocked_traffic, session):
    password, attempts = blocked_traffic
    dev = session()
    dev.sign_in("payments-dev", password)
    page = dev.page
    with dev.step("the dashboard shows the blocked egress"):
        card = page.locator("section", has_text="Blocked egress in 7 days")
        expect(card).to_contain_text(KNOWN_HOST)
        expect(card.locator(".stat")).to_have_text(str(attempts))
        card.get_by_role("link", name="Review and request access").click()
        page.wait_for_url(re.compile(r".*/denied-attempts/$"))
    with dev.step("both pairs are listed with their counts"):
        table = page.locator("#denied-table")
        known = table.locator("tr", has_text=KNOWN_HOST)
        expect(known).to_contain_text("payments/checkout")
        expect(known).to_contain_text("Denied by policy")
        new = table.locator("tr", has_text=NEW_HOST)
        expect(new).to_contain_text("payments/fraud-scorer")
        expect(new).to_contain_text("service account not registered yet")
        expect(known.get_by_role("link", name="Request access")).to_have_attribute(
            "href", re.compile(rf"/requests/new/\?team=payments&identity=\d+&host={re.escape(KNOWN_HOST)}&port=443")
        )
    with dev.step("one click opens the request form pre-filled"):
        new.get_by_role("button", name="Request access").click()
        page.wait_for_url(re.compile(r".*/requests/new/\?.*"))
        expect(page.get_by_label("Host", exact=True)).to_have_value(NEW_HOST)
        expect(page.get_by_label("payments/fraud-scorer")).to_be_checked()
        expect(page.get_by_label("demo/payments/checkout", exact=True)).not_to_be_checked()
    with dev.step("the request is submitted"):
        page.get_by_label("Justification").fill("Fraud scoring for card payments.")
        page.get_by_role("button", name="Submit for approval").click()
        page.wait_for_url(re.compile(r".*/requests/\d+/$"))
        expect(page.locator("h1")).to_contain_text("Pending approval")
        expect(page.locator("body")).to_contain_text(NEW_HOST)
    assert dev.console_errors == [], dev.console_errors
