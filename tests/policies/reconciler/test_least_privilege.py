"""The shipped RBAC, bound to the reconciler's identity on an API emulator that authorises like
kube-apiserver, reconciles the demo and a large render; without any one of its verbs it does not.

Everything about the role comes from the shipped deploy/kubernetes install (built as `kubectl apply -k`
would): its ClusterRole and binding, and the service account the worker Deployment runs as. Nothing is
derived from egressui's own permission list. The scenario: a first sync under the full role, then
behind egressui's back one object of every kind removed (a create), one edited (a patch) and one extra
labelled object added (a delete); then a resync under the reduced role. It runs for the three demo
clusters: `demo` (mode istio) with `demo-cilium` (mode cilium, CiliumNetworkPolicies) on one API
server, and `demo-ambient` (mode istio-ambient, whose waypoint is a Gateway API Gateway) on another,
each checked against its own mode's kinds and permissions. A new rendered kind must be rendered by
one of the demo clusters for its rules to be proven (the test says so if it is not).
"""

import copy
import io
import logging
from collections import defaultdict

import pytest
from django.core.management import call_command
from kubernetes import client

from policies.constants import ANNOTATION_CONTENT_HASH
from policies.manifests.kinds import KINDS, kinds_for_mode
from policies.models import Cluster, ReconcileRun
from policies.reconciler.connection import connection_test
from policies.reconciler.loop import reconcile_cluster
from policies.reconciler.resources import ObjectKey, api_permissions_for_mode, key_of
from policies.selectors.manifests import desired_objects_for_cluster
from tests.deploy.manifests import find, rendered
from tests.policies.reconciler.conftest import point_at
from tests.support.kube import ApiEmulator, EmulatorThread, strict_validator
from tests.support.manifest_validation import default_validator
from tests.support.rbac import RbacPolicy, service_account

pytestmark = pytest.mark.django_db

TOKEN = "reconciler-token"
OTHER_TOKEN = "someone-else"
NAMESPACES = ("istio-egress", "istio-system", "payments", "search", "ledger", "reports", "storefront", "analytics")
PLURAL = {info.key: info.plural for info in KINDS}  # by kind key (the waypoint's names its group)
KIND_OF = {(info.group, info.plural): info.key for info in KINDS}


def resource_name(info) -> str:
    """How the emulator's inspection calls name a kind: the plural, qualified when two groups share it."""
    return info.plural if info.key == info.kind else f"{info.plural}.{info.group}"


def shipped() -> list[dict]:
    return rendered("production")


def reconciler_identity(documents: list[dict]):
    """The service account the worker (which runs the reconciler) runs as, in its namespace."""
    worker = find(documents, "Deployment", "egressui-worker")
    pod = worker["spec"]["template"]["spec"]
    return service_account(worker["metadata"]["namespace"], pod["serviceAccountName"])


def rbac_documents(documents: list[dict]) -> list[dict]:
    return [doc for doc in documents if doc["apiVersion"] == "rbac.authorization.k8s.io/v1"]


def shipped_rules() -> list[tuple[int, str]]:
    """(index of the rule in the shipped ClusterRole(s), verb), for every verb of every rule."""
    roles = [doc for doc in rbac_documents(shipped()) if doc["kind"] == "ClusterRole"]
    assert len(roles) == 1, "one ClusterRole is shipped"
    return [(index, verb) for index, rule in enumerate(roles[0]["rules"]) for verb in rule["verbs"]]


def without(documents: list[dict], index: int, verb: str) -> tuple[list[dict], dict]:
    """The RBAC documents with `verb` taken out of rule `index` of the ClusterRole, and that rule."""
    documents = copy.deepcopy(rbac_documents(documents))
    role = next(doc for doc in documents if doc["kind"] == "ClusterRole")
    rule = role["rules"][index]
    removed = copy.deepcopy(rule)
    rule["verbs"] = [other for other in rule["verbs"] if other != verb]
    if not rule["verbs"]:
        del role["rules"][index]
    return documents, removed


@pytest.fixture
def kube(fast_retries):
    """The emulator with RBAC on: the shipped role bound as shipped; a second identity with no role."""
    documents = shipped()
    emulator = ApiEmulator(
        validator=strict_validator(default_validator()),
        rbac=RbacPolicy.from_documents(rbac_documents(documents)),
        tokens={TOKEN: reconciler_identity(documents), OTHER_TOKEN: service_account("payments", "checkout")},
    )
    for info in KINDS:
        emulator.serve_kind(group=info.group, version=info.version, plural=info.plural, kind=info.kind)
    for name in NAMESPACES:
        emulator.add_namespace(name)
    emulator.add_service_account("payments", "checkout")
    with EmulatorThread(emulator):
        yield emulator


@pytest.fixture
def demo(settings, tmp_path, kube) -> Cluster:
    settings.DEBUG, settings.VAR_DIR = True, tmp_path
    call_command("seed_demo", force=True, stdout=io.StringIO())
    return point_at(Cluster.objects.get(name="demo"), kube.url, token=TOKEN)


# The demo clusters that share one API server in a test: demo and demo-ambient both hold objects in
# istio-egress and payments (one real cluster is either, not both), so the ambient one gets its own.
DEMO_GROUPS = {"istio+cilium": ("demo", "demo-cilium"), "ambient": ("demo-ambient",)}


@pytest.fixture(params=sorted(DEMO_GROUPS))
def demos(request, demo, kube) -> list[Cluster]:
    """Demo clusters on the emulator: istio then cilium, or istio-ambient alone."""
    return [point_at(Cluster.objects.get(name=name), kube.url, token=TOKEN) for name in DEMO_GROUPS[request.param]]


def run(cluster, trigger="manual") -> ReconcileRun:
    return reconcile_cluster(cluster.pk, trigger=trigger)


def failures(run_: ReconcileRun) -> dict[ObjectKey, str]:
    rows = run_.results.filter(action="failed")
    return {ObjectKey(row.kind, row.namespace, row.name): row.message for row in rows}


class ShippedRoleTests:
    def test_the_demo_converges_and_the_connection_test_finds_everything(self, demos, kube):
        rendered_kinds = set()
        for demo in demos:
            report = connection_test(demo)
            assert report.ok, report.as_text()
            assert report.missing_permissions == [] and all(check.allowed for check in report.permissions)
            desired = {key_of(obj) for obj in desired_objects_for_cluster(demo)}
            assert {key.kind for key in desired} == {info.key for info in kinds_for_mode(demo.enforcement_mode)}
            rendered_kinds |= {key.kind for key in desired}
            kube.reset_calls()
            first = run(demo)
            assert first.outcome == ReconcileRun.Outcome.SUCCEEDED, (first.error, failures(first))
            assert first.created == len(desired) and first.failed == 0
            assert not [call for call in kube.calls if call.status == 403]
            kube.reset_calls()
            second = run(demo, trigger="resync")
            assert second.outcome == ReconcileRun.Outcome.SUCCEEDED and second.unchanged == len(desired)
            assert kube.writes() == []
        assert rendered_kinds <= set(PLURAL)

    def test_the_demo_clusters_render_every_kind(self, demo):
        rendered = {
            key_of(obj).kind
            for name in ("demo", "demo-ambient", "demo-cilium")
            for obj in desired_objects_for_cluster(Cluster.objects.get(name=name))
        }
        assert rendered == set(PLURAL), "the demo clusters render every kind"

    @pytest.mark.parametrize("mode", ["istio", "istio-ambient"])
    def test_a_large_render_converges_through_the_bulk_paths(self, world, kube, mode):
        """Over BULK_CREATE_CHECK creates of a kind: names are checked with one unlabelled list."""
        from tests.factories import GrantFactory

        world.cluster.enforcement_mode = mode
        cluster = point_at(world.cluster, kube.url, token=TOKEN)
        for index in range(30):
            GrantFactory(identity=world.checkout, host=f"api{index}.example.com")
        desired = {key_of(obj) for obj in desired_objects_for_cluster(cluster)}
        first = run(cluster)
        assert first.outcome == ReconcileRun.Outcome.SUCCEEDED, (first.error, failures(first))
        assert first.created == len(desired) > 60
        assert any(call.verb == "list" and "labelSelector" not in call.params for call in kube.calls)
        from policies.services.grants import grant_revoke

        for grant in list(world.checkout.grants.all())[:5]:
            grant_revoke(grant=grant, actor=world.admin, reason="test")
        second = run(cluster)
        assert second.outcome == ReconcileRun.Outcome.SUCCEEDED and second.deleted > 0 and second.failed == 0

    def test_the_identity_cannot_read_secrets_or_pods(self, demo, kube):
        configuration = client.Configuration()
        configuration.host, configuration.api_key = kube.url, {"authorization": f"Bearer {TOKEN}"}
        with client.ApiClient(configuration) as api:
            core = client.CoreV1Api(api)
            for call in (
                lambda: core.read_namespaced_secret("egressui", "egressui"),
                lambda: core.list_secret_for_all_namespaces(),
                lambda: core.list_namespaced_pod("payments"),
                lambda: core.read_namespaced_pod("checkout-0", "payments"),
            ):
                with pytest.raises(client.ApiException) as refused:
                    call()
                assert refused.value.status == 403
            reviews = client.AuthorizationV1Api(api)
            for resource, verb in (("secrets", "get"), ("secrets", "list"), ("pods", "get"), ("pods", "list")):
                attributes = client.V1ResourceAttributes(group="", resource=resource, verb=verb)
                review = client.V1SelfSubjectAccessReview(
                    spec=client.V1SelfSubjectAccessReviewSpec(resource_attributes=attributes)
                )
                assert reviews.create_self_subject_access_review(review).status.allowed is False

    def test_another_identity_gets_nothing_and_a_bad_token_is_unauthorised(self, demo, kube):
        point_at(demo, kube.url, token=OTHER_TOKEN)
        report = connection_test(demo)
        assert not report.ok
        assert [check.name for check in report.missing_permissions] == [
            "create selfsubjectaccessreviews.authorization.k8s.io"
        ]
        first = run(demo)
        assert first.outcome == ReconcileRun.Outcome.FAILED
        assert "HTTP 403 Forbidden while listing serviceentries" in first.error
        point_at(demo, kube.url, token="not-a-token")
        assert "rejected the credentials" in connection_test(demo).error
        assert "rejected egressui's credentials" in run(demo).error

    @pytest.mark.parametrize(("index", "verb"), shipped_rules())
    def test_without_any_one_verb_of_any_rule(self, demos, kube, index, verb, caplog):
        for demo in demos:
            first = run(demo)
            assert first.outcome == ReconcileRun.Outcome.SUCCEEDED, (first.error, failures(first))
        documents, rule = without(shipped(), index, verb)
        removed = {(group, resource) for group in rule["apiGroups"] for resource in rule["resources"]}
        removed_kinds = {KIND_OF[pair] for pair in removed if pair in KIND_OF}
        disturbed = {demo.name: _disturb(demo, kube) for demo in demos}
        kube.rbac = RbacPolicy.from_documents(documents)

        for demo in demos:
            # Each cluster misses what its own mode needs of the removed verb, nothing else.
            needed = {str(permission) for permission in api_permissions_for_mode(demo.enforcement_mode)}
            expected_missing = sorted(
                name
                for group, resource in removed
                if (name := f"{verb} {resource}{'.' + group if group else ''}") in needed
            )
            report = connection_test(demo)
            assert sorted(check.name for check in report.missing_permissions) == expected_missing, report.as_text()
            assert report.ok == (not expected_missing)
            kinds = removed_kinds & {info.key for info in kinds_for_mode(demo.enforcement_mode)}
            _check_resync(demo, kinds, verb, expected_missing, removed, disturbed[demo.name], caplog)
        if not removed_kinds and ("", "serviceaccounts") not in removed:
            assert ("authorization.k8s.io", "selfsubjectaccessreviews") in removed


def _check_resync(demo, kinds, verb, expected_missing, removed, disturbed, caplog) -> None:
    """A resync under the reduced role fails exactly the objects of `kinds` that need `verb`."""
    created, patched, deleted = disturbed
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="policies.reconciler.loop"):
        second = run(demo, trigger="resync")
    failed = failures(second)
    for message in [second.error, *failed.values()]:
        assert 'User "' not in message and "system:serviceaccount" not in message  # the body is not quoted
    if verb == "list" and kinds:
        assert second.outcome == ReconcileRun.Outcome.FAILED and failed == {}
        assert any(f"may not {name} (see the ClusterRole" in second.error for name in expected_missing)
        return
    expected = {
        "create": [key for key in created if key.kind in kinds],
        "get": [key for key in created if key.kind in kinds],  # a name is checked before it is created
        "patch": [key for key in [*created, *patched] if key.kind in kinds],
        "delete": [key for key in deleted if key.kind in kinds],
    }.get(verb, [])
    assert set(failed) == set(expected), second.summary
    for key in expected:
        info = next(info for info in KINDS if info.key == key.kind)
        assert "HTTP 403 Forbidden while" in failed[key]
        assert f"may not {verb} {info.plural}.{info.group}" in failed[key]
    assert second.outcome == (ReconcileRun.Outcome.PARTIAL if expected else ReconcileRun.Outcome.SUCCEEDED)
    assert second.created + second.updated + second.deleted == len(created) + len(patched) + len(deleted) - len(
        expected
    )
    if ("", "serviceaccounts") in removed:
        assert f"identity discovery in cluster {demo.name} skipped" in caplog.text


def _disturb(cluster, kube) -> tuple[list[ObjectKey], list[ObjectKey], list[ObjectKey]]:
    """Behind egressui's back, for every kind of the cluster's mode: remove one object, edit another,
    add an extra labelled one (a kind rendered once, such as the ambient waypoint, is removed and
    given an extra one: re-creating it is a server-side apply, a patch). Returns the keys a full run
    must create, patch and delete."""
    by_kind = defaultdict(list)
    for obj in desired_objects_for_cluster(cluster):
        by_kind[key_of(obj).kind].append(obj)
    created, patched, deleted = [], [], []
    for info in kinds_for_mode(cluster.enforcement_mode):
        objects = sorted(by_kind[info.key], key=lambda obj: key_of(obj))
        assert objects, f"{cluster.name} renders no {info.key}: extend it to prove its RBAC"
        name = resource_name(info)
        gone = key_of(objects[0])
        kube.remove(name, gone.namespace, gone.name)
        created.append(gone)
        if len(objects) >= 2:
            edited = key_of(objects[1])
            kube.edit(
                name, edited.namespace, edited.name, {"metadata": {"annotations": {ANNOTATION_CONTENT_HASH: "x"}}}
            )
            patched.append(edited)
        extra = copy.deepcopy(objects[-1])
        extra["metadata"]["name"] = f"extra-{objects[-1]['metadata']['name']}"[:63]
        kube.create(name, extra)
        deleted.append(key_of(extra))
    return created, patched, deleted
