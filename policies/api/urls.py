"""Routes of /api/v1/, grouped by area. To add endpoints, append a group to `urlpatterns` above
the final catch-all, which answers unknown paths with the API's error shape. Ids in paths use the
`id` converter (bounded digits)."""

from django.urls import path, re_path, register_converter

from policies.api.docs import DocsApi, SchemaApi
from policies.api.errors import api_not_found
from policies.api.views import audit, clusters, grants, monitoring, namespaces, requests, teams, tokens

app_name = "api"


class IdConverter:
    """Object ids: at most 18 digits, so a huge number is an unknown path (404), never an integer
    overflow in the database."""

    regex = "[0-9]{1,18}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value) -> str:
        return str(value)


register_converter(IdConverter, "id")

requests_urls = [
    path("requests/", requests.RequestListCreateApi.as_view(), name="request-list"),
    path("requests/<id:pk>/", requests.RequestDetailApi.as_view(), name="request-detail"),
    path("requests/<id:pk>/preview/", requests.RequestPreviewApi.as_view(), name="request-preview"),
    path("requests/<id:pk>/submit/", requests.RequestSubmitApi.as_view(), name="request-submit"),
    path("requests/<id:pk>/cancel/", requests.RequestCancelApi.as_view(), name="request-cancel"),
    path("requests/<id:pk>/approve/", requests.RequestApproveApi.as_view(), name="request-approve"),
    path("requests/<id:pk>/reject/", requests.RequestRejectApi.as_view(), name="request-reject"),
    path(
        "requests/<id:pk>/request-changes/",
        requests.RequestRequestChangesApi.as_view(),
        name="request-request-changes",
    ),
]

grants_urls = [
    path("grants/", grants.GrantListApi.as_view(), name="grant-list"),
    path("grants/<id:pk>/", grants.GrantDetailApi.as_view(), name="grant-detail"),
    path("grants/<id:pk>/revoke/", grants.GrantRevokeApi.as_view(), name="grant-revoke"),
    path("grants/<id:pk>/renew/", grants.GrantRenewApi.as_view(), name="grant-renew"),
]

directory_urls = [
    path("teams/", teams.TeamListCreateApi.as_view(), name="team-list"),
    path("teams/<id:pk>/", teams.TeamDetailApi.as_view(), name="team-detail"),
    path("workload-identities/", teams.IdentityListCreateApi.as_view(), name="identity-list"),
    path("workload-identities/<id:pk>/", teams.IdentityDetailApi.as_view(), name="identity-detail"),
]

clusters_urls = [
    path("clusters/", clusters.ClusterListCreateApi.as_view(), name="cluster-list"),
    path("clusters/<id:pk>/", clusters.ClusterDetailApi.as_view(), name="cluster-detail"),
    path("clusters/<id:pk>/manifests/", clusters.ClusterManifestsApi.as_view(), name="cluster-manifests"),
    path("clusters/<id:pk>/reconcile/", clusters.ClusterReconcileApi.as_view(), name="cluster-reconcile"),
    path("clusters/<id:pk>/migrate-mode/", clusters.ClusterModeMigrateApi.as_view(), name="cluster-migrate-mode"),
    path("reconcile-runs/", clusters.ReconcileRunListApi.as_view(), name="reconcile-run-list"),
    path("reconcile-runs/<id:pk>/", clusters.ReconcileRunDetailApi.as_view(), name="reconcile-run-detail"),
]

audit_urls = [
    path("audit-events/", audit.AuditEventListApi.as_view(), name="audit-event-list"),
    path("audit-events/verify/", audit.AuditChainVerifyApi.as_view(), name="audit-chain-verify"),
]

tokens_urls = [
    path("tokens/", tokens.TokenListCreateApi.as_view(), name="token-list"),
    path("tokens/<id:pk>/", tokens.TokenDetailApi.as_view(), name="token-detail"),
    path("tokens/<id:pk>/revoke/", tokens.TokenRevokeApi.as_view(), name="token-revoke"),
]

monitoring_urls = [
    path("clusters/<id:pk>/access-logs/", monitoring.AccessLogIngestApi.as_view(), name="cluster-access-logs"),
    path("clusters/<id:pk>/ingest-token/", monitoring.IngestTokenRotateApi.as_view(), name="cluster-ingest-token"),
    path("grants/unused/", monitoring.UnusedGrantListApi.as_view(), name="grant-unused"),
    path("grants/<id:pk>/usage/", monitoring.GrantUsageApi.as_view(), name="grant-usage"),
    path("access-records/", monitoring.AccessRecordListApi.as_view(), name="access-record-list"),
    path("denied-attempts/", monitoring.DeniedAttemptListApi.as_view(), name="denied-attempt-list"),
]

namespaces_urls = [
    path("namespaces/", namespaces.NamespaceListApi.as_view(), name="namespace-list"),
    path("namespaces/overview/", namespaces.EnforcementOverviewApi.as_view(), name="namespace-overview"),
    path("namespaces/<id:pk>/", namespaces.NamespaceDetailApi.as_view(), name="namespace-detail"),
    path("namespaces/<id:pk>/readiness/", namespaces.NamespaceReadinessApi.as_view(), name="namespace-readiness"),
    path(
        "namespaces/<id:pk>/enforcement-preview/",
        namespaces.NamespaceEnforcementPreviewApi.as_view(),
        name="namespace-enforcement-preview",
    ),
    path("namespaces/<id:pk>/enforcement/", namespaces.NamespaceEnforcementApi.as_view(), name="namespace-enforcement"),
]

docs_urls = [
    path("schema/", SchemaApi.as_view(), name="schema"),
    path("docs/", DocsApi.as_view(), name="docs"),
]

urlpatterns = [
    *requests_urls,
    *grants_urls,
    *directory_urls,
    *clusters_urls,
    *audit_urls,
    *tokens_urls,
    *monitoring_urls,
    *namespaces_urls,
    *docs_urls,
]

# Keep last.
urlpatterns.append(re_path(r"^.*$", api_not_found, name="not-found"))
