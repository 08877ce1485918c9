"""Routes of /api/v1/, grouped by area. To add endpoints, append a group to `urlpatterns` above
the final catch-all, which answers unknown paths with the API's error shape."""

from django.urls import path, re_path

from policies.api.docs import DocsApi, SchemaApi
from policies.api.errors import api_not_found
from policies.api.views import audit, clusters, grants, monitoring, requests, teams, tokens

app_name = "api"

requests_urls = [
    path("requests/", requests.RequestListCreateApi.as_view(), name="request-list"),
    path("requests/<int:pk>/", requests.RequestDetailApi.as_view(), name="request-detail"),
    path("requests/<int:pk>/submit/", requests.RequestSubmitApi.as_view(), name="request-submit"),
    path("requests/<int:pk>/cancel/", requests.RequestCancelApi.as_view(), name="request-cancel"),
    path("requests/<int:pk>/approve/", requests.RequestApproveApi.as_view(), name="request-approve"),
    path("requests/<int:pk>/reject/", requests.RequestRejectApi.as_view(), name="request-reject"),
    path(
        "requests/<int:pk>/request-changes/",
        requests.RequestRequestChangesApi.as_view(),
        name="request-request-changes",
    ),
]

grants_urls = [
    path("grants/", grants.GrantListApi.as_view(), name="grant-list"),
    path("grants/<int:pk>/", grants.GrantDetailApi.as_view(), name="grant-detail"),
    path("grants/<int:pk>/revoke/", grants.GrantRevokeApi.as_view(), name="grant-revoke"),
    path("grants/<int:pk>/renew/", grants.GrantRenewApi.as_view(), name="grant-renew"),
]

directory_urls = [
    path("teams/", teams.TeamListCreateApi.as_view(), name="team-list"),
    path("teams/<int:pk>/", teams.TeamDetailApi.as_view(), name="team-detail"),
    path("workload-identities/", teams.IdentityListCreateApi.as_view(), name="identity-list"),
    path("workload-identities/<int:pk>/", teams.IdentityDetailApi.as_view(), name="identity-detail"),
]

clusters_urls = [
    path("clusters/", clusters.ClusterListCreateApi.as_view(), name="cluster-list"),
    path("clusters/<int:pk>/", clusters.ClusterDetailApi.as_view(), name="cluster-detail"),
    path("reconcile-runs/", clusters.ReconcileRunListApi.as_view(), name="reconcile-run-list"),
    path("reconcile-runs/<int:pk>/", clusters.ReconcileRunDetailApi.as_view(), name="reconcile-run-detail"),
]

audit_urls = [
    path("audit-events/", audit.AuditEventListApi.as_view(), name="audit-event-list"),
    path("audit-events/verify/", audit.AuditChainVerifyApi.as_view(), name="audit-chain-verify"),
]

tokens_urls = [
    path("tokens/", tokens.TokenListCreateApi.as_view(), name="token-list"),
    path("tokens/<int:pk>/revoke/", tokens.TokenRevokeApi.as_view(), name="token-revoke"),
]

monitoring_urls = [
    path("clusters/<int:pk>/access-logs/", monitoring.AccessLogIngestApi.as_view(), name="cluster-access-logs"),
    path("clusters/<int:pk>/ingest-token/", monitoring.IngestTokenRotateApi.as_view(), name="cluster-ingest-token"),
    path("grants/unused/", monitoring.UnusedGrantListApi.as_view(), name="grant-unused"),
    path("grants/<int:pk>/usage/", monitoring.GrantUsageApi.as_view(), name="grant-usage"),
    path("access-records/", monitoring.AccessRecordListApi.as_view(), name="access-record-list"),
    path("denied-attempts/", monitoring.DeniedAttemptListApi.as_view(), name="denied-attempt-list"),
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
    *docs_urls,
]

# Keep last.
urlpatterns.append(re_path(r"^.*$", api_not_found, name="not-found"))
