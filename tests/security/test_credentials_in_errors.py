"""Finding 1: no credential in any error text.

A marker secret is planted where credentials live — malformed kubeconfigs (stored, and in a file), a
token connection's URL, failing API answers (message and reason), a webhook URL — then every way a
cluster's errors travel is exercised: reconcile runs, the connection test (page, admin action,
command), webhook delivery. The marker must appear in no API response, page, audit event, export,
email or log line, while the errors still say what went wrong and where.
"""

import contextlib
import json
import logging

import pytest
import yaml
from django.core import mail
from django.core.management import call_command
from django.test import Client
from kubernetes.client.exceptions import ApiException

from policies.choices import ConnectionKind
from policies.models import AuditEvent, Cluster, ReconcileRun
from policies.reconciler.error_text import safe_error_text
from policies.reconciler.loop import reconcile_cluster
from policies.redaction import url_origin
from policies.tasks import send_email_task, send_webhook_task
from tests.factories import ClusterFactory, GrantFactory, IdentityFactory, NamespaceFactory, fixture_save
from tests.policies.reconciler.conftest import point_at

pytestmark = pytest.mark.django_db(transaction=False)

MARKER = "Mk7sEcReTzq9"
TAB_IN_TOKEN = f"""apiVersion: v1
kind: Config
clusters:
- name: c
  cluster:
    server: https://127.0.0.1:9
users:
- name: u
  user:
\ttoken: {MARKER}
contexts:
- name: ctx
  context: {{cluster: c, user: u}}
current-context: ctx
"""
UNCLOSED_QUOTE = f'users:\n- name: u\n  user:\n    token: "{MARKER}\n    more: x\nclusters: [\n'
BAD_INDENT = f"clusters:\n  - name: c\n    cluster:\n      server: https://x\n   token: {MARKER}\n"


def _cluster(name: str, **connection) -> Cluster:
    """A cluster written directly, as data stored before input checks existed would be."""
    cluster = ClusterFactory(name=name)
    for field, value in connection.items():
        setattr(cluster, field, value)
    fixture_save(cluster)
    return cluster


@pytest.fixture
def planted(world, kube, tmp_path, settings):
    bad_file = tmp_path / "kubeconfig"
    bad_file.write_text(BAD_INDENT)
    clusters = {
        "stored-tab": _cluster("stored-tab", connection_kind=ConnectionKind.KUBECONFIG, kubeconfig=TAB_IN_TOKEN),
        "stored-quote": _cluster("stored-quote", connection_kind=ConnectionKind.KUBECONFIG, kubeconfig=UNCLOSED_QUOTE),
        "file-indent": _cluster(
            "file-indent", connection_kind=ConnectionKind.KUBECONFIG, kubeconfig_path=str(bad_file)
        ),
        "url-creds": _cluster(
            "url-creds",
            connection_kind=ConnectionKind.TOKEN,
            api_url=f"http://admin:{MARKER}@127.0.0.1:9/",
            token=MARKER,
        ),
        "answers": point_at(world.cluster, kube.url, token=f"token-{MARKER}"),
    }
    Cluster.objects.filter(pk=world.cluster.pk).update(name="answers")
    for cluster in clusters.values():
        namespace = NamespaceFactory(cluster=cluster, name="payments", team=world.payments)
        GrantFactory(identity=IdentityFactory(namespace=namespace, service_account="checkout"), host="api.stripe.com")
    world.payments.webhook_url = f"http://127.0.0.1:9/hooks/{MARKER}"
    fixture_save(world.payments)
    return clusters


def _body(response) -> str:
    content = b"".join(response.streaming_content) if response.streaming else response.content
    return content.decode("utf-8", "replace")


class MarkerSecretTests:
    def test_the_marker_appears_nowhere(self, planted, world, kube, caplog, capsys, monkeypatch):
        caplog.set_level(logging.INFO)
        caplog.set_level(logging.DEBUG, logger="policies")
        for task in (send_email_task, send_webhook_task):
            monkeypatch.setattr(task, "delay", lambda *a, _t=task, **kw: _t.apply(args=a, kwargs=kw))
        seen: list[tuple[str, str]] = []

        # Failing answers: every write refused with the marker as message and reason, then every list.
        kube.fail("apply", status=422, times=None, message=f"invalid: {MARKER}", reason=MARKER)
        kube.fail("create", status=403, times=None, message=f"forbidden: {MARKER}", plural="selfsubjectaccessreviews")
        for cluster in planted.values():
            reconcile_cluster(cluster.pk, trigger="manual")
        kube.faults.clear()
        kube.fail("list", status=500, times=None, message=f"etcd: {MARKER}", reason=MARKER)
        reconcile_cluster(planted["answers"].pk, trigger="manual")

        admin, searcher, dev = Client(), Client(), Client()
        admin.force_login(world.admin)
        searcher.force_login(world.searcher)
        dev.force_login(world.dev)

        # The connection test: page, admin action, command.
        for cluster in planted.values():
            response = admin.post(f"/clusters/{cluster.pk}/test-connection/")
            seen.append((f"test-connection page {cluster.name}", _body(response)))
            with contextlib.suppress(SystemExit):  # exit 1: not ready
                call_command("test_cluster", cluster.pk and Cluster.objects.get(pk=cluster.pk).name)
        ids = [cluster.pk for cluster in planted.values()]
        response = admin.post(
            "/admin/policies/cluster/", {"action": "test_connection", "_selected_action": ids}, follow=True
        )
        seen.append(("admin action", _body(response)))
        with contextlib.suppress(SystemExit):
            call_command("reconcile", "--cluster", "answers", "--dry-run")

        # Input: the same kubeconfigs given to the API are refused, naming line and column only.
        for text in (TAB_IN_TOKEN, UNCLOSED_QUOTE, BAD_INDENT):
            response = admin.post(
                "/api/v1/clusters/",
                {"name": "again", "connection_kind": "kubeconfig", "kubeconfig": text},
                content_type="application/json",
            )
            error = response.json()["error"]
            assert response.status_code == 400 and "line" in error["fields"]["kubeconfig"][0], error
            seen.append(("API create refusal", _body(response)))

        # Notifications: a webhook to a URL holding the marker fails and is retried.
        send_webhook_task.apply(kwargs={"team_id": world.payments.pk, "event": "test", "payload": {}})

        reads = [
            (client, url)
            for client in (admin, searcher, dev)
            for url in ["/api/v1/clusters/", *[f"/api/v1/clusters/{pk}/" for pk in ids], "/api/v1/grants/", "/"]
        ]
        runs = list(ReconcileRun.objects.values_list("pk", "cluster_id"))
        reads += [(admin, f"/api/v1/reconcile-runs/{pk}/") for pk, _ in runs]
        reads += [(admin, f"/clusters/{cluster_id}/runs/{pk}/") for pk, cluster_id in runs]
        reads += [(admin, f"/clusters/{pk}/") for pk in ids]
        reads += [(admin, url) for url in ("/clusters/", "/api/v1/reconcile-runs/", "/grants/", "/audit/")]
        reads += [
            (client, f"/grants/{grant}/")
            for client in (admin, dev)
            for grant in world.payments.grants.values_list("pk", flat=True)
        ]
        reads += [(client, "/api/v1/audit-events/?format=csv") for client in (admin, dev)]
        reads += [(client, f"/audit/export.{fmt}") for client in (admin, dev) for fmt in ("csv", "json")]
        reads += [(admin, "/api/v1/audit-events/?page_size=500"), (admin, "/admin/policies/cluster/")]
        for client, url in reads:
            response = client.get(url)
            assert response.status_code == 200, url
            seen.append((url, _body(response)))

        seen += [
            (f"audit event {event.seq}", f"{event.message} {event.before} {event.after} {event.subject_repr}")
            for event in AuditEvent.objects.all()
        ]
        seen += [(f"email {message.subject}", f"{message.subject}\n{message.body}") for message in mail.outbox]
        output = capsys.readouterr()
        seen += [("command output", output.out + output.err)]
        seen += [(f"log {record.name}", caplog.handler.format(record)) for record in caplog.records]

        leaks = [
            (where, text[max(0, text.index(MARKER) - 80) : text.index(MARKER) + 20])
            for where, text in seen
            if MARKER in text
        ]
        assert leaks == []

        # The errors still say what went wrong, and where.
        errors = {name: Cluster.objects.get(name=name).sync.last_error for name in planted}
        assert "line 10, column 1: a tab character is not allowed here" in errors["stored-tab"]
        assert "kubeconfig line" in errors["stored-quote"]
        assert "kubeconfig file line 5, column" in errors["file-indent"]
        assert "http://127.0.0.1:9" in errors["url-creds"] and "connection refused" in errors["url-creds"]
        assert "HTTP 500 Internal Server Error while listing" in errors["answers"]  # the reason was not Kubernetes'
        failed = ReconcileRun.objects.filter(cluster=planted["answers"]).order_by("pk").first()
        assert failed.failed and all(
            r.message.startswith("HTTP 422 ") and " while applying " in r.message for r in failed.results.all()
        )

    def test_only_platform_admins_read_why_a_sync_failed(self, planted, world):
        cluster = planted["stored-tab"]
        reconcile_cluster(cluster.pk, trigger="manual")
        searcher, admin = Client(), Client()
        searcher.force_login(world.searcher)
        admin.force_login(world.admin)
        sync = searcher.get(f"/api/v1/clusters/{cluster.pk}/").json()["sync"]
        assert sync["status"] == "degraded"
        assert sync["last_error"] == sync["status_message"] == "Sync failed — a platform admin can see why."
        assert "tab character" in admin.get(f"/api/v1/clusters/{cluster.pk}/").json()["sync"]["last_error"]
        dev = Client()
        dev.force_login(world.dev)
        page = dev.get("/").content.decode()
        assert "Sync failed — a platform admin can see why." in page and "tab character" not in page
        grant = world.payments.grants.get(cluster=cluster)
        assert "a platform admin can see why" in grant.applied_message and "character" not in grant.applied_message


class SafeErrorTextTests:
    """The one function every error of the Kubernetes client, the network and YAML goes through."""

    def _api_error(self, status: int, body: dict) -> ApiException:
        exc = ApiException(status=status, reason=f"Reason {MARKER}")
        exc.body = json.dumps(body).encode()
        return exc

    def test_a_cause_is_named_only_when_its_path_is_in_the_object_sent(self):
        sent = {"spec": {"hosts": ["api.example.com"]}, "metadata": {"annotations": {"egressui.io/grants": "1"}}}
        causes = [
            {"field": "spec.hosts[0]", "reason": "FieldValueInvalid", "message": MARKER},
            {"field": "metadata.annotations[egressui.io/grants]", "reason": MARKER},
            {"field": f"spec.{MARKER}", "reason": "FieldValueRequired"},
            {"field": "spec.hosts[7]", "reason": "FieldValueInvalid"},
        ]
        exc = self._api_error(422, {"reason": "Invalid", "message": MARKER, "details": {"causes": causes}})
        text = safe_error_text(exc, doing="applying ServiceEntry ns/x", sent=sent)
        assert text == (
            "HTTP 422 Invalid while applying ServiceEntry ns/x: spec.hosts[0]: FieldValueInvalid; "
            "metadata.annotations[egressui.io/grants]: invalid"
        )

    def test_an_rbac_denial_names_the_permission_and_nothing_else(self):
        def forbidden(message: str, kind: str = "serviceentries", group: str = "networking.istio.io") -> str:
            body = {"reason": "Forbidden", "message": message, "details": {"kind": kind, "group": group}}
            return safe_error_text(self._api_error(403, body), doing="applying ServiceEntry ns/x")

        denial = 'User "{user}" cannot {verb} resource "{resource}" in API group "{group}" in the namespace "ns"'
        real = denial.format(user=MARKER, verb="create", resource="serviceentries", group="networking.istio.io")
        assert forbidden(real) == (
            "HTTP 403 Forbidden while applying ServiceEntry ns/x: egressui's identity may not create "
            "serviceentries.networking.istio.io (see the ClusterRole in docs/deploy.md)"
        )
        for message in (
            denial.format(user="u", verb=MARKER.lower(), resource="serviceentries", group="networking.istio.io"),
            denial.format(user="u", verb="create", resource=f"{MARKER} x", group="networking.istio.io"),
            denial.format(user="u", verb="create", resource="secrets", group="networking.istio.io"),  # not details
            MARKER,
        ):
            assert forbidden(message) == "HTTP 403 Forbidden while applying ServiceEntry ns/x"

    def test_an_answer_that_is_not_a_status_quotes_nothing(self):
        exc = ApiException(status=502, reason="Bad Gateway")
        exc.body = f"<html>proxy error for Authorization: Bearer {MARKER}</html>".encode()
        assert safe_error_text(exc, doing="listing sidecars") == "HTTP 502 Bad Gateway while listing sidecars"

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            (TAB_IN_TOKEN, "kubeconfig line 10, column 1: a tab character is not allowed here (indent with spaces)"),
            (f"a: b\nc: {MARKER}: d\n", "kubeconfig line 2, column 16: mapping values are not allowed here"),
            (f"key: !!python/object:{MARKER} x\n", "kubeconfig line 1, column 6: could not determine a constructor"),
        ],
    )
    def test_yaml_problems_say_where_not_what(self, text, expected):
        with pytest.raises(yaml.YAMLError) as error:
            yaml.safe_load(text)
        message = safe_error_text(error.value, doing="loading", source="kubeconfig")
        assert message.startswith(expected) and MARKER not in message

    def test_urls_lose_credentials_path_and_query(self):
        assert url_origin(f"https://user:{MARKER}@hooks.example.com:8443/services/{MARKER}?t={MARKER}") == (
            "https://hooks.example.com:8443"
        )
        assert url_origin("not a url") == ""
