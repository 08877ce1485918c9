"""The upgrade keeps each cluster as it was: namespaces locked down by a grant in force stay enforced,
the others (which had nothing rendered) become observed."""

import importlib
from datetime import timedelta

import pytest
from django.apps import apps
from django.utils import timezone

from policies.models import Namespace
from tests.factories import GrantFactory, IdentityFactory, NamespaceFactory

pytestmark = pytest.mark.django_db
migration = importlib.import_module("policies.migrations.0009_namespace_enforcement")


def test_namespaces_with_a_grant_in_force_stay_enforced(world):
    Namespace.objects.update(enforcement="observe", enforcement_changed_at=None)
    GrantFactory(identity=world.checkout)  # payments: a grant in force
    past = timezone.now() - timedelta(days=10)
    GrantFactory(identity=world.indexer, valid_from=past, expires_at=past + timedelta(days=1))  # search: expired
    quiet = NamespaceFactory(cluster=world.cluster, name="quiet", team=world.payments, enforcement="observe")
    IdentityFactory(namespace=quiet)
    migration.keep_what_the_cluster_has(apps, None)
    states = dict(Namespace.objects.values_list("name", "enforcement"))
    assert states == {"payments": "enforce", "search": "observe", "quiet": "observe"}
    assert Namespace.objects.get(name="payments").enforcement_changed_at is not None
