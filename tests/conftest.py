import pytest
from django.db import connection

from policies.choices import TeamRole
from policies.services.requests import DestinationInput, RequestInput
from tests.factories import IdentityFactory, MembershipFactory, NamespaceFactory, TeamFactory, UserFactory
from tests.support import audit_guard as audit_guard_module

AUDIT_TRIGGERS_OFF = "ALTER TABLE policies_auditevent DISABLE TRIGGER USER"
AUDIT_TRIGGERS_ON = "ALTER TABLE policies_auditevent ENABLE TRIGGER USER"


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """The append-only triggers would stop Django from flushing the test database between
    transactional tests, so they are off in the test database; the tests that prove them switch
    them on inside their own transaction (DDL is transactional on PostgreSQL)."""
    if connection.vendor == "postgresql":
        with django_db_blocker.unblock(), connection.cursor() as cursor:
            cursor.execute(AUDIT_TRIGGERS_OFF)


def pytest_sessionstart(session):
    from tests.support.shared_bundles import check_required_bundles

    check_required_bundles()


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "postgres" in item.keywords and connection.vendor != "postgresql":
            item.add_marker(pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL)"))


@pytest.fixture(autouse=True)
def audit_guard(request):
    """Fails the test if a `policies` model, a team membership or a platform-admin group membership
    was written without an AuditEvent in the same transaction (tests/support/audit_guard.py).
    A test that writes raw state on purpose says so: `@pytest.mark.unaudited_writes("why")`."""
    guard = audit_guard_module.install()
    marker = request.node.get_closest_marker("unaudited_writes")
    if marker is not None:
        if not (marker.args and marker.args[0]):
            pytest.fail("@pytest.mark.unaudited_writes needs a reason")
        yield guard
        return
    guard.start()
    yield guard
    violations = guard.finish()
    if violations:
        pytest.fail(
            "Unaudited writes (every change goes through a service that audits it):\n  " + "\n  ".join(violations)
        )


class World:
    """A small organisation: team payments (dev, lead) and team search, a security group, one cluster."""

    def __init__(self):
        self.payments = TeamFactory(slug="payments")
        self.search = TeamFactory(slug="search")
        self.security = TeamFactory(slug="security")
        self.dev = UserFactory(username="payments-dev")
        self.lead = UserFactory(username="payments-lead")
        self.lead2 = UserFactory(username="payments-lead2")
        self.secops = UserFactory(username="secops")
        self.searcher = UserFactory(username="search-dev")
        self.admin = UserFactory(username="admin", is_superuser=True, is_staff=True)
        MembershipFactory(team=self.payments, user=self.dev)
        MembershipFactory(team=self.payments, user=self.lead, role=TeamRole.APPROVER)
        MembershipFactory(team=self.payments, user=self.lead2, role=TeamRole.APPROVER)
        MembershipFactory(team=self.security, user=self.secops, role=TeamRole.APPROVER)
        MembershipFactory(team=self.search, user=self.searcher)
        self.ns = NamespaceFactory(name="payments", team=self.payments)
        self.cluster = self.ns.cluster
        self.checkout = IdentityFactory(namespace=self.ns, service_account="checkout")
        self.refunds = IdentityFactory(namespace=self.ns, service_account="refunds")
        self.search_ns = NamespaceFactory(name="search", team=self.search, cluster=self.cluster)
        self.indexer = IdentityFactory(namespace=self.search_ns, service_account="indexer")

    def request_input(self, *hosts: str, team=None, identities=None, **kwargs) -> RequestInput:
        destinations = [DestinationInput(host=h, port=443) for h in (hosts or ("api.stripe.com",))]
        return RequestInput(
            team=team or self.payments,
            identities=identities or [self.checkout],
            destinations=kwargs.pop("destinations", destinations),
            justification=kwargs.pop("justification", "Card payments."),
            **kwargs,
        )


@pytest.fixture
def world(db) -> World:
    return World()
