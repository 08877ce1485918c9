"""Clusters in enforcement mode `cilium` through the API: registered, switched, refused by field."""

import pytest

from policies.selectors.manifests import desired_objects_for_cluster
from tests.policies.api.conftest import API

pytestmark = pytest.mark.django_db


class ApiTests:
    def test_register_and_switch_a_cluster_to_cilium(self, clients, world):
        created = clients.admin.post(
            f"{API}/clusters/",
            {"name": "edge", "enforcement_mode": "cilium", "connection_kind": "in-cluster", "cilium_version": "1.17"},
            format="json",
        )
        assert created.status_code == 201, created.content
        assert (created.json()["enforcement_mode"], created.json()["cilium_version"]) == ("cilium", "1.17")
        url = f"{API}/clusters/{world.cluster.pk}/"
        switched = clients.admin.patch(url, {"enforcement_mode": "cilium"}, format="json")
        assert switched.status_code == 200 and switched.json()["enforcement_mode"] == "cilium"
        world.cluster.refresh_from_db()
        assert {obj["kind"] for obj in desired_objects_for_cluster(world.cluster)} == {"CiliumNetworkPolicy"}

    def test_an_unknown_mode_is_a_field_error(self, clients, world):
        response = clients.admin.patch(
            f"{API}/clusters/{world.cluster.pk}/", {"enforcement_mode": "calico"}, format="json"
        )
        assert response.status_code == 400 and "enforcement_mode" in response.content.decode()
