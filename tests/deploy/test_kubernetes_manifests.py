"""deploy/kubernetes, rendered with the kustomize subset and checked object by object."""

import copy

import kubernetes_validate
import pytest

from tests.deploy.kustomize import split_image
from tests.deploy.manifests import (
    KUBERNETES_VERSION,
    containers,
    find,
    main_container,
    pod_spec,
    rendered,
    secret_template,
    workloads,
)

TARGETS = ["base", "production"]
BASE_KINDS = {
    ("Namespace", "egressui"),
    ("ServiceAccount", "egressui"),
    ("ClusterRole", "egressui-reconciler"),
    ("ClusterRoleBinding", "egressui-reconciler"),
    ("ConfigMap", "egressui-config"),
    ("Deployment", "egressui-web"),
    ("Deployment", "egressui-worker"),
    ("Deployment", "egressui-beat"),
    ("Job", "egressui-migrate"),
    ("Service", "egressui-web"),
    ("PodDisruptionBudget", "egressui-web"),
    ("NetworkPolicy", "egressui"),
    ("NetworkPolicy", "egressui-web"),
}


def _selects(selector: dict, labels: dict) -> bool:
    assert set(selector) <= {"matchLabels"}, "only matchLabels selectors are used"
    return all(labels.get(key) == value for key, value in selector.get("matchLabels", {}).items())


class ValidationTests:
    @pytest.mark.parametrize("target", TARGETS)
    def test_every_object_is_valid_against_the_strict_kubernetes_schema(self, target):
        for obj in rendered(target):
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)

    def test_the_secret_template_is_valid(self):
        kubernetes_validate.validate(secret_template(), KUBERNETES_VERSION, strict=True)

    def test_strict_validation_rejects_an_unknown_field(self):
        web = copy.deepcopy(find(rendered("base"), "Deployment", "egressui-web"))
        main_container(web)["readinessProbe"]["httpGet"]["hots"] = "typo"
        with pytest.raises(kubernetes_validate.ValidationError):
            kubernetes_validate.validate(web, KUBERNETES_VERSION, strict=True)

    def test_base_has_the_objects_of_the_issue_and_the_overlay_adds_the_ingress(self):
        base = {(obj["kind"], obj["metadata"]["name"]) for obj in rendered("base")}
        production = {(obj["kind"], obj["metadata"]["name"]) for obj in rendered("production")}
        assert base == BASE_KINDS
        assert production == BASE_KINDS | {("Ingress", "egressui")}

    @pytest.mark.parametrize("target", TARGETS)
    def test_namespaced_objects_are_in_the_egressui_namespace_and_labelled(self, target):
        for obj in rendered(target):
            assert obj["metadata"]["labels"]["app.kubernetes.io/part-of"] == "egressui"
            if obj["kind"] not in {"Namespace", "ClusterRole", "ClusterRoleBinding"}:
                assert obj["metadata"]["namespace"] == "egressui", obj["metadata"]["name"]


class PodHardeningTests:
    @pytest.mark.parametrize("target", TARGETS)
    def test_every_pod_runs_non_root_with_the_runtime_seccomp_profile(self, target):
        for workload in workloads(rendered(target)):
            context = pod_spec(workload)["securityContext"]
            assert context["runAsNonRoot"] is True
            assert context["runAsUser"] != 0
            assert context["seccompProfile"] == {"type": "RuntimeDefault"}

    @pytest.mark.parametrize("target", TARGETS)
    def test_every_container_is_read_only_without_capabilities_and_bounded(self, target):
        for workload in workloads(rendered(target)):
            volumes = {volume["name"]: volume for volume in pod_spec(workload)["volumes"]}
            for container in containers(workload):
                where = f"{workload['metadata']['name']}/{container['name']}"
                context = container["securityContext"]
                assert context["readOnlyRootFilesystem"] is True, where
                assert context["allowPrivilegeEscalation"] is False, where
                assert context["capabilities"] == {"drop": ["ALL"]}, where
                for kind in ("requests", "limits"):
                    assert set(container["resources"][kind]) == {"cpu", "memory"}, where
                # The only writable place is an emptyDir on /tmp (EGRESSUI_VAR_DIR in the image).
                (mount,) = container["volumeMounts"]
                assert mount["mountPath"] == "/tmp", where
                assert "emptyDir" in volumes[mount["name"]], where

    def test_the_namespace_enforces_the_restricted_pod_security_standard(self):
        namespace = find(rendered("base"), "Namespace", "egressui")
        assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"

    def test_only_web_and_worker_get_a_kubernetes_api_token(self):
        objects = rendered("base")
        for name in ("egressui-web", "egressui-worker"):
            spec = pod_spec(find(objects, "Deployment", name))
            assert spec["serviceAccountName"] == "egressui"
            assert spec.get("automountServiceAccountToken", True) is True
        assert pod_spec(find(objects, "Deployment", "egressui-beat"))["automountServiceAccountToken"] is False
        assert pod_spec(find(objects, "Job", "egressui-migrate"))["automountServiceAccountToken"] is False


class ProbeTests:
    def test_web_is_live_on_healthz_and_ready_on_readyz_with_an_allowed_host(self):
        objects = rendered("production")
        allowed_hosts = find(objects, "ConfigMap", "egressui-config")["data"]["DJANGO_ALLOWED_HOSTS"].split(",")
        web = main_container(find(objects, "Deployment", "egressui-web"))
        port_names = {port["name"] for port in web["ports"]}
        for probe, path in (("startupProbe", "/healthz"), ("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
            http_get = web[probe]["httpGet"]
            assert http_get["path"] == path
            assert http_get["port"] in port_names
            # The kubelet would otherwise send the pod IP as Host, which Django rejects (400).
            (header,) = http_get["httpHeaders"]
            assert header["name"] == "Host" and header["value"] in allowed_hosts

    def test_worker_and_beat_have_exec_liveness_probes(self):
        objects = rendered("base")
        worker = main_container(find(objects, "Deployment", "egressui-worker"))
        beat = main_container(find(objects, "Deployment", "egressui-beat"))
        assert "inspect ping --destination celery@$HOSTNAME" in worker["livenessProbe"]["exec"]["command"][-1]
        assert "celerybeat-schedule" in beat["livenessProbe"]["exec"]["command"][-1]

    def test_beat_never_runs_twice(self):
        beat = find(rendered("production"), "Deployment", "egressui-beat")
        assert beat["spec"]["replicas"] == 1
        assert beat["spec"]["strategy"] == {"type": "Recreate"}

    def test_web_and_worker_wait_for_migrations(self):
        objects = rendered("base")
        for name in ("egressui-web", "egressui-worker"):
            (init,) = pod_spec(find(objects, "Deployment", name))["initContainers"]
            assert "python manage.py migrate --check" in init["command"][-1]


class WiringTests:
    @pytest.mark.parametrize("target", TARGETS)
    def test_pods_read_the_config_map_and_the_secret_of_the_template(self, target):
        objects = rendered(target)
        config_maps = {obj["metadata"]["name"] for obj in objects if obj["kind"] == "ConfigMap"}
        secret_name = secret_template()["metadata"]["name"]
        for workload in workloads(objects):
            for container in containers(workload):
                sources = container["envFrom"]
                assert {s["configMapRef"]["name"] for s in sources if "configMapRef" in s} <= config_maps
                assert {s["secretRef"]["name"] for s in sources if "secretRef" in s} == {secret_name}

    def test_secret_template_holds_every_secret_and_nothing_else_does(self):
        secrets = set(secret_template()["stringData"])
        assert {"DJANGO_SECRET_KEY", "EGRESSUI_ENCRYPTION_KEY", "DATABASE_URL", "REDIS_URL"} <= secrets
        assert not set(secret_template()["stringData"].values()) - {""}, "the template carries no values"
        config = find(rendered("production"), "ConfigMap", "egressui-config")["data"]
        assert not secrets & set(config)

    @pytest.mark.parametrize("target", TARGETS)
    def test_service_and_disruption_budget_select_exactly_the_web_pods(self, target):
        objects = rendered(target)
        web = find(objects, "Deployment", "egressui-web")
        pod_labels = web["spec"]["template"]["metadata"]["labels"]
        service = find(objects, "Service", "egressui-web")
        pdb = find(objects, "PodDisruptionBudget", "egressui-web")
        assert _selects({"matchLabels": service["spec"]["selector"]}, pod_labels)
        assert _selects(pdb["spec"]["selector"], pod_labels)
        assert pdb["spec"]["minAvailable"] < web["spec"]["replicas"]
        for other in workloads(objects):
            if other is not web:
                other_labels = other["spec"]["template"]["metadata"]["labels"]
                assert not _selects({"matchLabels": service["spec"]["selector"]}, other_labels)
        port_names = {port["name"] for port in main_container(web)["ports"]}
        assert {port["targetPort"] for port in service["spec"]["ports"]} <= port_names

    def test_ingress_routes_to_the_web_service(self):
        objects = rendered("production")
        service = find(objects, "Service", "egressui-web")
        config = find(objects, "ConfigMap", "egressui-config")["data"]
        ingress = find(objects, "Ingress", "egressui")
        (rule,) = ingress["spec"]["rules"]
        assert rule["host"] in config["DJANGO_ALLOWED_HOSTS"].split(",")
        assert config["EGRESSUI_BASE_URL"] == f"https://{rule['host']}"
        assert rule["host"] in ingress["spec"]["tls"][0]["hosts"]
        backend = rule["http"]["paths"][0]["backend"]["service"]
        assert backend["name"] == "egressui-web"
        assert backend["port"]["name"] in {port["name"] for port in service["spec"]["ports"]}

    def test_the_binding_gives_the_role_to_the_pods_service_account(self):
        objects = rendered("production")
        account = find(objects, "ServiceAccount", "egressui")
        binding = find(objects, "ClusterRoleBinding", "egressui-reconciler")
        assert binding["roleRef"] == {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": find(objects, "ClusterRole", "egressui-reconciler")["metadata"]["name"],
        }
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": "egressui", "namespace": account["metadata"]["namespace"]}
        ]

    def test_overlay_sets_registry_image_replicas_and_host(self):
        objects = rendered("production")
        for workload in workloads(objects):
            for container in containers(workload):
                assert split_image(container["image"]) == ("registry.example.com/platform/egressui", "0.1.0", "")
        assert find(objects, "Deployment", "egressui-web")["spec"]["replicas"] == 3
        assert find(objects, "Deployment", "egressui-worker")["spec"]["replicas"] == 3


class NetworkPolicyTests:
    def _ports(self, rules: list[dict]) -> set[tuple[str, int]]:
        return {(port["protocol"], port["port"]) for rule in rules for port in rule["ports"]}

    @pytest.mark.parametrize("target", TARGETS)
    def test_egressui_pods_reach_only_dns_database_redis_api_servers_and_mail(self, target):
        objects = rendered(target)
        policy = find(objects, "NetworkPolicy", "egressui")
        assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
        assert "ingress" not in policy["spec"], "no ingress except the web policy's"
        for workload in workloads(objects):
            assert _selects(policy["spec"]["podSelector"], workload["spec"]["template"]["metadata"]["labels"])
        assert self._ports(policy["spec"]["egress"]) == {
            ("UDP", 53),
            ("TCP", 53),
            ("TCP", 5432),
            ("TCP", 6379),
            ("TCP", 443),
            ("TCP", 6443),
            ("TCP", 587),
        }
        dns = policy["spec"]["egress"][0]
        assert dns["to"][0]["podSelector"] == {"matchLabels": {"k8s-app": "kube-dns"}}

    @pytest.mark.parametrize("target", TARGETS)
    def test_only_web_accepts_connections_on_its_port(self, target):
        objects = rendered(target)
        policy = find(objects, "NetworkPolicy", "egressui-web")
        assert policy["spec"]["policyTypes"] == ["Ingress"]
        assert self._ports(policy["spec"]["ingress"]) == {("TCP", 8000)}
        for workload in workloads(objects):
            labels = workload["spec"]["template"]["metadata"]["labels"]
            assert _selects(policy["spec"]["podSelector"], labels) == (workload["metadata"]["name"] == "egressui-web")

    def test_overlay_narrows_the_open_ranges(self):
        policy = find(rendered("production"), "NetworkPolicy", "egressui")
        database, mail = policy["spec"]["egress"][1], policy["spec"]["egress"][3]
        assert database["to"] == [{"ipBlock": {"cidr": "10.20.30.0/24"}}]
        assert mail["to"] == [{"ipBlock": {"cidr": "10.20.40.25/32"}}]
        web = find(rendered("production"), "NetworkPolicy", "egressui-web")
        selector = web["spec"]["ingress"][0]["from"][0]["namespaceSelector"]
        assert selector == {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}
