"""The new/edit request form: live validation, rows added and removed, draft, submit, preview, and
service refusals put back on the right field. Every flow is exercised without htmx as well."""

import pytest
from django.urls import reverse

from policies.choices import RequestStatus
from policies.models import EgressRequest
from policies.services.approvals import egress_request_request_changes
from policies.services.requests import egress_request_create
from tests.factories import IdentityFactory, MembershipFactory, NamespaceFactory, UserFactory, fixture_save

pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true"}


def form_data(world, *rows, identities=None, **fields) -> dict:
    rows = rows or ({"host": "api.stripe.com"},)
    data = {
        "team": world.payments.pk,
        "identities": [i.pk for i in (identities or [world.checkout])],
        "justification": "Card payments.",
        "ticket_url": "",
        "duration_days": "30",
        "dest-TOTAL_FORMS": str(len(rows)),
        "dest-INITIAL_FORMS": "0",
        "dest-MIN_NUM_FORMS": "1",
        "dest-MAX_NUM_FORMS": "50",
    }
    for index, row in enumerate(rows):
        data.update({f"dest-{index}-{key}": value for key, value in {"port": "443", "protocol": "tls", **row}.items()})
    data.update(fields)
    return data


@pytest.fixture
def dev(client, world):
    client.force_login(world.dev)
    return client


class NewRequestPageTests:
    def test_lists_only_the_identities_of_my_teams(self, dev, world):
        content = dev.get(reverse("request_create")).content.decode()
        assert f'name="identities" value="{world.checkout.pk}"' in content
        assert f'name="identities" value="{world.refunds.pk}"' in content
        assert f'name="identities" value="{world.indexer.pk}"' not in content
        assert "The app speaks TLS itself" in content  # the default protocol is explained

    def test_query_string_prefills_the_form(self, dev, world):
        url = reverse("request_create") + f"?host=api.github.com&port=80&protocol=http&identity={world.refunds.pk}"
        content = dev.get(url).content.decode()
        assert 'value="api.github.com"' in content and 'value="80"' in content
        assert f'name="identities" value="{world.refunds.pk}" checked' in content

    def test_someone_in_two_teams_chooses_the_team_and_sees_its_identities(self, client, world):
        MembershipFactory(team=world.search, user=world.dev)
        client.force_login(world.dev)
        content = client.get(reverse("request_create")).content.decode()
        assert 'name="team" id="id_team"' in content
        refreshed = client.post(
            reverse("request_create"), form_data(world, team=world.search.pk, action="refresh"), headers=HTMX
        ).content.decode()
        assert f'name="identities" value="{world.indexer.pk}"' in refreshed
        assert f'name="identities" value="{world.checkout.pk}"' not in refreshed

    def test_a_user_without_team_is_told_what_to_do(self, client, world):
        client.force_login(UserFactory(username="newcomer"))
        assert "You are not in any team yet" in client.get(reverse("request_create")).content.decode()


class LiveValidationTests:
    def check(self, client, world, **row):
        response = client.post(reverse("request_check"), form_data(world, row), headers=HTMX)
        assert response.status_code == 200
        return response.content.decode()

    def test_a_refused_host_shows_the_exact_reason_out_of_band(self, dev, world):
        content = self.check(dev, world, host="https://api.stripe.com/v1")
        assert 'id="dest-0-check"' in content and 'hx-swap-oob="true"' in content
        assert "Refused" in content and "without a scheme such as https://" in content

    def test_a_valid_host_shows_its_normalised_form_and_warnings(self, dev, world):
        content = self.check(dev, world, host="*.Example.ORG.", expanded_hosts="api.example.org")
        assert "✓ *.example.org:443" in content
        assert ">risk: wildcard<" in content

    def test_clear_text_and_tcp_are_flagged(self, dev, world):
        assert ">risk: clear text<" in self.check(dev, world, host="example.org", port="80", protocol="http")
        assert ">risk: tcp<" in self.check(dev, world, host="203.0.113.0/24", port="5432", protocol="tcp")

    def test_a_wrong_port_for_the_protocol_is_explained(self, dev, world):
        content = self.check(dev, world, host="example.org", port="80", protocol="tls")
        assert "Port 80 carries plain HTTP" in content

    def test_request_warnings_follow_duration_and_production(self, dev, world):
        world.cluster.environment = "prod"
        fixture_save(world.cluster)
        data = form_data(world, duration_days="300")
        content = dev.post(reverse("request_check"), data, headers=HTMX).content.decode()
        assert 'id="request-flags" hx-swap-oob="true"' in content
        assert ">risk: production workload<" in content and ">risk: long duration<" in content

    def test_checking_saves_nothing(self, dev, world):
        self.check(dev, world, host="api.stripe.com")
        assert not EgressRequest.objects.exists()


class RowTests:
    def test_add_a_row_keeps_what_was_typed_and_judges_nothing_yet(self, dev, world):
        data = form_data(world, {"host": "api.stripe.com"}, justification="", action="add")
        content = dev.post(reverse("request_create"), data, headers=HTMX).content.decode()
        assert content.lstrip().startswith('<div id="form-body"')  # the fragment, not the page
        assert 'name="dest-1-host"' in content and 'value="api.stripe.com"' in content
        assert "Explain why" not in content

    def test_remove_a_row_renumbers_the_rest(self, dev, world):
        data = form_data(world, {"host": "one.example.com"}, {"host": "two.example.com"}, action="remove-0")
        content = dev.post(reverse("request_create"), data, headers=HTMX).content.decode()
        assert 'name="dest-0-host" id="id_dest-0-host" value="two.example.com"' in content
        assert "one.example.com" not in content and 'name="dest-1-host"' not in content

    def test_without_javascript_adding_a_row_renders_the_whole_page(self, dev, world):
        response = dev.post(reverse("request_create"), form_data(world, action="add"))
        assert response.status_code == 200
        assert b"<!doctype html>" in response.content and b'name="dest-1-host"' in response.content


class SaveAndSubmitTests:
    def test_save_a_draft(self, dev, world):
        response = dev.post(reverse("request_create"), form_data(world, {"host": "API.Stripe.com."}, action="draft"))
        created = EgressRequest.objects.get()
        assert response.status_code == 302 and response["Location"] == reverse("request_detail", args=[created.pk])
        assert created.status == RequestStatus.DRAFT and created.requester == world.dev
        assert [d.host for d in created.destinations.all()] == ["api.stripe.com"]
        assert "Draft" in dev.get(response["Location"]).content.decode()

    def test_submit_for_approval(self, dev, world):
        dev.post(reverse("request_create"), form_data(world, action="submit"))
        created = EgressRequest.objects.get()
        assert created.status == RequestStatus.SUBMITTED and created.steps.count() == 1

    def test_invalid_input_is_refused_with_every_reason_and_nothing_saved(self, dev, world):
        data = form_data(world, {"host": "*.com"}, identities=[world.checkout], justification="", action="submit")
        data["identities"] = []
        response = dev.post(reverse("request_create"), data)
        content = response.content.decode()
        assert response.status_code == 400
        assert "Choose at least one workload identity" in content
        assert "Explain why the workloads need this access" in content
        assert "public suffix com" in content
        assert 'aria-invalid="true"' in content
        assert not EgressRequest.objects.exists()

    def test_a_service_refusal_lands_on_the_row_it_is_about(self, dev, world):
        data = form_data(world, {"host": "api.stripe.com"}, {"host": "API.stripe.com"}, action="draft")
        response = dev.post(reverse("request_create"), data)
        content = response.content.decode()
        assert response.status_code == 400
        row_1 = content[content.index('id="dest-1-check"') :]
        assert "listed twice" in row_1[: row_1.index("</div>")]
        assert not EgressRequest.objects.exists()

    def test_an_out_of_range_id_is_an_invalid_choice_not_a_server_error(self, dev, world):
        huge = "99999999999999999999"  # beyond 64 bits: SQLite cannot even bind it
        for action in ("", "submit"):  # re-rendering the form, and submitting it
            for field in ("identities", "clusters"):
                data = {**form_data(world, action=action), field: [huge]}
                response = dev.post(reverse("request_create"), data)
                assert response.status_code == (400 if action else 200), (action, field)
                if action:
                    assert f"“{huge}” is not a valid value." in response.content.decode(), field
        assert not EgressRequest.objects.exists()

    def test_identities_of_another_team_are_refused(self, dev, world):
        other = IdentityFactory(namespace=NamespaceFactory(team=world.search, cluster=world.cluster))
        response = dev.post(reverse("request_create"), form_data(world, identities=[other], action="draft"))
        assert response.status_code == 400
        assert not EgressRequest.objects.exists()

    def test_enter_in_a_field_previews_instead_of_removing_a_row(self, dev, world):
        content = dev.get(reverse("request_create")).content.decode()
        first_submit = content[content.index('<form id="request-form"') :].split('type="submit"')[1]
        assert 'value="preview"' in first_submit.split(">")[0]


class EditTests:
    def test_edit_a_draft(self, dev, world):
        draft = egress_request_create(requester=world.dev, data=world.request_input("api.stripe.com"))
        page = dev.get(reverse("request_edit", args=[draft.pk])).content.decode()
        assert 'value="api.stripe.com"' in page and "Card payments." in page
        dev.post(reverse("request_edit", args=[draft.pk]), form_data(world, {"host": "api.adyen.com"}, action="draft"))
        draft.refresh_from_db()
        assert [d.host for d in draft.destinations.all()] == ["api.adyen.com"]
        assert draft.status == RequestStatus.DRAFT

    def test_resubmit_after_changes_requested(self, dev, world):
        request = egress_request_create(requester=world.dev, data=world.request_input("*.stripe.com"), submit=True)
        egress_request_request_changes(request=request, approver=world.lead, comment="Name the exact hosts.")
        detail = dev.get(reverse("request_detail", args=[request.pk])).content.decode()
        assert "Make changes and resubmit" in detail and "Name the exact hosts." in detail
        dev.post(
            reverse("request_edit", args=[request.pk]), form_data(world, {"host": "api.stripe.com"}, action="submit")
        )
        request.refresh_from_db()
        assert request.status == RequestStatus.SUBMITTED and request.round == 2

    def test_a_submitted_request_cannot_be_edited(self, dev, world):
        request = egress_request_create(requester=world.dev, data=world.request_input(), submit=True)
        assert dev.get(reverse("request_edit", args=[request.pk])).status_code == 403
        response = dev.post(reverse("request_edit", args=[request.pk]), form_data(world, action="draft"))
        assert response.status_code == 403


class PreviewTests:
    def test_preview_of_the_unsaved_form(self, dev, world):
        data = form_data(world, {"host": "api.adyen.com"}, action="preview")
        response = dev.post(reverse("request_create"), data, headers=HTMX)
        content = response.content.decode()
        assert "<!doctype html>" not in content
        assert f"Cluster {world.cluster.name}:" in content and "to add" in content
        assert "ServiceEntry istio-egress/api-adyen-com" in content
        assert '<span class="add">+  - api.adyen.com</span>' in content
        assert not EgressRequest.objects.exists()

    def test_preview_without_javascript_shows_the_whole_page(self, dev, world):
        response = dev.post(reverse("request_create"), form_data(world, {"host": "api.adyen.com"}, action="preview"))
        assert response.status_code == 200
        content = response.content.decode()
        assert "<!doctype html>" in content and "ServiceEntry istio-egress/api-adyen-com" in content

    def test_preview_of_an_incomplete_form_lists_what_to_fix(self, dev, world):
        data = form_data(world, {"host": "*"}, action="preview")
        content = dev.post(reverse("request_create"), data, headers=HTMX).content.decode()
        assert "The preview needs a complete request" in content and "Destination 1:" in content

    def test_preview_of_a_saved_request(self, dev, world):
        request = egress_request_create(requester=world.dev, data=world.request_input("api.adyen.com"), submit=True)
        fragment = dev.get(reverse("request_preview", args=[request.pk]), headers=HTMX).content.decode()
        assert "ServiceEntry istio-egress/api-adyen-com" in fragment and "<!doctype html>" not in fragment
        page = dev.get(reverse("request_preview", args=[request.pk])).content.decode()
        assert "<!doctype html>" in page and "api-adyen-com" in page
