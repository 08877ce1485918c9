"""Grants marked "expired" because a later approval replaced them become "superseded", linked to the
grant that replaced them; grants that simply expired stay expired."""

import importlib
from datetime import timedelta

import pytest
from django.apps import apps
from django.utils import timezone

from policies.models import Grant
from tests.factories import GrantFactory

pytestmark = [
    pytest.mark.django_db,
    # The data migration's own functions run here: migrations are not the application's write path.
    pytest.mark.unaudited_writes("runs a data migration against the current models"),
]
migration = importlib.import_module("policies.migrations.0012_grant_superseded")


def test_superseded_grants_get_their_status_and_successor(world):
    past = timezone.now() - timedelta(days=10)
    old = GrantFactory(
        identity=world.checkout, host="api.stripe.com", valid_from=past, expires_at=past + timedelta(days=30)
    )
    Grant.objects.filter(pk=old.pk).update(status="expired")
    new = GrantFactory(identity=world.checkout, host="api.stripe.com")
    Grant.objects.filter(pk=old.pk).update(end_reason=f"Superseded by request #{new.request_id}.")
    lapsed = GrantFactory(identity=world.refunds, valid_from=past, expires_at=past + timedelta(days=1))
    Grant.objects.filter(pk=lapsed.pk).update(status="expired", end_reason="Expired.")

    migration.mark_superseded(apps, None)
    old.refresh_from_db()
    lapsed.refresh_from_db()
    assert (old.status, old.superseded_by_id) == ("superseded", new.pk)
    assert old.end_reason == f"Superseded by grant #{new.pk} (request #{new.request_id})."
    assert (lapsed.status, lapsed.superseded_by_id) == ("expired", None)

    migration.unmark_superseded(apps, None)
    old.refresh_from_db()
    assert old.status == "expired" and old.end_reason == f"Superseded by request #{new.request_id}."
