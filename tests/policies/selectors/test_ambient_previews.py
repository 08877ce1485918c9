"""Previews of an istio-ambient cluster: what a request adds (entry bound to the waypoint, its policy),
what an unrenderable wildcard says, and what enforcing a namespace renders."""

import pytest

from policies.selectors.manifests import cluster_settings, namespace_enforcement_preview, request_preview
from tests.factories import DestinationFactory, GrantFactory, RequestFactory, fixture_save
from tests.support.manifest_validation import default_validator

pytestmark = pytest.mark.django_db


@pytest.fixture
def ambient(world):
    world.cluster.enforcement_mode, world.cluster.istio_version = "istio-ambient", "1.28"
    fixture_save(world.cluster)
    return world


def _request(world, *destinations):
    request = RequestFactory(team=world.payments, requester=world.dev)
    request.identities.set([world.checkout])
    for host, port, protocol in destinations:
        DestinationFactory(request=request, host=host, port=port, protocol=protocol)
    return request


class AmbientPreviewTests:
    def test_settings_carry_the_mode_and_the_waypoint(self, ambient):
        settings = cluster_settings(ambient.cluster)
        assert (settings.mode, settings.waypoint_name, settings.istio_version) == (
            "istio-ambient",
            "egress-waypoint",
            "1.28",
        )

    def test_request_adds_the_entry_and_its_policy(self, ambient):
        GrantFactory(identity=ambient.indexer, host="api.stripe.com")
        request = _request(ambient, ("api.stripe.com", 443, "tls"), ("hooks.example.org", 443, "tls"))
        [preview] = request_preview(request, viewer=ambient.admin)
        added = {(change.kind, change.name) for change in preview.added}
        assert {("ServiceEntry", "hooks-example-org"), ("AuthorizationPolicy", "hooks-example-org")} <= added
        assert not {kind for kind, _ in added} & {"VirtualService", "Sidecar", "Gateway"}
        changed = {(change.kind, change.name): change for change in preview.changed}
        assert "- cluster.local/ns/payments/sa/checkout" in changed[("AuthorizationPolicy", "api-stripe-com")].diff
        default_validator().assert_valid([change.after for change in preview.added])

    def test_a_wildcard_tls_request_on_1_28_is_unrenderable_with_the_reason(self, ambient):
        request = _request(ambient, ("*.example.net", 443, "tls"))
        [preview] = request_preview(request, viewer=ambient.admin)
        [item] = preview.unrenderable
        assert "needs Istio 1.30" in item.reason and "Istio 1.28" in item.reason

    def test_enforcing_a_namespace_adds_its_network_policy(self, ambient):
        ambient.search_ns.enforcement = "observe"
        fixture_save(ambient.search_ns)
        preview = namespace_enforcement_preview(ambient.search_ns, "enforce", viewer=ambient.admin)
        [added] = preview.added
        assert (added.kind, added.namespace, added.name) == ("NetworkPolicy", "search", "egressui-egress")
        assert "15008" in added.yaml and "15012" not in added.yaml
