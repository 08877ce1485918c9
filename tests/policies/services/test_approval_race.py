"""Two approvers acting at the same moment produce exactly one set of grants (PostgreSQL row locks).

The first approver's transaction is held open right after it has taken its locks, and the second
approver starts only then; without the row lock the second would read the request as still pending
and both would decide."""

import threading
import time

import pytest
from django.db import connection

from policies.choices import RequestStatus
from policies.exceptions import ApplicationError
from policies.models import ApprovalDecision, Grant
from policies.services import approvals
from policies.services.approvals import egress_request_approve, egress_request_reject
from policies.services.requests import egress_request_create
from tests.conftest import World

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _overlapping(first, second, monkeypatch):
    """Run `first` and `second` in two threads (two connections) so that `second` starts while
    `first` holds its locks inside its transaction."""
    first_locked = threading.Event()
    original = approvals.step_denial_reason

    def holding(user, request, step):
        reason = original(user, request, step)
        if threading.current_thread().name == "first":
            first_locked.set()
            time.sleep(0.5)  # keep the transaction open while the second approver arrives
        return reason

    monkeypatch.setattr(approvals, "step_denial_reason", holding)
    outcomes: dict[str, tuple] = {}

    def run(name, action, wait_for=None):
        try:
            if wait_for is not None:
                assert wait_for.wait(timeout=10)
            outcomes[name] = ("ok", action())
        except ApplicationError as exc:
            outcomes[name] = ("refused", exc)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=run, args=("first", first), name="first"),
        threading.Thread(target=run, args=("second", second, first_locked), name="second"),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return outcomes


class ConcurrentApprovalTests:
    def test_two_approvers_at_once_create_one_set_of_grants(self, monkeypatch):
        world = World()
        request = egress_request_create(
            requester=world.dev, data=world.request_input(identities=[world.checkout, world.refunds]), submit=True
        )
        outcomes = _overlapping(
            lambda: egress_request_approve(request=request, approver=world.lead),
            lambda: egress_request_approve(request=request, approver=world.lead2),
            monkeypatch,
        )
        assert outcomes["first"][0] == "ok", outcomes
        assert outcomes["second"][0] == "refused", outcomes
        assert "not waiting for approval" in outcomes["second"][1].message
        request.refresh_from_db()
        assert request.status == RequestStatus.APPROVED
        assert Grant.objects.filter(request=request).count() == 2
        assert ApprovalDecision.objects.filter(request=request).count() == 1

    def test_reject_arriving_during_an_approval_is_refused(self, monkeypatch):
        world = World()
        request = egress_request_create(requester=world.dev, data=world.request_input(), submit=True)
        outcomes = _overlapping(
            lambda: egress_request_approve(request=request, approver=world.lead),
            lambda: egress_request_reject(request=request, approver=world.lead2, comment="no"),
            monkeypatch,
        )
        assert [outcomes["first"][0], outcomes["second"][0]] == ["ok", "refused"], outcomes
        request.refresh_from_db()
        assert request.status == RequestStatus.APPROVED
        assert Grant.objects.filter(request=request).count() == 1
