"""Pages of a Cilium cluster: the request form says what Cilium cannot enforce while typing (live
check) and in the preview, before anything is submitted; cluster and namespace pages describe
Cilium's enforcement, not the mesh's."""

import pytest
from django.urls import reverse

from policies.manifests.cilium import ORIGINATE_REASON
from policies.models import EgressRequest, Namespace
from tests.factories import fixture_save
from tests.policies.views.test_request_form import HTMX, form_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def cilium_world(world):
    world.cluster.enforcement_mode = "cilium"
    fixture_save(world.cluster)
    return world


@pytest.fixture
def dev(client, cilium_world):
    client.force_login(cilium_world.dev)
    return client


ORIGINATE = {"host": "legacy.example.com", "port": "443", "protocol": "http-originate"}


class CiliumRequestFormTests:
    def test_live_check_says_http_originate_is_not_rendered_on_the_cilium_cluster(self, dev, cilium_world):
        content = dev.post(reverse("request_check"), form_data(cilium_world, ORIGINATE), headers=HTMX).content.decode()
        assert f"Not rendered: http-originate on cluster {cilium_world.cluster.name}:" in content
        assert "Cilium cannot originate TLS" in content
        tls = dev.post(reverse("request_check"), form_data(cilium_world), headers=HTMX).content.decode()
        assert "Not rendered:" not in tls

    def test_an_istio_cluster_gets_no_such_notice(self, client, world):
        client.force_login(world.dev)
        content = client.post(reverse("request_check"), form_data(world, ORIGINATE), headers=HTMX).content.decode()
        assert "Not rendered:" not in content

    def test_preview_shows_the_cilium_policy_and_the_reason(self, dev, cilium_world):
        data = form_data(cilium_world, ORIGINATE, {"host": "api.adyen.com"}, action="preview")
        content = dev.post(reverse("request_create"), data, headers=HTMX).content.decode()
        assert "CiliumNetworkPolicy payments/egressui-egress" in content
        assert "matchName: api.adyen.com" in content
        assert "Not rendered for payments/checkout → legacy.example.com:443" in content
        assert ORIGINATE_REASON.split(":")[0] in content
        assert not EgressRequest.objects.exists()


class CiliumPagesTests:
    def test_cluster_and_namespace_pages_describe_cilium_enforcement(self, client, cilium_world):
        client.force_login(cilium_world.admin)
        cluster_page = client.get(reverse("cluster_detail", args=[cilium_world.cluster.pk])).content.decode()
        assert "Cilium toFQDNs (no mesh)" in cluster_page and "Cilium 1.19" in cluster_page
        assert "TLS origination verifies" not in cluster_page
        namespace_page = client.get(reverse("namespace_detail", args=[cilium_world.ns.pk])).content.decode()
        assert "CiliumNetworkPolicy denies other egress" in namespace_page and "REGISTRY_ONLY" not in namespace_page
        Namespace.objects.filter(pk=cilium_world.search_ns.pk).update(enforcement="observe")
        switch = client.get(reverse("namespace_enforcement", args=[cilium_world.search_ns.pk]) + "?to=enforce")
        content = switch.content.decode()
        assert switch.status_code == 200 and "enableDefaultDeny" in content and "REGISTRY_ONLY" not in content
