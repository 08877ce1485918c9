"""The renderer's inputs from the database, and request previews."""

from dataclasses import fields
from datetime import timedelta
from typing import get_type_hints

import pytest
from django.utils import timezone

from policies.choices import GrantStatus, RequestStatus
from policies.constants import ANNOTATION_GRANTS
from policies.manifests import ClusterSettings
from policies.models import Cluster
from policies.selectors.manifests import (
    cluster_render,
    cluster_settings,
    desired_objects_for_cluster,
    request_input_preview,
    request_preview,
)
from policies.services.requests import DestinationInput
from tests.factories import (
    DestinationFactory,
    GrantFactory,
    IdentityFactory,
    NamespaceFactory,
    RequestFactory,
    fixture_save,
)
from tests.support.manifest_validation import default_validator

pytestmark = pytest.mark.django_db


def _added_lines(diff: str) -> list[str]:
    return [
        line[1:].strip()
        for line in diff.splitlines()
        if line.startswith("+") and not line.startswith("+++") and "content-hash" not in line
    ]


def _names(objects, kind):
    return sorted(o["metadata"]["name"] for o in objects if o["kind"] == kind)


class DesiredObjectsTests:
    def test_renders_active_grants_only(self, world):
        live = GrantFactory(identity=world.checkout, host="api.stripe.com")
        GrantFactory(identity=world.refunds, host="revoked.example.com", status=GrantStatus.REVOKED)
        GrantFactory(identity=world.refunds, host="expired.example.com", status=GrantStatus.EXPIRED)
        past = timezone.now() - timedelta(days=40)
        GrantFactory(
            identity=world.refunds, host="ended.example.com", valid_from=past, expires_at=past + timedelta(days=1)
        )
        future = timezone.now() + timedelta(days=1)
        GrantFactory(identity=world.refunds, host="later.example.com", valid_from=future)
        objects = desired_objects_for_cluster(world.cluster)
        assert _names(objects, "ServiceEntry") == ["api-stripe-com"]
        [vs] = [o for o in objects if o["kind"] == "VirtualService"]
        assert vs["metadata"]["annotations"][ANNOTATION_GRANTS] == str(live.pk)
        default_validator().assert_valid(objects)

    def test_cluster_settings_come_from_the_model(self, world):
        cluster = world.cluster
        cluster.gateway_pod_https_port = 8443
        cluster.trust_domain = "corp.example"
        cluster.wildcard_serving_hosts = {"*.wikipedia.org": "www.wikipedia.org"}
        cluster.access_log_provider = ""
        cluster.source_access_log_provider = ""
        cluster.in_cluster_egress = "restrict"
        cluster.origination_credential_name = "egress-ca"
        fixture_save(cluster)
        settings = cluster_settings(cluster)
        assert settings.name == cluster.name and settings.gateway_pod_https_port == 8443
        assert settings.gateway_selector == (("istio", "egressgateway"),)
        assert settings.wildcard_serving_hosts == (("*.wikipedia.org", "www.wikipedia.org"),)
        assert (settings.in_cluster_egress, settings.origination_credential_name) == ("restrict", "egress-ca")
        GrantFactory(identity=world.indexer, host="*.wikipedia.org")
        objects = desired_objects_for_cluster(cluster)
        assert "www-wikipedia-org" in _names(objects, "ServiceEntry")
        assert not [o for o in objects if o["kind"] == "Telemetry"]
        [policy] = [o for o in objects if o["kind"] == "AuthorizationPolicy"]
        assert policy["spec"]["rules"][0]["from"][0]["source"]["principals"] == ["corp.example/ns/search/sa/indexer"]
        assert policy["spec"]["rules"][0]["to"][0]["operation"]["ports"] == ["8443"]

    def test_unrenderable_grants_are_reported(self, world):
        grant = GrantFactory(identity=world.checkout, host="*.example.org")
        result = cluster_render(world.cluster)
        [item] = result.unrenderable
        assert (item.grant_id, item.namespace, item.service_account) == (grant.pk, "payments", "checkout")

    def test_query_count_does_not_grow_with_grants(self, world, django_assert_max_num_queries):
        for index in range(30):
            GrantFactory(identity=world.checkout if index % 2 else world.indexer, host=f"h{index}.example.com")
        with django_assert_max_num_queries(2):  # the grants in force, the namespaces and their states
            objects = desired_objects_for_cluster(world.cluster)
        assert len(_names(objects, "VirtualService")) == 30


class RequestPreviewTests:
    def _request(self, world, *destinations, identities=None):
        request = RequestFactory(team=world.payments, status=RequestStatus.SUBMITTED)
        request.identities.set(identities or [world.checkout])
        for host, port, protocol in destinations:
            DestinationFactory(request=request, host=host, port=port, protocol=protocol)
        return request

    def test_new_host_is_added_and_the_namespace_imports_it(self, world):
        request = self._request(world, ("api.stripe.com", 443, "tls"))
        [preview] = request_preview(request, viewer=world.admin)
        assert preview.cluster_name == world.cluster.name
        added = {(c.kind, c.name) for c in preview.added}
        assert ("VirtualService", "api-stripe-com") in added
        # The enforced namespace has its Sidecar already (fail-closed without grants); it now imports the host.
        [sidecar] = [c for c in preview.changed if c.kind == "Sidecar"]
        assert "- istio-egress/api.stripe.com" in _added_lines(sidecar.diff)
        assert not preview.removed and not preview.unrenderable
        [policy] = [c for c in preview.changed if c.name == "egressui-gateway-ingress"]  # gateway admits payments now
        assert "- payments" in _added_lines(policy.diff)
        vs = next(c for c in preview.added if c.kind == "VirtualService")
        assert vs.after["metadata"]["annotations"][ANNOTATION_GRANTS] == f"request-{request.pk}"
        assert vs.action == "add" and vs.diff.startswith("--- ") and "kind: VirtualService" in vs.yaml

    def test_existing_host_is_changed_with_a_diff(self, world):
        GrantFactory(identity=world.indexer, host="api.stripe.com")
        request = self._request(world, ("api.stripe.com", 443, "tls"))
        [preview] = request_preview(request, viewer=world.admin)
        changed = {(c.kind, c.name): c for c in preview.changed}
        policy = changed[("AuthorizationPolicy", "api-stripe-com")]
        assert "- cluster.local/ns/payments/sa/checkout" in _added_lines(policy.diff)
        assert policy.before is not None and policy.after is not None and policy.action == "change"
        assert ("ServiceEntry", "api-stripe-com") in changed  # exportTo gains payments
        assert ("VirtualService", "api-stripe-com") in changed
        assert not [c for c in preview.added if c.namespace == "istio-egress"]  # the host's objects exist already

    def test_renewal_replaces_the_grant_it_supersedes(self, world):
        old = GrantFactory(identity=world.checkout, host="api.stripe.com")
        request = self._request(world, ("api.stripe.com", 443, "tls"))
        [preview] = request_preview(request, viewer=world.admin)
        # Only the grants an object serves change: no effective change, nothing counted as changed.
        assert not preview.added and not preview.removed and not preview.changed and not preview.has_changes
        assert {c.kind for c in preview.annotation_only} >= {"VirtualService", "AuthorizationPolicy"}
        vs = next(c for c in preview.annotation_only if c.kind == "VirtualService")
        assert vs.before["metadata"]["annotations"][ANNOTATION_GRANTS] == str(old.pk)
        assert vs.after["metadata"]["annotations"][ANNOTATION_GRANTS] == f"request-{request.pk}"
        assert vs.before["spec"] == vs.after["spec"]

    def test_unrenderable_destination_is_shown(self, world):
        request = self._request(world, ("*.example.org", 443, "tls"))
        [preview] = request_preview(request, viewer=world.admin)
        [item] = preview.unrenderable
        assert item.grant == f"request-{request.pk}" and item.host == "*.example.org"

    def test_one_preview_per_cluster(self, world):
        other = NamespaceFactory(name="payments", team=world.payments)  # same name, another cluster
        remote = IdentityFactory(namespace=other, service_account="checkout")
        request = self._request(world, ("api.stripe.com", 443, "tls"), identities=[world.checkout, remote])
        previews = request_preview(request, viewer=world.admin)
        assert sorted(p.cluster_name for p in previews) == sorted([world.cluster.name, other.cluster.name])
        assert all(p.has_changes for p in previews)

    def test_unsaved_input(self, world):
        data = world.request_input(
            destinations=[
                DestinationInput(host="API.Stripe.com.", port="443"),
                DestinationInput(host="*", port=443),
            ]
        )
        [preview] = request_input_preview(data, viewer=world.admin)
        assert ("ServiceEntry", "api-stripe-com") in {(c.kind, c.name) for c in preview.added}
        [problem] = preview.unrenderable
        assert problem.host == "*" and problem.grant == "new"


# The one setting the Cluster model names otherwise.
_CLUSTER_COLUMN = {"mode": "enforcement_mode"}


def _setting_and_column_value(name: str, hint: object, default: object) -> tuple[object, object]:
    """A value unlike the default for one ClusterSettings field: (as the setting, as the Cluster column)."""
    if name == "mode":
        return "cilium", "cilium"
    if hint is bool:
        return not default, not default
    if hint is int:
        return default + 1, default + 1
    if hint is str:
        return f"{default}-set", f"{default}-set"
    if hint == tuple[tuple[str, str], ...]:
        return (("key", "value"),), {"key": "value"}
    if hint == tuple[str, ...]:
        return ("10.0.0.0/8",), ["10.0.0.0/8"]
    raise AssertionError(f"ClusterSettings.{name}: teach this test a value of type {hint}")


def test_every_cluster_setting_is_filled_from_the_cluster():
    """A setting added to ClusterSettings but not copied in `cluster_settings` would render with its
    default for every cluster, silently: each one must come from its Cluster column."""
    defaults = ClusterSettings(name="prod")
    hints = get_type_hints(ClusterSettings)
    cluster, expected = Cluster(name="prod"), {}
    for setting in fields(ClusterSettings):
        if setting.name == "name":
            continue
        column = Cluster._meta.get_field(_CLUSTER_COLUMN.get(setting.name, setting.name)).name
        expected[setting.name], value = _setting_and_column_value(
            setting.name, hints[setting.name], getattr(defaults, setting.name)
        )
        assert expected[setting.name] != getattr(defaults, setting.name), setting.name
        setattr(cluster, column, value)
    rendered = cluster_settings(cluster)
    assert {name: getattr(rendered, name) for name in expected} == expected
