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
