import pytest
from django.apps import apps
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError

from policies.choices import AuditEventType, GrantStatus, RequestStatus
from policies.models import AccessRecord, AuditEvent, Cluster, EgressRequest, Grant, Namespace
from policies.selectors.audit import audit_chain_verify
from policies.selectors.manifests import cluster_render

pytestmark = pytest.mark.django_db


class SeedDemoTests:
    def test_creates_every_state_and_is_idempotent(self, settings, tmp_path, capsys):
        settings.DEBUG = True
        settings.VAR_DIR = tmp_path
        call_command("seed_demo", "--password", "pw-123")
        statuses = set(EgressRequest.objects.values_list("status", flat=True))
        assert statuses == set(RequestStatus.values)
        assert Grant.objects.filter(status=GrantStatus.ACTIVE).exists()
        assert Grant.objects.filter(status=GrantStatus.REVOKED).exists()
        states = {
            (ns.cluster.name, ns.name): (ns.team.slug, ns.enforcement)
            for ns in Namespace.objects.select_related("team", "cluster")
        }
        assert states == {
            ("demo", "payments"): ("payments", "enforce"),
            ("demo", "search"): ("search", "enforce"),
            ("demo", "ledger"): ("payments", "enforce"),
            ("demo", "reports"): ("search", "observe"),
            ("demo-ambient", "payments"): ("payments", "enforce"),
            ("demo-cilium", "storefront"): ("payments", "enforce"),
            ("demo-cilium", "analytics"): ("search", "observe"),
        }
        assert not Grant.objects.filter(identity__namespace__name__in=["ledger", "reports"]).exists()
        ambient = Cluster.objects.get(name="demo-ambient")
        assert ambient.enforcement_mode == "istio-ambient" and ambient.connection_kind == "directory"
        ambient_grants = Grant.objects.filter(identity__namespace__cluster=ambient, status=GrantStatus.ACTIVE)
        assert {(g.identity.service_account, g.host, g.protocol) for g in ambient_grants} == {
            ("checkout", "api.stripe.com", "tls"),
            ("refunds", "api.stripe.com", "tls"),
            ("checkout", "api.paypal.com", "http-originate"),
            ("checkout", "203.0.113.16/30", "tcp"),
        }
        result = cluster_render(ambient)
        assert not result.unrenderable
        assert {obj["apiVersion"] for obj in result.objects if obj["kind"] == "Gateway"} == {
            "gateway.networking.k8s.io/v1"
        }
        verdicts = set(AccessRecord.objects.filter(cluster=ambient).values_list("verdict", flat=True))
        assert verdicts == {"allowed", "denied", "blocked_at_source"}
        assert AccessRecord.objects.filter(cluster=ambient, grant__isnull=False).exists()
        # Teams, memberships, rules and the platform admin came through the services: each has its event.
        for model in ("team", "teammembership", "approvalrule", "approvalrulestep", "domainlist"):
            written = {str(pk) for pk in apps.get_model("policies", model).objects.values_list("pk", flat=True)}
            events = AuditEvent.objects.filter(subject_type=model, event_type=AuditEventType.CONFIG_CREATED)
            assert written and written == set(events.values_list("subject_id", flat=True)), model
        groups = AuditEvent.objects.get(subject_type="user", subject_repr="admin", before__has_key="groups")
        assert (groups.actor_repr, groups.after) == ("operator", {"groups": [settings.EGRESSUI_ADMIN_GROUP]})
        counts = (EgressRequest.objects.count(), Grant.objects.count(), AuditEvent.objects.count())
        call_command("seed_demo", "--password", "other")
        assert (EgressRequest.objects.count(), Grant.objects.count(), AuditEvent.objects.count()) == counts
        assert User.objects.get(username="payments-dev").check_password("pw-123")
        assert audit_chain_verify().ok
        assert "payments-lead" in capsys.readouterr().out

    def test_refuses_without_debug(self, settings):
        settings.DEBUG = False
        with pytest.raises(CommandError, match="refusing"):
            call_command("seed_demo")
        assert not User.objects.exists()

    def test_the_cilium_demo_cluster_renders_reconciles_and_is_monitored(self, settings, tmp_path):
        from policies.choices import AccessVerdict
        from policies.models import AccessRecord, Cluster, ReconcileRun
        from policies.reconciler.loop import reconcile_cluster
        from policies.selectors.manifests import cluster_render

        settings.DEBUG = True
        settings.VAR_DIR = tmp_path
        call_command("seed_demo", "--password", "pw-123")
        cluster = Cluster.objects.get(name="demo-cilium")
        assert (cluster.enforcement_mode, cluster.connection_kind) == ("cilium", "directory")
        result = cluster_render(cluster)
        assert {(o["kind"], o["metadata"]["namespace"]) for o in result.objects} == {
            ("CiliumNetworkPolicy", "storefront"),
            ("CiliumNetworkPolicy", "analytics"),
        }
        assert not result.unrenderable  # the http-originate request is still pending
        waiting = EgressRequest.objects.get(
            status=RequestStatus.SUBMITTED,
            destinations__protocol="http-originate",
            identities__namespace__cluster=cluster,
        )
        assert waiting.grants.count() == 0
        run = reconcile_cluster(cluster.pk, trigger="test")
        assert run.outcome == ReconcileRun.Outcome.SUCCEEDED and run.created == 2
        assert (tmp_path / "gitops" / "demo-cilium" / "storefront").is_dir()
        verdicts = set(AccessRecord.objects.filter(cluster=cluster).values_list("host", "verdict"))
        assert {
            ("api.stripe.com", AccessVerdict.ALLOWED),
            ("api.github.com", AccessVerdict.ALLOWED),
            ("pastebin.com", AccessVerdict.BLOCKED_AT_SOURCE),
            ("api.openexchangerates.org", AccessVerdict.OBSERVED),
        } <= verdicts
