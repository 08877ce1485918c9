"""What the emulator answers where a real kube-apiserver (v1.36) answers differently from a naive mock,
each pinned here (docs/testing.md holds the table): strict field validation per request kind, CEL
violations, field-manager conflicts, dry runs, delete preconditions, missing namespaces, RBAC denials.
Plus how the reconciler classifies the answers that matter to it."""

import copy
import json
import urllib.error
import urllib.request

import pytest

from policies.reconciler.errors import ObjectFailed
from tests.policies.reconciler.test_cluster import service_entry
from tests.support.kube import ApiEmulator, EmulatorThread
from tests.support.rbac import RbacPolicy, service_account

pytestmark = pytest.mark.django_db

SE_PATH = "/apis/networking.istio.io/v1/namespaces/istio-egress/serviceentries"
STRICT = "fieldValidation=Strict"
APPLY = "application/apply-patch+yaml"


def call(kube, method: str, path: str, body=None, *, content_type="application/json", token=None):
    """(HTTP status, JSON body) of one raw request, as any client would send it."""
    request = urllib.request.Request(kube.url + path, method=method)
    if body is not None:
        request.data = json.dumps(body).encode()
        request.add_header("Content-Type", content_type)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def apply(kube, obj, *, manager="egressui", params=STRICT, force=False):
    name = obj["metadata"]["name"]
    query = f"?fieldManager={manager}&{params}" + ("&force=true" if force else "")
    return call(kube, "PATCH", f"{SE_PATH}/{name}{query}", obj, content_type=APPLY)


def with_unknown_field(obj: dict) -> dict:
    obj = copy.deepcopy(obj)
    obj["spec"]["bogus"] = True
    return obj


def cel_violation() -> dict:
    obj = service_entry()
    obj["spec"].update(resolution="NONE", endpoints=[{"address": "10.0.0.1"}])
    return obj


def assert_status(body: dict, code: int, reason: str | None) -> None:
    assert body["kind"] == "Status" and body["apiVersion"] == "v1" and body["status"] == "Failure"
    assert body["code"] == code and body.get("reason") == reason


class StrictFieldValidationTests:
    def test_server_side_apply_of_an_undeclared_field_is_a_500(self, kube):
        status, body = apply(kube, with_unknown_field(service_entry()))
        assert status == 500
        assert_status(body, 500, None)  # no reason: the error is not classified upstream
        assert body["message"] == (
            "failed to create typed patch object (istio-egress/api-example-com; networking.istio.io/v1, "
            "Kind=ServiceEntry): .spec.bogus: field not declared in schema"
        )
        assert kube.get("serviceentries", "istio-egress", "api-example-com") is None

    def test_create_and_update_of_an_undeclared_field_are_a_400(self, kube):
        status, body = call(kube, "POST", f"{SE_PATH}?{STRICT}", with_unknown_field(service_entry()))
        assert status == 400 and body["message"] == 'strict decoding error: unknown field "spec.bogus"'
        assert_status(body, 400, "BadRequest")
        assert call(kube, "POST", f"{SE_PATH}?{STRICT}", service_entry())[0] == 201
        live = kube.get("serviceentries", "istio-egress", "api-example-com")
        status, body = call(kube, "PUT", f"{SE_PATH}/api-example-com?{STRICT}", with_unknown_field(live))
        assert (status, body["reason"]) == (400, "BadRequest")

    def test_a_stored_object_with_the_servers_metadata_passes_strict_validation(self, kube):
        # resourceVersion, uid, creationTimestamp… are declared ObjectMeta fields, not unknown ones.
        assert call(kube, "POST", f"{SE_PATH}?{STRICT}", service_entry())[0] == 201
        live = kube.get("serviceentries", "istio-egress", "api-example-com")
        assert "resourceVersion" in live["metadata"]
        assert call(kube, "PUT", f"{SE_PATH}/api-example-com?{STRICT}", live)[0] == 200
        merge_patch = {"metadata": {"labels": {"team": "payments"}}}
        url = f"{SE_PATH}/api-example-com?{STRICT}"
        assert call(kube, "PATCH", url, merge_patch, content_type="application/merge-patch+json")[0] == 200

    def test_merge_and_json_patches_of_an_undeclared_field_are_a_422(self, kube):
        assert apply(kube, service_entry())[0] == 201
        url = f"{SE_PATH}/api-example-com?{STRICT}"
        status, body = call(kube, "PATCH", url, {"spec": {"bogus": 1}}, content_type="application/merge-patch+json")
        assert status == 422 and body["reason"] == "Invalid"
        assert body["details"]["causes"] == [
            {"reason": "FieldValueInvalid", "message": 'unknown field "spec.bogus"', "field": "patch"}
        ]
        operations = [{"op": "add", "path": "/spec/bogus", "value": 1}]
        status, body = call(kube, "PATCH", url, operations, content_type="application/json-patch+json")
        assert (status, body["reason"]) == (422, "Invalid")
        assert "bogus" not in kube.get("serviceentries", "istio-egress", "api-example-com")["spec"]
        # Without strict validation the same patch goes through (the emulator validates only on request).
        plain = f"{SE_PATH}/api-example-com"
        status, _ = call(kube, "PATCH", plain, operations, content_type="application/json-patch+json")
        assert status == 200 and kube.get("serviceentries", "istio-egress", "api-example-com")["spec"]["bogus"] == 1

    def test_a_cel_rule_violation_is_a_422_with_causes(self, kube):
        status, body = apply(kube, cel_violation())
        assert status == 422
        assert_status(body, 422, "Invalid")
        assert body["details"]["name"] == "api-example-com"
        assert body["details"]["group"] == "networking.istio.io" and body["details"]["kind"] == "ServiceEntry"
        assert {
            "reason": "FieldValueInvalid",
            "message": 'Invalid value: "object": NONE mode cannot set endpoints',
            "field": "spec",
        } in body["details"]["causes"]
        assert body["message"].startswith('ServiceEntry.networking.istio.io "api-example-com" is invalid: ')
        assert kube.get("serviceentries", "istio-egress", "api-example-com") is None

    def test_invalid_values_are_refused_without_strict_validation_too(self, kube):
        # fieldValidation only governs undeclared fields; schema and CEL rules always apply.
        status, body = call(kube, "POST", SE_PATH, cel_violation())
        assert (status, body["reason"]) == (422, "Invalid")
        status, body = apply(kube, cel_violation(), params="")
        assert (status, body["reason"]) == (422, "Invalid")
        assert apply(kube, service_entry(), params="")[0] == 201
        patch = {"spec": {"resolution": "NONE", "endpoints": [{"address": "10.0.0.1"}]}}
        url = f"{SE_PATH}/api-example-com"
        status, body = call(kube, "PATCH", url, patch, content_type="application/merge-patch+json")
        assert (status, body["reason"]) == (422, "Invalid")
        assert kube.get("serviceentries", "istio-egress", "api-example-com")["spec"]["resolution"] == "DNS"


class ReconcilerClassificationTests:
    @pytest.fixture
    def target(self, plain_target):
        return plain_target

    def test_the_500_for_an_undeclared_field_is_permanent_and_not_retried(self, target, kube):
        with pytest.raises(ObjectFailed) as failure:
            target.apply(with_unknown_field(service_entry()))
        assert failure.value.status == 500 and failure.value.transient is False
        assert [c.status for c in kube.calls] == [500]  # one attempt, no retries
        assert failure.value.message.startswith("HTTP 500 Internal Server Error while applying ServiceEntry")
        assert "does not declare a field egressui sent" in failure.value.message
        assert "bogus" not in failure.value.message  # the server's text is not quoted

    def test_another_500_is_still_transient_and_retried(self, target, kube):
        kube.fail("apply", status=500, times=None, message="etcdserver: request timed out")
        with pytest.raises(ObjectFailed) as failure:
            target.apply(service_entry())
        assert failure.value.transient is True and len(kube.calls) == 1 + target.retries

    def test_a_cel_violation_is_permanent_and_names_the_field(self, target, kube):
        with pytest.raises(ObjectFailed) as failure:
            target.apply(cel_violation())
        assert failure.value.status == 422 and failure.value.transient is False
        assert failure.value.message == (
            "HTTP 422 Invalid while applying ServiceEntry istio-egress/api-example-com: spec: FieldValueInvalid"
        )


class ConflictDryRunPreconditionNamespaceTests:
    def test_a_field_owned_by_another_manager_conflicts_unless_forced(self, kube):
        assert apply(kube, service_entry(), manager="someone")[0] == 201
        changed = service_entry()
        changed["spec"]["hosts"] = ["other.example.com"]
        status, body = apply(kube, changed)
        assert status == 409
        assert_status(body, 409, "Conflict")
        assert body["message"] == (
            'Apply failed with 1 conflict: conflict with "someone" using networking.istio.io/v1: .spec.hosts'
        )
        assert body["details"]["causes"] == [
            {
                "reason": "FieldManagerConflict",
                "message": 'conflict with "someone" using networking.istio.io/v1',
                "field": ".spec.hosts",
            }
        ]
        assert apply(kube, changed, force=True)[0] == 200
        assert kube.get("serviceentries", "istio-egress", "api-example-com")["spec"]["hosts"] == ["other.example.com"]

    def test_a_field_applied_with_the_same_value_is_owned_by_both_managers(self, kube):
        shared = service_entry()
        shared["spec"]["exportTo"] = ["."]
        assert apply(kube, shared, manager="someone")[0] == 201
        assert apply(kube, shared)[0] == 200  # the same value: no conflict, and no force needed
        # egressui stops applying the field: "someone" still owns it, so it stays.
        assert apply(kube, service_entry())[0] == 200
        assert kube.get("serviceentries", "istio-egress", "api-example-com")["spec"]["exportTo"] == ["."]
        assert apply(kube, service_entry(), manager="someone")[0] == 200
        assert "exportTo" not in kube.get("serviceentries", "istio-egress", "api-example-com")["spec"]

    def test_dry_run_validates_and_persists_nothing(self, kube):
        status, body = apply(kube, service_entry(), params=f"{STRICT}&dryRun=All")
        assert status == 200 and body["spec"]["hosts"] == ["api.example.com"]
        assert kube.get("serviceentries", "istio-egress", "api-example-com") is None
        assert apply(kube, cel_violation(), params=f"{STRICT}&dryRun=All")[0] == 422
        assert apply(kube, with_unknown_field(service_entry()), params=f"{STRICT}&dryRun=All")[0] == 500
        assert call(kube, "POST", f"{SE_PATH}?{STRICT}&dryRun=All", service_entry())[0] == 201
        assert kube.get("serviceentries", "istio-egress", "api-example-com") is None
        assert apply(kube, service_entry())[0] == 201
        version = kube.get("serviceentries", "istio-egress", "api-example-com")["metadata"]["resourceVersion"]
        url = f"{SE_PATH}/api-example-com?dryRun=All"
        assert (
            call(kube, "PATCH", url, {"spec": {"exportTo": ["."]}}, content_type="application/merge-patch+json")[0]
            == 200
        )
        assert call(kube, "DELETE", url, {})[0] == 200
        live = kube.get("serviceentries", "istio-egress", "api-example-com")
        assert live["metadata"]["resourceVersion"] == version and "exportTo" not in live["spec"]

    def test_delete_with_a_stale_resource_version_is_a_409(self, kube):
        assert apply(kube, service_entry())[0] == 201
        version = kube.get("serviceentries", "istio-egress", "api-example-com")["metadata"]["resourceVersion"]
        stale = {"preconditions": {"resourceVersion": "1"}}
        status, body = call(kube, "DELETE", f"{SE_PATH}/api-example-com", stale)
        assert status == 409
        assert_status(body, 409, "Conflict")
        assert body["message"] == (
            'Operation cannot be fulfilled on serviceentries.networking.istio.io "api-example-com": the '
            f"ResourceVersion in the precondition (1) does not match the ResourceVersion in record ({version}). "
            "The object might have been modified"
        )
        assert kube.get("serviceentries", "istio-egress", "api-example-com") is not None
        current = {"preconditions": {"resourceVersion": version}}
        assert call(kube, "DELETE", f"{SE_PATH}/api-example-com", current)[0] == 200
        assert kube.get("serviceentries", "istio-egress", "api-example-com") is None

    def test_a_missing_namespace_is_a_404_naming_it(self, kube):
        obj = service_entry(namespace="nowhere")
        path = "/apis/networking.istio.io/v1/namespaces/nowhere/serviceentries/api-example-com"
        status, body = call(kube, "PATCH", f"{path}?fieldManager=egressui&{STRICT}", obj, content_type=APPLY)
        assert status == 404
        assert_status(body, 404, "NotFound")
        assert body["message"] == 'namespaces "nowhere" not found'
        assert body["details"] == {"name": "nowhere", "kind": "namespaces"}


def reader_documents(verbs: tuple[str, ...] = ("get",)) -> list[dict]:
    """A Role granting `verbs` on ServiceEntries in istio-egress, bound to egressui/robot."""
    return [
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": "reader", "namespace": "istio-egress"},
            "rules": [{"apiGroups": ["networking.istio.io"], "resources": ["serviceentries"], "verbs": list(verbs)}],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "reader", "namespace": "istio-egress"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"},
            "subjects": [{"kind": "ServiceAccount", "name": "robot", "namespace": "egressui"}],
        },
    ]


class RbacAnswerTests:
    @pytest.fixture
    def rbac_kube(self):
        emulator = ApiEmulator(
            rbac=RbacPolicy.from_documents(reader_documents()), tokens={"t": service_account("egressui", "robot")}
        )
        emulator.serve_kind(group="networking.istio.io", version="v1", plural="serviceentries", kind="ServiceEntry")
        emulator.add_namespace("istio-egress")
        emulator.add_namespace("payments")
        with EmulatorThread(emulator):
            yield emulator

    def test_a_denial_is_the_servers_403_status(self, rbac_kube):
        path = f"{SE_PATH}/api-example-com?fieldManager=egressui"
        status, body = call(rbac_kube, "PATCH", path, service_entry(), content_type=APPLY, token="t")
        assert status == 403
        assert body == {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": 'serviceentries.networking.istio.io "api-example-com" is forbidden: User '
            '"system:serviceaccount:egressui:robot" cannot patch resource "serviceentries" in API group '
            '"networking.istio.io" in the namespace "istio-egress"',
            "reason": "Forbidden",
            "details": {"name": "api-example-com", "group": "networking.istio.io", "kind": "serviceentries"},
            "code": 403,
        }
        status, body = call(rbac_kube, "GET", "/api/v1/secrets", token="t")
        assert status == 403 and body["message"] == (
            'secrets is forbidden: User "system:serviceaccount:egressui:robot" cannot list resource "secrets" in '
            'API group "" at the cluster scope'
        )

    def test_a_dry_run_is_authorised_and_an_apply_that_creates_needs_create_too(self, rbac_kube):
        rbac_kube.rbac = RbacPolicy.from_documents(reader_documents(("get", "patch")))
        base = f"{SE_PATH}/api-example-com?fieldManager=egressui"
        for query in (f"{base}&dryRun=All", base):
            status, body = call(rbac_kube, "PATCH", query, service_entry(), content_type=APPLY, token="t")
            assert status == 403 and "cannot create resource" in body["message"]
        rbac_kube.create("serviceentries", service_entry())
        assert call(rbac_kube, "PATCH", base, service_entry(), content_type=APPLY, token="t")[0] == 200
        rbac_kube.rbac = RbacPolicy.from_documents(reader_documents())
        status, body = call(rbac_kube, "PATCH", f"{base}&dryRun=All", service_entry(), content_type=APPLY, token="t")
        assert status == 403 and "cannot patch resource" in body["message"]

    def test_a_role_binding_grants_only_in_its_namespace_and_unknown_tokens_are_401(self, rbac_kube):
        rbac_kube.create("serviceentries", service_entry())
        rbac_kube.create("serviceentries", service_entry(namespace="payments"))
        assert call(rbac_kube, "GET", f"{SE_PATH}/api-example-com", token="t")[0] == 200
        other = "/apis/networking.istio.io/v1/namespaces/payments/serviceentries/api-example-com"
        assert call(rbac_kube, "GET", other, token="t")[0] == 403
        status, body = call(rbac_kube, "GET", f"{SE_PATH}/api-example-com", token="nope")
        assert status == 401 and body["reason"] == "Unauthorized"
        assert call(rbac_kube, "GET", "/version", token="nope")[0] == 401
        assert call(rbac_kube, "GET", "/version", token="t")[0] == 200  # discovery: any authenticated user

    def test_access_reviews_answer_from_the_same_rules(self, rbac_kube):
        def review(verb: str, namespace: str) -> bool:
            attributes = {"group": "networking.istio.io", "resource": "serviceentries", "verb": verb}
            body = {"spec": {"resourceAttributes": {**attributes, "namespace": namespace}}}
            path = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
            return call(rbac_kube, "POST", path, body, token="t")[1]["status"]["allowed"]

        # The Role does not grant creating access reviews: a real cluster's system:basic-user does.
        rbac_kube.rbac.cluster_roles["basic"] = RbacPolicy.from_documents(
            [
                {
                    "apiVersion": "rbac.authorization.k8s.io/v1",
                    "kind": "ClusterRole",
                    "metadata": {"name": "basic"},
                    "rules": [
                        {
                            "apiGroups": ["authorization.k8s.io"],
                            "resources": ["selfsubjectaccessreviews"],
                            "verbs": ["create"],
                        }
                    ],
                }
            ]
        ).cluster_roles["basic"]
        rbac_kube.rbac.bindings.append((None, "ClusterRole", "basic", (("Group", "system:authenticated"),)))
        assert review("get", "istio-egress") is True
        assert review("get", "payments") is False
        assert review("delete", "istio-egress") is False
