import pytest
from django.apps import apps
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError

from policies.choices import AuditEventType, GrantStatus, RequestStatus
from policies.models import AuditEvent, EgressRequest, Grant, Namespace
from policies.selectors.audit import audit_chain_verify

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
        states = {ns.name: (ns.team.slug, ns.enforcement) for ns in Namespace.objects.select_related("team")}
        assert states == {
            "payments": ("payments", "enforce"),
            "search": ("search", "enforce"),
            "ledger": ("payments", "enforce"),
            "reports": ("search", "observe"),
        }
        assert not Grant.objects.filter(identity__namespace__name__in=["ledger", "reports"]).exists()
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
