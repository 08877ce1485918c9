"""Cluster and team secrets are Fernet tokens at rest, readable on the instance, rotatable."""

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import connection

from policies.choices import AuditEventType
from policies.models import AuditEvent, Cluster, Team
from tests.factories import ClusterFactory, TeamFactory

pytestmark = pytest.mark.django_db


def _stored(table, column, pk):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])
        return cursor.fetchone()[0]


class EncryptedFieldTests:
    def test_secrets_are_not_stored_in_clear(self):
        cluster = ClusterFactory(token="eyJhbGciOi-secret-token", ca_cert="-----BEGIN CERTIFICATE-----")
        stored = _stored("policies_cluster", "token", cluster.pk)
        assert stored and "secret-token" not in stored
        assert Cluster.objects.get(pk=cluster.pk).token == "eyJhbGciOi-secret-token"
        assert "BEGIN" not in _stored("policies_cluster", "ca_cert", cluster.pk)

    def test_empty_values_stay_empty(self):
        team = TeamFactory(webhook_secret="")
        assert _stored("policies_team", "webhook_secret", team.pk) == ""

    def test_rotation_re_encrypts_under_the_new_key(self, settings, capsys):
        old_key = settings.EGRESSUI_ENCRYPTION_KEYS[0]
        cluster = ClusterFactory(token="tok-1")
        team = TeamFactory(webhook_secret="hook-1")
        before = _stored("policies_cluster", "token", cluster.pk)
        new_key = Fernet.generate_key().decode()
        settings.EGRESSUI_ENCRYPTION_KEYS = [new_key, old_key]
        call_command("rotate_encryption_key")
        assert "re-encrypted 2 secret values" in capsys.readouterr().out
        assert _stored("policies_cluster", "token", cluster.pk) != before
        settings.EGRESSUI_ENCRYPTION_KEYS = [new_key]  # the old key can now be dropped
        assert Cluster.objects.get(pk=cluster.pk).token == "tok-1"
        assert Team.objects.get(pk=team.pk).webhook_secret == "hook-1"
        assert AuditEvent.objects.filter(event_type=AuditEventType.ENCRYPTION_KEY_ROTATED).exists()

    def test_a_missing_key_fails_loudly(self, settings):
        cluster = ClusterFactory(token="tok-2")
        settings.EGRESSUI_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
        with pytest.raises(ImproperlyConfigured, match="cannot be decrypted"):
            Cluster.objects.get(pk=cluster.pk)

    def test_an_invalid_key_is_named(self, settings):
        settings.EGRESSUI_ENCRYPTION_KEYS = ["not-a-key"]
        with pytest.raises(ImproperlyConfigured, match="key #1 is not a valid Fernet key"):
            ClusterFactory(token="x")
