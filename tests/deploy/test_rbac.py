"""The ClusterRole grants exactly the (group, resource, verb) triples the reconciler calls: derived from
the reconciler's own table, itself derived from the renderer's kinds, so a new kind or verb that is
not granted (or a grant nobody uses) fails here."""

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


def reconciler_calls() -> set[tuple[str, str, str]]:
    from policies.reconciler.resources import API_PERMISSIONS

    return {(permission.group, permission.resource, permission.verb) for permission in API_PERMISSIONS}


class ClusterRoleTests:
    def test_cluster_role_grants_exactly_what_the_reconciler_calls(self):
        role = find(rendered("production"), "ClusterRole", ROLE)
        grants, calls = granted(role), reconciler_calls()
        assert grants - calls == set(), "granted but never called"
        assert calls - grants == set(), "called but not granted"

    def test_every_rendered_kind_can_be_listed_applied_and_deleted(self):
        from policies.manifests.kinds import KINDS

        calls = reconciler_calls()
        for info in KINDS:
            for verb in ("list", "patch", "delete"):
                assert (info.group, info.plural, verb) in calls, f"{verb} {info.plural}.{info.group}"

    def test_no_wildcards_no_secrets_no_escalation(self):
        role = find(rendered("production"), "ClusterRole", ROLE)
        for rule in role["rules"]:
            assert set(rule) == {"apiGroups", "resources", "verbs"}, "no resourceNames/nonResourceURLs"
            for values in (rule["apiGroups"], rule["resources"], rule["verbs"]):
                assert "*" not in values
        resources = {resource for _, resource, _ in granted(role)}
        verbs = {verb for _, _, verb in granted(role)}
        assert not resources & {"secrets", "configmaps", "pods", "pods/exec", "roles", "clusterroles"}
        assert not verbs & {"escalate", "bind", "impersonate", "update", "deletecollection"}

    def test_comparison_notices_a_missing_grant(self):
        role = find(rendered("production"), "ClusterRole", ROLE)
        role["rules"] = [rule for rule in role["rules"] if "networkpolicies" not in rule["resources"]]
        assert reconciler_calls() - granted(role) == {
            ("networking.k8s.io", "networkpolicies", verb) for verb in ("delete", "get", "list", "patch")
        }
