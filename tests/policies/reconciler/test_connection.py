"""The connection test: server version, served kinds and versions, and each permission by name."""

import pytest
from django.core.management import call_command

from policies.choices import ConnectionKind
from policies.reconciler.connection import connection_test
from policies.reconciler.resources import API_PERMISSIONS, api_permissions_for_mode
from tests.factories import fixture_save
from tests.policies.reconciler.conftest import point_at

pytestmark = pytest.mark.django_db


class KubernetesConnectionTests:
    def test_a_ready_cluster(self, api_cluster, kube):
        report = connection_test(api_cluster)
        assert report.ok and report.reachable and report.error == ""
        assert report.server_version == "v1.26.4+k3s1"
        assert [check.kind for check in report.kinds] == [
            "ServiceEntry",
            "DestinationRule",
            "Gateway",
            "AuthorizationPolicy",
            "VirtualService",
            "Sidecar",
            "NetworkPolicy",
            "Telemetry",
        ]
        assert all(check.served and check.group_versions == ["v1"] for check in report.kinds)
        istio = api_permissions_for_mode("istio")
        assert len(report.permissions) == len(istio) and all(c.allowed for c in report.permissions)
        assert len(istio) < len(API_PERMISSIONS)  # an Istio cluster needs no Cilium permissions
        reviews = [c for c in kube.calls if c.plural == "selfsubjectaccessreviews"]
        assert len(reviews) == len(istio)
        assert report.as_text().endswith("result: ready to reconcile")

    def test_a_cilium_cluster_needs_its_policy_kind_and_permissions_only(self, api_cluster, kube):
        api_cluster.enforcement_mode = "cilium"
        fixture_save(api_cluster)
        kube.denied = {("cilium.io", "ciliumnetworkpolicies", "patch")}
        report = connection_test(api_cluster)
        assert [(check.kind, check.api_version, check.served) for check in report.kinds] == [
            ("CiliumNetworkPolicy", "cilium.io/v2", True)
        ]
        assert {check.name for check in report.permissions} == {
            *(f"{verb} ciliumnetworkpolicies.cilium.io" for verb in ("get", "list", "create", "patch", "delete")),
            "list serviceaccounts",
            "create selfsubjectaccessreviews.authorization.k8s.io",
        }
        assert [check.name for check in report.missing_permissions] == ["patch ciliumnetworkpolicies.cilium.io"]

    def test_each_missing_permission_is_named(self, api_cluster, kube):
        kube.denied = {("networking.istio.io", "serviceentries", "patch"), ("", "serviceaccounts", "list")}
        report = connection_test(api_cluster)
        assert not report.ok
        assert [check.name for check in report.missing_permissions] == [
            "patch serviceentries.networking.istio.io",
            "list serviceaccounts",
        ]
        text = report.as_text()
        assert "MISSING patch serviceentries.networking.istio.io — not allowed" in text
        assert "ok      list serviceentries.networking.istio.io" in text
        assert "NOT ready to reconcile (2 problem(s) above)" in text
        assert report.as_dict()["missing_permissions"] == [
            "patch serviceentries.networking.istio.io",
            "list serviceaccounts",
        ]

    def test_missing_crds_and_versions(self, api_cluster, kube):
        for resource in [r for r in kube._kinds if r.plural in ("telemetries", "sidecars")]:
            del kube._kinds[resource]
            del kube.resources[resource]
        kube.serve_kind(group="telemetry.istio.io", version="v1alpha1", plural="telemetries", kind="Telemetry")
        report = connection_test(api_cluster)
        missing = {check.kind: check for check in report.missing_kinds}
        assert set(missing) == {"Sidecar", "Telemetry"}
        assert missing["Telemetry"].group_versions == ["v1alpha1"]
        assert missing["Telemetry"].detail == "version v1 is not served: upgrade the CRDs"
        assert missing["Sidecar"].detail == "sidecars is not among the resources of networking.istio.io/v1"
        assert "MISSING Telemetry (telemetry.istio.io/v1); group serves: v1alpha1" in report.as_text()

    def test_the_kinds_checked_are_the_modes(self, api_cluster, kube):
        """A sidecar cluster needs no Gateway API; an ambient one needs it, and no VirtualService."""
        for resource in [r for r in kube._kinds if r.group == "gateway.networking.k8s.io"]:
            del kube._kinds[resource]
            del kube.resources[resource]
        assert connection_test(api_cluster).ok
        api_cluster.enforcement_mode = "istio-ambient"
        fixture_save(api_cluster)
        report = connection_test(api_cluster)
        assert [check.kind for check in report.kinds] == [
            "Gateway",
            "ServiceEntry",
            "DestinationRule",
            "AuthorizationPolicy",
            "NetworkPolicy",
            "Telemetry",
        ]
        [missing] = report.missing_kinds
        assert (missing.api_version, missing.detail) == (
            "gateway.networking.k8s.io/v1",
            "API group gateway.networking.k8s.io is not served: install its CRDs",
        )
        # The mode's permissions are checked, the waypoint's among them.
        assert "list gateways.gateway.networking.k8s.io" in {check.name for check in report.permissions}

    def test_unreachable(self, world, fast_retries):
        point_at(world.cluster, "http://127.0.0.1:9")
        report = connection_test(world.cluster)
        assert not report.ok and not report.reachable
        assert report.error.startswith("Cannot reach the API server at http://127.0.0.1:9")

    def test_bad_kubeconfig_is_reported_not_raised(self, world, tmp_path):
        world.cluster.connection_kind = ConnectionKind.KUBECONFIG
        world.cluster.kubeconfig_path = str(tmp_path / "missing")
        fixture_save(world.cluster)
        report = connection_test(world.cluster)
        assert not report.ok and "Cannot read the kubeconfig file" in report.error

    def test_kubeconfig_file_and_context(self, world, kube, tmp_path):
        kubeconfig = tmp_path / "config"
        kubeconfig.write_text(
            f"""apiVersion: v1
kind: Config
clusters:
- name: emulated
  cluster: {{server: "{kube.url}"}}
- name: elsewhere
  cluster: {{server: "http://127.0.0.1:9"}}
users:
- name: robot
  user: {{token: "t0ken"}}
contexts:
- name: good
  context: {{cluster: emulated, user: robot}}
- name: bad
  context: {{cluster: elsewhere, user: robot}}
current-context: bad
"""
        )
        world.cluster.connection_kind = ConnectionKind.KUBECONFIG
        world.cluster.kubeconfig_path, world.cluster.kube_context = str(kubeconfig), "good"
        fixture_save(world.cluster)
        report = connection_test(world.cluster)
        assert report.ok and report.target == kube.url
        authorization = kube._requests[-1].headers.get("Authorization")
        assert authorization == "Bearer t0ken"

    def test_command_prints_the_report_and_fails_when_not_ready(self, api_cluster, kube, capsys):
        call_command("test_cluster", api_cluster.name)
        assert "result: ready to reconcile" in capsys.readouterr().out
        kube.denied = {("", "serviceaccounts", "list")}
        with pytest.raises(SystemExit) as exit_:
            call_command("test_cluster", api_cluster.name)
        assert exit_.value.code == 1
        assert "MISSING list serviceaccounts" in capsys.readouterr().out


class DirectoryConnectionTests:
    def test_directory_report(self, world, tmp_path):
        world.cluster.connection_kind, world.cluster.directory_path = ConnectionKind.DIRECTORY, str(tmp_path)
        fixture_save(world.cluster)
        report = connection_test(world.cluster)
        assert report.ok and report.target_kind == "directory"
        assert report.notes == [
            "0 file(s) managed by egressui for this cluster",
            "not a git work tree: files are written, nothing is committed",
        ]

    def test_a_directory_still_to_be_created(self, world, tmp_path):
        world.cluster.connection_kind = ConnectionKind.DIRECTORY
        world.cluster.directory_path = str(tmp_path / "x" / "y")
        fixture_save(world.cluster)
        report = connection_test(world.cluster)
        assert (
            report.ok
            and report.notes[0] == f"{tmp_path / 'x' / 'y'} does not exist yet: the first reconcile creates it"
        )

    def test_a_file_in_the_way(self, world, tmp_path):
        (tmp_path / "file").write_text("x")
        world.cluster.connection_kind = ConnectionKind.DIRECTORY
        world.cluster.directory_path = str(tmp_path / "file" / "y")
        fixture_save(world.cluster)
        report = connection_test(world.cluster)
        assert not report.ok and report.error == f"{tmp_path / 'file'} is not a directory."
