"""End to end on the demo data, a cluster without a mesh: a developer asks for access for a workload
of demo-cilium, learns while typing that Cilium cannot originate TLS, previews the CiliumNetworkPolicy
that a TLS destination changes."""

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

HOST = "api.fx-rates.example.com"


def test_cilium_request_says_what_it_cannot_enforce_and_previews_the_policy(session, demo_data):
    dev = session()
    dev.sign_in("payments-dev", demo_data)
    page = dev.page
    with dev.step("http-originate on a Cilium cluster is refused while typing"):
        dev.goto("/requests/new/")
        page.get_by_label("storefront/web").check()
        page.get_by_label("Host", exact=True).fill(HOST)
        page.get_by_label("Protocol").select_option("http-originate")
        flags = page.locator("#request-flags")
        expect(flags).to_contain_text("Not rendered: http-originate on cluster demo-cilium")
        expect(flags).to_contain_text("Cilium cannot originate TLS")
    with dev.step("tls clears the notice"):
        page.get_by_label("Protocol").select_option("tls")
        expect(page.locator("#dest-0-check")).to_contain_text(f"✓ {HOST}:443")
        expect(flags).not_to_contain_text("Not rendered")
        page.get_by_label("Justification").fill("Exchange rates for the storefront.")
    with dev.step("the preview shows the namespace's CiliumNetworkPolicy gaining the host"):
        page.get_by_role("button", name="Preview Kubernetes objects").click()
        changed = page.locator("#preview details", has_text="CiliumNetworkPolicy storefront/egressui-egress")
        expect(changed.first).to_contain_text(f"+    - matchName: {HOST}")
        expect(page.locator("#preview")).to_contain_text("Cluster demo-cilium: 0 to add, 1 to change")
    assert not dev.console_errors
