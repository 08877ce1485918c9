"""Idempotency-Key on POSTs: a retry replays the first response and creates nothing new."""

from datetime import timedelta

import pytest
from django.utils import timezone

from policies.api.idempotency import REPLAY_HEADER, idempotency_records_purge
from policies.models import ApiToken, AuditEvent, EgressRequest, IdempotencyRecord
from tests.policies.api.conftest import API, assert_error, create_body

pytestmark = pytest.mark.django_db


def _post(client, url, body, key):
    return client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


class IdempotencyTests:
    def test_a_retry_returns_the_first_response_and_creates_nothing(self, clients, world):
        first = _post(clients.dev, f"{API}/requests/", create_body(world, submit=True), "key-1")
        events = AuditEvent.objects.count()
        retry = _post(clients.dev, f"{API}/requests/", create_body(world, submit=True), "key-1")
        assert first.status_code == retry.status_code == 201
        assert retry.json() == first.json() and retry[REPLAY_HEADER] == "true"
        assert retry["Location"] == first["Location"] and first["Location"].endswith(f"/requests/{first.json()['id']}/")
        assert REPLAY_HEADER not in first
        assert EgressRequest.objects.count() == 1 and AuditEvent.objects.count() == events

    def test_key_order_and_whitespace_in_the_body_do_not_matter(self, clients, world):
        body = create_body(world)
        _post(clients.dev, f"{API}/requests/", body, "key-1")
        reordered = dict(reversed(list(body.items())))
        assert _post(clients.dev, f"{API}/requests/", reordered, "key-1")[REPLAY_HEADER] == "true"

    def test_the_same_key_with_another_body_is_a_422(self, clients, world):
        _post(clients.dev, f"{API}/requests/", create_body(world), "key-1")
        changed = _post(clients.dev, f"{API}/requests/", create_body(world, justification="Other."), "key-1")
        assert_error(changed, 422, "idempotency_key_reused")
        elsewhere = _post(clients.dev, f"{API}/tokens/", {"name": "x"}, "key-1")
        assert_error(elsewhere, 422, "idempotency_key_reused")
        assert EgressRequest.objects.count() == 1

    def test_a_transition_retried_is_not_a_409(self, clients, world):
        created = clients.dev.post(f"{API}/requests/", create_body(world), format="json").json()
        url = f"{API}/requests/{created['id']}/submit/"
        assert _post(clients.dev, url, {}, "submit-1").status_code == 200
        retry = _post(clients.dev, url, {}, "submit-1")
        assert retry.status_code == 200 and retry.json()["status"] == "submitted"
        assert_error(clients.dev.post(url), 409, "transition_not_allowed")  # without the key it is a new attempt

    def test_failures_are_not_remembered(self, clients, world):
        bad = _post(clients.dev, f"{API}/requests/", create_body(world, justification=""), "key-1")
        assert_error(bad, 400, "validation_error", "justification")
        assert not IdempotencyRecord.objects.exists()
        fixed = _post(clients.dev, f"{API}/requests/", create_body(world, justification=""), "key-1")
        assert fixed.status_code == 400  # the same body fails the same way, and is re-evaluated

    def test_keys_belong_to_one_user(self, clients, world):
        _post(clients.dev, f"{API}/requests/", create_body(world), "shared")
        other = _post(clients.lead, f"{API}/requests/", create_body(world), "shared")
        assert other.status_code == 201 and REPLAY_HEADER not in other
        assert EgressRequest.objects.count() == 2

    @pytest.mark.parametrize("key", ["", "has space", "x" * 256, "naïve"])
    def test_malformed_keys_are_rejected(self, clients, world, key):
        assert_error(
            _post(clients.dev, f"{API}/requests/", create_body(world), key),
            400,
            "idempotency_key_invalid",
            "Idempotency-Key",
        )

    def test_expired_keys_start_over_and_are_purged(self, clients, world, settings):
        _post(clients.dev, f"{API}/requests/", create_body(world), "key-1")
        old = timezone.now() - timedelta(hours=settings.EGRESSUI_IDEMPOTENCY_HOURS, seconds=1)
        IdempotencyRecord.objects.update(created_at=old)
        again = _post(clients.dev, f"{API}/requests/", create_body(world), "key-1")
        assert again.status_code == 201 and REPLAY_HEADER not in again
        assert EgressRequest.objects.count() == 2
        IdempotencyRecord.objects.update(created_at=old)
        assert idempotency_records_purge() == 1 and not IdempotencyRecord.objects.exists()

    def test_a_token_secret_is_never_stored_for_replay(self, clients):
        first = _post(clients.dev, f"{API}/tokens/", {"name": "deploy"}, "tok-1")
        secret = first.json()["token"]
        assert secret.startswith("egr_")
        retry = _post(clients.dev, f"{API}/tokens/", {"name": "deploy"}, "tok-1")
        assert retry.status_code == 201 and retry.json()["token"] is None
        assert retry.json()["id"] == first.json()["id"]
        assert secret not in str(IdempotencyRecord.objects.values_list("response_body", flat=True))
        assert ApiToken.objects.filter(name="deploy").count() == 1


def test_the_beat_schedule_purges_old_keys(clients, world, settings):
    from egressui.celery import app
    from policies.schedule import beat_schedule
    from policies.tasks import purge_idempotency_records_task

    entry = beat_schedule(resync_seconds=600)["purge-idempotency-keys"]
    assert entry["task"] in app.tasks
    _post(clients.dev, f"{API}/requests/", create_body(world), "key-1")
    assert purge_idempotency_records_task() == 0
    IdempotencyRecord.objects.update(
        created_at=timezone.now() - timedelta(hours=settings.EGRESSUI_IDEMPOTENCY_HOURS + 1)
    )
    assert purge_idempotency_records_task() == 1
