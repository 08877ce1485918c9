"""Notifications: who hears about what, sent by tasks after commit; failures never touch the workflow."""

import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from celery.exceptions import Retry
from django.core import mail

from policies.models import AuditEvent
from policies.services.approvals import egress_request_approve
from policies.services.comments import egress_request_comment
from policies.services.grants import grant_break_glass
from policies.services.requests import egress_request_create
from policies.tasks import send_email_task, send_webhook_task
from policies.webhooks import WebhookDeliveryError, deliver, sign
from tests.factories import fixture_save

pytestmark = pytest.mark.django_db


@pytest.fixture
def run_tasks_inline(settings, monkeypatch):
    """Execute `.delay()` of the notification tasks in process, as a worker would after commit."""
    for task in (send_email_task, send_webhook_task):
        monkeypatch.setattr(task, "delay", lambda *a, _t=task, **kw: _t.apply(args=a, kwargs=kw).get())


class NotificationTests:
    def test_approvers_of_the_waiting_step_are_emailed(
        self, world, run_tasks_inline, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=True):
            request = egress_request_create(requester=world.dev, data=world.request_input(), submit=True)
        assert len(mail.outbox) == 1
        message = mail.outbox[0]
        assert sorted(message.to) == ["payments-lead2@example.com", "payments-lead@example.com"]
        assert f"Request #{request.pk}" in message.subject and "api.stripe.com" in message.body
        assert f"/requests/{request.pk}/" in message.body or "http://" in message.body

    def test_requester_hears_the_decision(self, world, run_tasks_inline, django_capture_on_commit_callbacks):
        request = egress_request_create(requester=world.dev, data=world.request_input(), submit=True)
        with django_capture_on_commit_callbacks(execute=True):
            egress_request_approve(request=request, approver=world.lead, comment="Go ahead.")
        assert [m.to for m in mail.outbox] == [["payments-dev@example.com"]]
        assert "approved by payments-lead" in mail.outbox[0].body and "Go ahead." in mail.outbox[0].body

    def test_a_comment_reaches_the_other_side_of_the_conversation(
        self, world, run_tasks_inline, receiver, django_capture_on_commit_callbacks
    ):
        url, handler = receiver
        world.payments.webhook_url = url
        fixture_save(world.payments)
        request = egress_request_create(requester=world.dev, data=world.request_input(), submit=True)
        with django_capture_on_commit_callbacks(execute=True):
            egress_request_comment(request=request, actor=world.lead, body="Which service calls Stripe?")
        [message] = mail.outbox  # the requester and the other approver of the waiting step, not the author
        assert sorted(message.to) == ["payments-dev@example.com", "payments-lead2@example.com"]
        assert "comment by payments-lead" in message.subject and "Which service calls Stripe?" in message.body
        mail.outbox.clear()
        with django_capture_on_commit_callbacks(execute=True):
            egress_request_comment(request=request, actor=world.dev, body="checkout, for card payments.")
        assert sorted(mail.outbox[0].to) == ["payments-lead2@example.com", "payments-lead@example.com"]
        events = [json.loads(body) for _headers, body in handler.received]
        assert [event["event"] for event in events] == ["request.commented", "request.commented"]
        assert events[-1]["data"]["author"] == "payments-dev"

    def test_the_team_hears_of_break_glass_access_at_once(
        self, world, run_tasks_inline, receiver, django_capture_on_commit_callbacks
    ):
        url, handler = receiver
        world.payments.webhook_url, world.payments.webhook_secret = url, "k"
        fixture_save(world.payments)
        with django_capture_on_commit_callbacks(execute=True):
            request = grant_break_glass(
                admin=world.admin, data=world.request_input(), reason="INC-42: payments down", duration_hours=2
            )
        [grant] = request.grants.all()
        [message] = mail.outbox
        assert message.to == [world.payments.email]  # the team's address (its approvers when it has none)
        assert "Break-glass access for team payments by admin (2 h)" in message.subject
        assert "INC-42: payments down" in message.body and f"grant #{grant.pk}:" in message.body
        [(_headers, body)] = handler.received
        event = json.loads(body)
        assert event["event"] == "grant.break_glass"
        assert event["data"]["grant_ids"] == [grant.pk] and event["data"]["hours"] == 2
        assert event["data"]["reason"] == "INC-42: payments down"

    def test_failing_mail_server_does_not_roll_back(
        self, world, settings, django_capture_on_commit_callbacks, monkeypatch
    ):
        def broken(*args, **kwargs):
            raise OSError("smtp down")

        monkeypatch.setattr(send_email_task, "delay", broken)
        with django_capture_on_commit_callbacks(execute=True):
            request = egress_request_create(requester=world.dev, data=world.request_input(), submit=True)
        request.refresh_from_db()
        assert request.status == "submitted"

    def test_a_broker_that_is_down_costs_the_webhook_not_the_comment(
        self, world, django_capture_on_commit_callbacks, monkeypatch, caplog
    ):
        def broken(*args, **kwargs):
            raise OSError("broker down")

        world.payments.webhook_url = "https://hooks.example.com/egress"
        fixture_save(world.payments)
        request = egress_request_create(requester=world.dev, data=world.request_input(), submit=True)
        monkeypatch.setattr(send_webhook_task, "delay", broken)
        with django_capture_on_commit_callbacks(execute=True):
            comment = egress_request_comment(request=request, actor=world.lead, body="Which service calls Stripe?")
        assert AuditEvent.objects.filter(pk=comment.pk).exists()
        assert f"could not enqueue webhook for team {world.payments.pk}: broker down" in caplog.text


class _Receiver(BaseHTTPRequestHandler):
    status = 200
    received: list = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((dict(self.headers), body))
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    _Receiver.received = []
    _Receiver.status = 200
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook", _Receiver
    server.shutdown()
    server.server_close()


class WebhookTests:
    def test_signed_json_post(self, receiver):
        url, handler = receiver
        assert deliver(url=url, secret="s3cret", event="request.approved", payload={"request_id": 7}) == 200
        headers, body = handler.received[0]
        assert json.loads(body) == {"event": "request.approved", "data": {"request_id": 7}}
        expected = hmac.new(b"s3cret", headers["X-Egressui-Timestamp"].encode() + b"." + body, hashlib.sha256)
        assert headers["X-Egressui-Signature"] == "sha256=" + expected.hexdigest()
        assert headers["X-Egressui-Signature"] == sign("s3cret", headers["X-Egressui-Timestamp"], body)

    def test_server_errors_are_retryable(self, receiver):
        url, handler = receiver
        handler.status = 503
        with pytest.raises(WebhookDeliveryError, match="503"):
            deliver(url=url, secret="", event="x", payload={})

    def test_unreachable_is_retryable(self):
        with pytest.raises(WebhookDeliveryError):
            deliver(url="http://127.0.0.1:9/none", secret="", event="x", payload={})

    def test_task_asks_celery_to_retry_with_backoff(self, world, receiver, monkeypatch):
        url, handler = receiver
        handler.status = 500
        world.payments.webhook_url = url
        world.payments.webhook_secret = "k"
        fixture_save(world.payments)
        retries = []

        def fake_retry(exc=None, countdown=None, **kwargs):
            retries.append((str(exc), countdown))
            return Retry(exc=exc, when=countdown)

        monkeypatch.setattr(send_webhook_task, "retry", fake_retry)
        with pytest.raises(Retry):
            send_webhook_task.run(team_id=world.payments.pk, event="x", payload={})
        assert retries == [("HTTP 500", 10)]
        assert len(handler.received) == 1

    def test_team_without_webhook_is_a_no_op(self, world):
        assert send_webhook_task.run(team_id=world.payments.pk, event="x", payload={}) is None
