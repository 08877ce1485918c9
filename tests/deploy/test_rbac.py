"""Static checks of the shipped RBAC: what it must never grant, and that it is bound to the identity the
worker runs as. Whether it is enough, and no more than enough, is proven against an API emulator that
authorises like kube-apiserver (tests/policies/reconciler/test_least_privilege.py), never by comparing
it with egressui's own permission list."""

from tests.deploy.manifests import find, rendered

ROLE = "egressui-reconciler"


def granted(role: dict) -> set[tuple[str, str, str]]:
    return {
        (group, resource, verb)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


class ClusterRoleTests:
    def test_no_wildcards_no_secrets_no_escalation(self):
        role = find(rendered("production"), "ClusterRole", ROLE)
        for rule in role["rules"]:
            assert set(rule) == {"apiGroups", "resources", "verbs"}, "no resourceNames/nonResourceURLs"
            for values in (rule["apiGroups"], rule["resources"], rule["verbs"]):
                assert "*" not in values
        resources = {resource for _, resource, _ in granted(role)}
        verbs = {verb for _, _, verb in granted(role)}
        assert not resources & {
            "secrets",
            "configmaps",
            "pods",
            "pods/exec",
            "roles",
            "clusterroles",
            "serviceaccounts/token",
        }
        assert not verbs & {"escalate", "bind", "impersonate", "update", "deletecollection", "watch"}

    def test_the_only_core_permission_is_listing_service_accounts(self):
        role = find(rendered("production"), "ClusterRole", ROLE)
        assert {(resource, verb) for group, resource, verb in granted(role) if group == ""} == {
            ("serviceaccounts", "list")
        }

    def test_bound_to_the_service_account_the_worker_runs_as(self):
        objects = rendered("production")
        binding = find(objects, "ClusterRoleBinding", ROLE)
        worker = find(objects, "Deployment", "egressui-worker")
        assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": ROLE}
        account = worker["spec"]["template"]["spec"]["serviceAccountName"]
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": account, "namespace": worker["metadata"]["namespace"]}
        ]
        find(objects, "ServiceAccount", account)
