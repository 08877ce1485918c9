"""The state machines of requests, approval steps and grants are enforced by one function."""

import itertools

import pytest
from django.db import transaction

from policies.choices import AuditEventType, GrantStatus, RequestStatus
from policies.exceptions import TransitionNotAllowed
from policies.models import AuditEvent
from policies.services.grants import grant_revoke
from policies.services.transitions import MACHINES, transition, transition_check
from tests.factories import GrantFactory, RequestFactory


@pytest.mark.parametrize("model", list(MACHINES))
def test_every_state_has_a_row_and_only_the_table_s_moves_are_allowed(model):
    _, table, states = MACHINES[model]
    assert set(table) == set(states.values)
    for current, target in itertools.product(states.values, repeat=2):
        obj = model(pk=7, status=current)
        if target in table[current]:
            transition_check(obj, target)
        else:
            with pytest.raises(TransitionNotAllowed, match="#7 is"):
                transition_check(obj, target)


@pytest.mark.django_db
class TransitionTests:
    def test_a_disallowed_transition_raises_and_writes_nothing(self, world):
        request = RequestFactory(team=world.payments, requester=world.dev, status=RequestStatus.CANCELLED)
        with pytest.raises(TransitionNotAllowed, match="is cancelled; it cannot become approved"):
            transition(request, RequestStatus.APPROVED, actor=world.admin, event_type=AuditEventType.REQUEST_APPROVED)
        request.refresh_from_db()
        assert request.status == RequestStatus.CANCELLED and not AuditEvent.objects.exists()

    def test_a_transition_sets_saves_and_audits(self, world):
        request = RequestFactory(team=world.payments, requester=world.dev, status=RequestStatus.DRAFT)
        with transaction.atomic():  # the caller's (a service's) transaction
            transition(
                request,
                RequestStatus.CANCELLED,
                actor=world.dev,
                event_type=AuditEventType.REQUEST_CANCELLED,
                fields={"decision_reason": "postponed"},
            )
        request.refresh_from_db()
        assert (request.status, request.decision_reason) == (RequestStatus.CANCELLED, "postponed")
        event = AuditEvent.objects.get()
        assert (event.before, event.after, event.egress_request) == (
            {"status": "draft"},
            {"status": "cancelled"},
            request,
        )

    def test_requests_and_grants_cannot_skip_their_event(self, world):
        request = RequestFactory(team=world.payments, requester=world.dev)
        with pytest.raises(TypeError):
            transition(request, RequestStatus.CANCELLED, actor=world.dev, event_type=None)

    def test_an_ended_grant_is_not_revoked_again(self, world):
        grant = GrantFactory(identity=world.checkout, status=GrantStatus.EXPIRED)
        with pytest.raises(TransitionNotAllowed, match="is expired; it cannot become revoked"):
            grant_revoke(grant=grant, actor=world.admin, reason="again")
