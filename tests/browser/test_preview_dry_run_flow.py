"""An approver sees the cluster's verdict before approving: the demo cluster, pointed at an API server
(the emulator) whose CRDs carry a CEL rule the request's ServiceEntry breaks, makes the inbox preview
say "the cluster would reject this" next to the refused object; the request detail of an accepted
request says the API server accepts it."""

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from policies.models import Cluster, WorkloadIdentity
from policies.services.requests import DestinationInput, RequestInput, egress_request_create
from tests.policies.reconciler.conftest import fast_retries, kube, point_at  # noqa: F401
from tests.support.kube import strict_validator
from tests.support.manifest_validation import with_extra_rule

pytestmark = pytest.mark.browser

REFUSED_HOST = "api.refused-by-cluster.example.com"
ACCEPTED_HOST = "api.accepted-by-cluster.example.com"


@pytest.fixture
def requests_for_review(demo_data, kube):  # noqa: F811
    """Before Playwright starts (it makes Django refuse ORM calls from this thread afterwards)."""
    rule = f"self.hosts.all(h, h != '{REFUSED_HOST}')"
    stricter = with_extra_rule("networking.istio.io/v1", "ServiceEntry", rule, "refused by this cluster's policy")
    kube.validator = strict_validator(stricter)
    for name in ("istio-egress", "istio-system", "payments", "search", "ledger", "reports"):
        kube.add_namespace(name)
    point_at(Cluster.objects.get(name="demo"), kube.url)
    dev = get_user_model().objects.get(username="payments-dev")
    identity = WorkloadIdentity.objects.get(
        namespace__cluster__name="demo", namespace__name="payments", service_account="checkout"
    )
    created = {}
    for host in (REFUSED_HOST, ACCEPTED_HOST):
        data = RequestInput(
            team=identity.namespace.team,
            identities=[identity],
            destinations=[DestinationInput(host=host, port=443)],
            justification="Checking the cluster's verdict.",
        )
        created[host] = egress_request_create(requester=dev, data=data, submit=True).pk
    return created


def test_the_approver_sees_the_clusters_verdict(requests_for_review, kube, demo_data, session):  # noqa: F811
    lead = session()
    lead.sign_in("payments-lead", demo_data)
    page = lead.page
    refused = requests_for_review[REFUSED_HOST]
    with lead.step("the inbox preview says the cluster would reject it"):
        lead.goto("/approvals/")
        row = page.locator(f"#inbox-row-{refused}")
        row.locator("details.more summary").first.click()
        verdict = row.locator("[data-server-check]")
        expect(verdict).to_have_attribute("data-server-check", "rejected")
        expect(verdict).to_contain_text("the cluster would reject this")
        refusal = row.locator("details", has_text="ServiceEntry istio-egress/").locator(".refused")
        expect(refusal.first).to_contain_text("The API server would refuse it: HTTP 422 Invalid")
        expect(row).not_to_contain_text("refused by this cluster's policy")  # never the server's text
    with lead.step("an acceptable request is accepted"):
        lead.goto(f"/requests/{requests_for_review[ACCEPTED_HOST]}/preview/")
        expect(page.locator("[data-server-check]")).to_have_attribute("data-server-check", "accepted")
        expect(page.locator("[data-server-check]")).to_contain_text("The API server accepts all")
    assert kube.writes() == []  # dry runs only
    assert not lead.console_errors
