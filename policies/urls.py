"""Routes of the browser UI (the REST API has its own, under /api/v1/). The names `dashboard`,
`login`, `logout`, `request_detail` and `grant_detail` are used by settings and notification emails."""

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path

from policies.views import access_map, actions, monitoring, namespaces, tokens
from policies.views.pages import approvals, audit, clusters, dashboard, grants, requests

urlpatterns = [
    path("", dashboard.dashboard, name="dashboard"),
    path(
        "login/",
        auth_views.LoginView.as_view(template_name="policies/login.html", redirect_authenticated_user=True),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    # Requests
    path("requests/", requests.request_list_page, name="request_list"),
    path("requests/new/", requests.request_create, name="request_create"),
    path("requests/check/", requests.request_check, name="request_check"),
    path("requests/<int:pk>/", requests.request_detail, name="request_detail"),
    path("requests/<int:pk>/edit/", requests.request_edit, name="request_edit"),
    path("requests/<int:pk>/preview/", requests.request_preview, name="request_preview"),
    path("requests/<int:pk>/submit/", actions.request_submit, name="request_submit"),
    path("requests/<int:pk>/cancel/", actions.request_cancel, name="request_cancel"),
    path("requests/<int:pk>/decide/", actions.request_decide, name="request_decide"),
    path("requests/<int:pk>/comment/", actions.request_comment, name="request_comment"),
    # Approvals
    path("approvals/", approvals.approval_inbox_page, name="approval_inbox"),
    path("approvals/bulk/", actions.approval_bulk, name="approval_bulk"),
    # Grants
    path("grants/", grants.grant_list_page, name="grant_list"),
    path("grants/break-glass/", grants.break_glass, name="break_glass"),
    path("grants/<int:pk>/", grants.grant_detail, name="grant_detail"),
    path("grants/<int:pk>/revoke/", actions.grant_revoke_view, name="grant_revoke"),
    path("grants/<int:pk>/renew/", actions.grant_renew, name="grant_renew"),
    # Clusters (platform admins)
    path("clusters/", clusters.cluster_list_page, name="cluster_list"),
    path("clusters/<int:pk>/", clusters.cluster_detail, name="cluster_detail"),
    path("clusters/<int:pk>/runs/<int:run_pk>/", clusters.cluster_run_detail, name="cluster_run"),
    path("clusters/<int:pk>/manifests/", clusters.cluster_manifests, name="cluster_manifests"),
    path("clusters/<int:pk>/reconcile/", actions.cluster_reconcile, name="cluster_reconcile"),
    path("clusters/<int:pk>/test-connection/", actions.cluster_test_connection, name="cluster_test_connection"),
    # Egress monitoring
    path("denied-attempts/", monitoring.denied_attempts_page, name="denied_attempts"),
    path("denied-attempts/request/", monitoring.denied_attempt_request, name="denied_attempt_request"),
    path("grants/unused/", monitoring.unused_grants_page, name="grant_unused"),
    path("clusters/<int:pk>/ingest-token/", monitoring.cluster_ingest_token, name="cluster_ingest_token"),
    path("access-map/", access_map.access_map_page, name="access_map"),
    # Namespaces: observe → enforce
    path("namespaces/", namespaces.namespace_list_page, name="namespace_list"),
    path("namespaces/<int:pk>/", namespaces.namespace_detail, name="namespace_detail"),
    path("namespaces/<int:pk>/enforcement/", namespaces.namespace_enforcement, name="namespace_enforcement"),
    path("namespaces/<int:pk>/request/", namespaces.namespace_request, name="namespace_request"),
    # Personal API tokens
    path("tokens/", tokens.token_list, name="token_list"),
    path("tokens/<int:pk>/revoke/", tokens.token_revoke, name="token_revoke"),
    # Audit
    path("audit/", audit.audit_log, name="audit_log"),
    path("audit/verify/", audit.audit_verify, name="audit_verify"),
    re_path(r"^audit/export\.(?P<fmt>csv|json)$", audit.audit_export, name="audit_export"),
]

if getattr(settings, "EGRESSUI_OIDC_ENABLED", False):
    urlpatterns.append(path("oidc/", include("mozilla_django_oidc.urls")))
