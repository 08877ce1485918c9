"""Steps of the worker integration test, run in helper processes against the shared database
(tests/support/worker.py); each returns plain JSON data."""


def seed(api_url: str) -> dict:
    """A team with a developer and an approver, a cluster reached at `api_url`, and three submitted
    requests waiting for approval."""
    from django.contrib.auth import get_user_model

    from policies.choices import ConnectionKind, TeamRole
    from policies.services.requests import DestinationInput, RequestInput, egress_request_create
    from tests.factories import ClusterFactory, IdentityFactory, MembershipFactory, NamespaceFactory, TeamFactory

    team = TeamFactory(slug="payments")
    users = get_user_model().objects
    dev, lead = users.create(username="dev"), users.create(username="lead")  # no password: never log in
    MembershipFactory(team=team, user=dev)
    MembershipFactory(team=team, user=lead, role=TeamRole.APPROVER)
    cluster = ClusterFactory(name="worker-test", connection_kind=ConnectionKind.TOKEN, api_url=api_url, token="t0k")
    namespace = NamespaceFactory(cluster=cluster, name="payments", team=team)
    checkout = IdentityFactory(namespace=namespace, service_account="checkout")
    requests = [
        egress_request_create(
            requester=dev,
            data=RequestInput(
                team=team,
                identities=[checkout],
                destinations=[DestinationInput(host=host, port=443)],
                justification="x",
            ),
            submit=True,
        )
        for host in ("api.stripe.com", "hooks.example.org", "files.example.net")
    ]
    return {"cluster": cluster.pk, "requests": [request.pk for request in requests]}


def approve(request_id: int) -> int:
    from django.contrib.auth import get_user_model

    from policies.models import EgressRequest
    from policies.services.approvals import egress_request_approve

    lead = get_user_model().objects.get(username="lead")
    egress_request_approve(request=EgressRequest.objects.get(pk=request_id), approver=lead)
    return request_id


def sweep() -> None:
    from policies.tasks import sweep_marked_clusters_task

    sweep_marked_clusters_task.delay()


def purge() -> int:
    from egressui.celery import app

    return app.control.purge()


def state(cluster_id: int) -> dict:
    from policies.models import ClusterSyncState, Grant, ReconcileRun

    sync = ClusterSyncState.objects.get(cluster_id=cluster_id)
    return {
        "needs_reconcile": sync.needs_reconcile,
        "status": sync.status,
        "grants": {g.host: g.applied_state for g in Grant.objects.filter(cluster_id=cluster_id)},
        "runs": list(ReconcileRun.objects.filter(cluster_id=cluster_id).values_list("trigger", "outcome")),
    }
