import pytest

from policies.models import EgressRequest
from policies.selectors.existing_access import request_pairs
from policies.selectors.requests import request_get
from policies.services.requests import egress_request_create

pytestmark = pytest.mark.django_db


class RequestPairsTests:
    def test_pairs_come_from_the_rows_the_detail_page_already_loaded(self, world, django_assert_num_queries):
        data = world.request_input("api.stripe.com", "files.stripe.com", identities=[world.checkout, world.refunds])
        created = egress_request_create(requester=world.dev, data=data, submit=True)
        request = request_get(user=world.dev, pk=created.pk)
        with django_assert_num_queries(0):
            pairs = request_pairs(request)
        assert pairs == {
            (identity.pk, host, 443, "tls")
            for identity in (world.checkout, world.refunds)
            for host in ("api.stripe.com", "files.stripe.com")
        }

    def test_an_unloaded_request_reads_its_identities_and_destinations(self, world, django_assert_num_queries):
        created = egress_request_create(requester=world.dev, data=world.request_input(), submit=True)
        request = EgressRequest.objects.get(pk=created.pk)
        with django_assert_num_queries(2):
            assert request_pairs(request) == {(world.checkout.pk, "api.stripe.com", 443, "tls")}
