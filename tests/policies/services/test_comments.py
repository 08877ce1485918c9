import pytest

from policies.choices import AuditEventType, RequestStatus
from policies.exceptions import PermissionDenied, ValidationFailed
from policies.models import AuditEvent
from policies.services.comments import egress_request_comment
from policies.services.requests import egress_request_create, egress_request_update


@pytest.mark.django_db
class CommentTests:
    def test_comment_is_an_audit_event_of_the_request(self, world):
        request = egress_request_create(requester=world.dev, data=world.request_input(), submit=True)
        event = egress_request_comment(request=request, actor=world.lead, body="  Which endpoints exactly?  ")
        assert event.event_type == AuditEventType.REQUEST_COMMENTED
        assert event.egress_request_id == request.pk
        assert event.actor_repr == "payments-lead"
        assert event.message == "Which endpoints exactly?"

    def test_someone_who_cannot_see_the_request_cannot_comment(self, world):
        request = egress_request_create(requester=world.dev, data=world.request_input())
        before = AuditEvent.objects.count()
        with pytest.raises(PermissionDenied):
            egress_request_comment(request=request, actor=world.searcher, body="hello")
        assert AuditEvent.objects.count() == before

    def test_empty_comment_names_the_field(self, world):
        request = egress_request_create(requester=world.dev, data=world.request_input())
        with pytest.raises(ValidationFailed) as caught:
            egress_request_comment(request=request, actor=world.dev, body="   ")
        assert "body" in caught.value.fields


@pytest.mark.django_db
class UpdateAndSubmitTests:
    def test_update_with_submit_edits_and_submits_at_once(self, world):
        draft = egress_request_create(requester=world.dev, data=world.request_input())
        updated = egress_request_update(
            request=draft, actor=world.dev, data=world.request_input("api.adyen.com"), submit=True
        )
        assert updated.status == RequestStatus.SUBMITTED
        assert [d.host for d in updated.destinations.all()] == ["api.adyen.com"]

    def test_a_refused_edit_and_submit_changes_nothing(self, world):
        draft = egress_request_create(requester=world.dev, data=world.request_input())
        other_team_identity = world.indexer
        with pytest.raises(ValidationFailed):
            egress_request_update(
                request=draft,
                actor=world.dev,
                data=world.request_input("api.adyen.com", identities=[other_team_identity]),
                submit=True,
            )
        draft.refresh_from_db()
        assert draft.status == RequestStatus.DRAFT
        assert [d.host for d in draft.destinations.all()] == ["api.stripe.com"]
