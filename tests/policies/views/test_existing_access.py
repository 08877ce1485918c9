"""Asking for access that already exists (issue 16, item 5): the form and the API warn, approvers read
"replaces grant #N", the preview says "no effective change", and the old grant reads "Superseded by #M"."""

import pytest
from django.urls import reverse

from policies.services.approvals import egress_request_approve
from policies.services.requests import egress_request_create

pytestmark = pytest.mark.django_db


def approved(world, host="api.stripe.com"):
    request = egress_request_create(requester=world.dev, data=world.request_input(host), submit=True)
    egress_request_approve(request=request, approver=world.lead)
    return request.grants.get()


class SupersededGrantTests:
    def test_a_replaced_grant_says_by_which_grant(self, client, world):
        old = approved(world)
        new = approved(world)
        client.force_login(world.dev)
        detail = client.get(reverse("grant_detail", args=[old.pk])).content.decode()
        assert "Superseded by <a href" in detail and f"grant #{new.pk}</a>" in detail
        assert "badge-superseded" in detail and ">Expired<" not in detail
        newer = client.get(reverse("grant_detail", args=[new.pk])).content.decode()
        assert f'<dt>Replaces</dt><dd><a href="{reverse("grant_detail", args=[old.pk])}">grant #{old.pk}</a>' in newer
        listing = client.get(reverse("grant_list")).content.decode()
        assert f'by <a href="{reverse("grant_detail", args=[new.pk])}">#{new.pk}</a>' in listing


class NoEffectiveChangeTests:
    def test_renewing_an_active_grant_previews_as_no_effective_change(self, client, world):
        approved(world)
        renewal = egress_request_create(requester=world.dev, data=world.request_input(), submit=True)
        client.force_login(world.lead)
        content = client.get(reverse("request_preview", args=[renewal.pk]), headers={"HX-Request": "true"})
        text = content.content.decode()
        assert "no effective change" in text and "0 to change" not in text and "to change" not in text
        assert "only get new egressui annotations" in text


def _form_data(world, host="api.stripe.com", port="443", identities=None):
    return {
        "team": world.payments.pk,
        "identities": [i.pk for i in (identities or [world.checkout])],
        "justification": "Card payments.",
        "duration_days": "30",
        "dest-TOTAL_FORMS": "1",
        "dest-INITIAL_FORMS": "0",
        "dest-0-host": host,
        "dest-0-port": port,
        "dest-0-protocol": "tls",
    }


class RequestFormWarningTests:
    def test_live_check_warns_about_an_active_grant_and_a_pending_request(self, client, world):
        grant = approved(world)
        pending = egress_request_create(
            requester=world.dev, data=world.request_input(identities=[world.refunds]), submit=True
        )
        client.force_login(world.dev)
        response = client.post(
            reverse("request_check"),
            _form_data(world, identities=[world.checkout, world.refunds]),
            headers={"HX-Request": "true"},
        )
        text = response.content.decode()
        assert "✓ api.stripe.com:443" in text  # still valid: a warning, not an error
        assert f"through grant #{grant.pk}, which expires on {grant.expires_at:%Y-%m-%d}" in text
        assert "approving this request replaces it" in text
        assert f"is already asked for in request #{pending.pk} (pending approval)" in text

    def test_no_warning_for_new_access_or_other_ports(self, client, world):
        approved(world)
        client.force_login(world.dev)
        for data in (_form_data(world, host="api.adyen.com"), _form_data(world, port="8443")):
            text = client.post(reverse("request_check"), data, headers={"HX-Request": "true"}).content.decode()
            assert "existing-access" not in text

    def test_a_forged_identity_of_another_team_reveals_nothing(self, client, world):
        search_request = egress_request_create(
            requester=world.searcher,
            data=world.request_input(team=world.search, identities=[world.indexer]),
            submit=True,
        )
        client.force_login(world.dev)
        text = client.post(
            reverse("request_check"), _form_data(world, identities=[world.indexer]), headers={"HX-Request": "true"}
        ).content.decode()
        assert f"request #{search_request.pk}" not in text and "existing-access" not in text

    def test_saving_stays_allowed_and_the_request_page_says_what_it_replaces(self, client, world):
        grant = approved(world)
        client.force_login(world.dev)
        response = client.post(reverse("request_create"), {**_form_data(world), "action": "submit"})
        assert response.status_code == 302
        renewal = world.payments.requests.order_by("-pk").first()
        client.force_login(world.lead)
        text = client.get(reverse("request_detail", args=[renewal.pk])).content.decode()
        assert f'replaces <a href="{reverse("grant_detail", args=[grant.pk])}">grant #{grant.pk}</a>' in text
        assert f"(expires {grant.expires_at:%Y-%m-%d})" in text

    def test_the_inbox_says_what_a_request_replaces(self, client, world):
        grant = approved(world)
        egress_request_create(requester=world.dev, data=world.request_input(), submit=True)
        client.force_login(world.lead)
        text = client.get(reverse("approval_inbox")).content.decode()
        assert f"grant #{grant.pk}</a> (expires {grant.expires_at:%Y-%m-%d})" in text

    def test_after_approval_the_request_page_no_longer_warns(self, client, world):
        approved(world)
        second = approved(world)
        client.force_login(world.dev)
        text = client.get(reverse("request_detail", args=[second.request_id])).content.decode()
        assert "existing-access-box" not in text
