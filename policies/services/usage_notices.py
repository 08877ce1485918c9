"""Telling teams about grants nobody uses, once per idle period: a grant is named again only after
it was used since its last notice and then went quiet again."""

from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from policies.models import Grant, Team, UnusedGrantNotice
from policies.selectors.monitoring import unused_grants
from policies.services.notifications import notify_grants_unused


def unused_grants_notify(*, now: datetime | None = None) -> int:
    """Email each team a digest of its newly unused grants (EGRESSUI_UNUSED_GRANT_NOTIFY); returns
    how many grants were named. Records are bookkeeping for the digest, not audited state."""
    if not settings.EGRESSUI_UNUSED_GRANT_NOTIFY:
        return 0
    now = now or timezone.now()
    report = unused_grants(grants=Grant.objects.all(), now=now)
    already_told = Q(unused_notice__isnull=False) & (
        Q(last_used_at__isnull=True) | Q(last_used_at__lte=F("unused_notice__notified_at"))
    )
    due: dict[int, list[Grant]] = {}
    for grant in report.grants.exclude(already_told):
        due.setdefault(grant.team_id, []).append(grant)
    for team in Team.objects.filter(pk__in=due):
        grants = due[team.pk]
        with transaction.atomic():
            notify_grants_unused(team=team, grants=grants, days=report.days)
            UnusedGrantNotice.objects.bulk_create(
                [UnusedGrantNotice(grant=grant, notified_at=now) for grant in grants],
                update_conflicts=True,
                unique_fields=["grant"],
                update_fields=["notified_at"],
            )
    return sum(len(grants) for grants in due.values())
