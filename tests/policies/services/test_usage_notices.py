"""Unused-grant digests: one email per team, each idle period named once, only when enabled."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from policies.models import ClusterIngestState, UnusedGrantNotice
from policies.services.access_logs import access_log_ingest
from policies.services.usage_notices import unused_grants_notify
from policies.tasks import send_email_task
from tests.factories import GrantFactory

pytestmark = pytest.mark.django_db(transaction=True)


def old_grant(identity, host):
    now = timezone.now()
    return GrantFactory(
        identity=identity, host=host, valid_from=now - timedelta(days=40), expires_at=now + timedelta(days=30)
    )


def use(world, principal="payments/sa/checkout", host="api.stripe.com", *, at=None):
    moment = at or timezone.now() - timedelta(minutes=5)
    namespace, _, account = principal.partition("/sa/")
    record = {
        "start_time": moment.isoformat(),
        "sni": host,
        "source_principal": f"spiffe://cluster.local/ns/{namespace}/sa/{account}",
        "response_flags": "-",
    }
    access_log_ingest(cluster=world.cluster, records=[(1, record)])


@pytest.fixture
def monitored(world, settings, monkeypatch):
    """A cluster whose access log covers the last 60 days; emails are sent in process after commit."""
    settings.EGRESSUI_UNUSED_GRANT_NOTIFY = True
    monkeypatch.setattr(send_email_task, "delay", lambda **kwargs: send_email_task.apply(kwargs=kwargs).get())
    use(world)
    ClusterIngestState.objects.filter(cluster=world.cluster).update(
        first_received_at=timezone.now() - timedelta(days=60)
    )
    return world


class UnusedGrantNoticeTests:
    def test_one_digest_per_team_naming_each_idle_grant(self, monitored):
        world = monitored
        old_grant(world.checkout, "api.stripe.com")
        use(world)  # used a moment ago
        idle = [old_grant(world.refunds, "a.example.com"), old_grant(world.refunds, "b.example.com")]
        old_grant(world.indexer, "c.example.com")
        assert unused_grants_notify() == 3
        subjects = sorted(message.subject for message in mail.outbox)
        assert subjects == [
            "[egressui] 1 grant of team search unused for 30 days",
            "[egressui] 2 grants of team payments unused for 30 days",
        ]
        payments = next(message for message in mail.outbox if "payments" in message.subject)
        assert payments.to == ["payments@example.com"]
        assert all(f"grant #{grant.pk}:" in payments.body for grant in idle)
        assert "api.stripe.com" not in payments.body

    def test_a_grant_is_named_again_only_after_it_was_used_and_went_quiet(self, monitored):
        world = monitored
        idle = old_grant(world.refunds, "a.example.com")
        assert unused_grants_notify() == 1
        assert unused_grants_notify() == 0
        UnusedGrantNotice.objects.filter(grant=idle).update(notified_at=timezone.now() - timedelta(days=45))
        use(world, "payments/sa/refunds", "a.example.com", at=timezone.now() - timedelta(days=35))
        assert unused_grants_notify() == 1
        assert len(mail.outbox) == 2

    def test_nothing_is_sent_when_disabled(self, monitored, settings):
        settings.EGRESSUI_UNUSED_GRANT_NOTIFY = False
        old_grant(monitored.refunds, "a.example.com")
        assert unused_grants_notify() == 0
        assert mail.outbox == [] and not UnusedGrantNotice.objects.exists()

    def test_unmonitored_clusters_are_not_reported(self, world, settings):
        settings.EGRESSUI_UNUSED_GRANT_NOTIFY = True
        old_grant(world.refunds, "a.example.com")
        assert unused_grants_notify() == 0
