"""factory_boy factories for the domain. Relations are built the way the product builds them:
identities live in namespaces that a team owns, on a cluster."""

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from policies.choices import ConnectionKind, Environment, GrantStatus, Protocol, RequestStatus, TeamRole
from policies.models import (
    ApprovalRule,
    ApprovalRuleStep,
    Cluster,
    ClusterSyncState,
    DomainList,
    EgressRequest,
    Grant,
    Namespace,
    RequestDestination,
    Team,
    TeamMembership,
    WorkloadIdentity,
)
from tests.support.audit_guard import unaudited_writes


def fixture_save(*instances, reason: str = "state set up directly by the test") -> None:
    """Save test setup written past the services on purpose (the audit guard lets it pass)."""
    with unaudited_writes(reason):
        for instance in instances:
            instance.save()


class FixtureFactory(factory.django.DjangoModelFactory):
    """Test fixtures are written directly, not through services: the audit guard lets them pass."""

    class Meta:
        abstract = True

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        with unaudited_writes("test fixture written by a factory"):
            return super()._create(model_class, *args, **kwargs)

    @classmethod
    def _after_postgeneration(cls, instance, create, results=None):
        with unaudited_writes("test fixture written by a factory"):
            return super()._after_postgeneration(instance, create, results)


class UserFactory(FixtureFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")

    @factory.post_generation
    def password(obj, create, extracted, **kwargs):
        # Saved at once: a session's auth hash is checked against the stored password.
        obj.set_password(extracted or "pw")
        if create:
            with unaudited_writes("test fixture written by a factory"):
                obj.save(update_fields=["password"])


class TeamFactory(FixtureFactory):
    class Meta:
        model = Team
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"team{n}")
    name = factory.LazyAttribute(lambda t: t.slug.title())
    email = factory.LazyAttribute(lambda t: f"{t.slug}@example.com")


class MembershipFactory(FixtureFactory):
    class Meta:
        model = TeamMembership

    team = factory.SubFactory(TeamFactory)
    user = factory.SubFactory(UserFactory)
    role = TeamRole.MEMBER


class ClusterFactory(FixtureFactory):
    class Meta:
        model = Cluster
        django_get_or_create = ("name",)
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"cluster{n}")
    environment = Environment.NON_PROD
    connection_kind = ConnectionKind.DIRECTORY
    directory_path = factory.LazyAttribute(lambda c: f"/tmp/egressui-tests/{c.name}")

    @factory.post_generation
    def sync(obj, create, extracted, **kwargs):
        if create:
            ClusterSyncState.objects.get_or_create(cluster=obj, defaults={"needs_reconcile": False})


class NamespaceFactory(FixtureFactory):
    class Meta:
        model = Namespace
        django_get_or_create = ("cluster", "name")

    cluster = factory.SubFactory(ClusterFactory)
    name = factory.Sequence(lambda n: f"ns{n}")
    team = factory.SubFactory(TeamFactory)
    # Enforced, as namespaces with grants were before observe existed; tests of observe say so.
    enforcement = "enforce"


class IdentityFactory(FixtureFactory):
    class Meta:
        model = WorkloadIdentity
        django_get_or_create = ("namespace", "service_account")

    namespace = factory.SubFactory(NamespaceFactory)
    service_account = factory.Sequence(lambda n: f"sa{n}")


class RequestFactory(FixtureFactory):
    """A request written directly (no services): for read-side tests and fixtures."""

    class Meta:
        model = EgressRequest
        skip_postgeneration_save = True

    team = factory.SubFactory(TeamFactory)
    requester = factory.SubFactory(UserFactory)
    status = RequestStatus.DRAFT
    justification = "Needed for the payment flow."
    duration_days = 30


class DestinationFactory(FixtureFactory):
    class Meta:
        model = RequestDestination

    request = factory.SubFactory(RequestFactory)
    host = factory.Sequence(lambda n: f"api{n}.example.com")
    port = 443
    protocol = Protocol.TLS


class GrantFactory(FixtureFactory):
    """An active grant written directly; its request, destination and identity agree."""

    class Meta:
        model = Grant

    identity = factory.SubFactory(IdentityFactory)
    team = factory.LazyAttribute(lambda g: g.identity.namespace.team)
    cluster = factory.LazyAttribute(lambda g: g.identity.namespace.cluster)
    request = factory.LazyAttribute(
        lambda g: RequestFactory(team=g.team, status=RequestStatus.APPROVED, requester=UserFactory())
    )
    destination = factory.LazyAttribute(
        lambda g: DestinationFactory(request=g.request, host=g.host, port=g.port, protocol=g.protocol)
    )
    host = factory.Sequence(lambda n: f"grant{n}.example.com")
    port = 443
    protocol = Protocol.TLS
    status = GrantStatus.ACTIVE
    valid_from = factory.LazyFunction(timezone.now)
    expires_at = factory.LazyAttribute(lambda g: g.valid_from + timezone.timedelta(days=30))


class DomainListFactory(FixtureFactory):
    class Meta:
        model = DomainList

    name = factory.Sequence(lambda n: f"list{n}")
    entries = ""


class ApprovalRuleFactory(FixtureFactory):
    class Meta:
        model = ApprovalRule

    name = factory.Sequence(lambda n: f"rule{n}")
    priority = factory.Sequence(lambda n: n * 10)


class ApprovalRuleStepFactory(FixtureFactory):
    class Meta:
        model = ApprovalRuleStep

    rule = factory.SubFactory(ApprovalRuleFactory)
    name = "Security review"
    required_approvals = 1


def cluster_admin_form(**fields) -> dict:
    """The POST data of the admin's cluster form with every default filled in."""
    return {
        "description": "",
        "environment": "non-prod",
        "enforcement_mode": "istio",
        "egress_namespace": "istio-egress",
        "gateway_selector": '{"istio": "egressgateway"}',
        "gateway_service_host": "istio-egressgateway.istio-egress.svc.cluster.local",
        "gateway_https_port": 443,
        "gateway_http_port": 80,
        "gateway_pod_https_port": 443,
        "gateway_pod_http_port": 80,
        "istiod_namespace": "istio-system",
        "istiod_selector": '{"app": "istiod"}',
        "dns_namespace": "kube-system",
        "dns_selector": '{"k8s-app": "kube-dns"}',
        "trust_domain": "cluster.local",
        "manage_sidecars": "on",
        "access_log_provider": "egress-json",
        "wildcard_serving_hosts": "{}",
        "default_namespace_enforcement": "observe",
        "in_cluster_egress": "allow",
        "in_cluster_cidrs": "[]",
        "source_access_log_provider": "egressui-source-json",
        "origination_ca_certificates": "/etc/ssl/certs/ca-certificates.crt",
        "origination_credential_name": "",
        "waypoint_name": "egress-waypoint",
        "waypoint_namespace": "",
        "istio_version": "",
        "cilium_version": "1.19",
        **fields,
    }
