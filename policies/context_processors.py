"""Template context every UI page needs: the viewer's roles, the approvals badge, the active section.
Values are computed on first use, so a page that never shows the badge never counts the inbox."""

from django.conf import settings
from django.utils.functional import cached_property

from policies.permissions import approver_team_ids, is_platform_admin

# URL-name prefix → navigation section.
_SECTIONS = (
    ("dashboard", "dashboard"),
    ("request_", "requests"),
    ("approval", "approvals"),
    ("grant_", "grants"),
    ("break_glass", "grants"),
    ("cluster_", "clusters"),
    ("audit_", "audit"),
    ("denied_", "denied"),
    ("namespace_", "namespaces"),
    ("token_", "tokens"),
    ("access_map", "access_map"),
)


class UIState:
    def __init__(self, request):
        self._request = request
        self._user = request.user

    @cached_property
    def is_admin(self) -> bool:
        return is_platform_admin(self._user)

    @cached_property
    def is_approver(self) -> bool:
        return self.is_admin or bool(approver_team_ids(self._user))

    @cached_property
    def inbox_count(self) -> int:
        if not self.is_approver:
            return 0
        counted = getattr(self._request, "egressui_inbox_count", None)  # counted afresh by this view
        if counted is not None:
            return counted
        from policies.selectors.approvals import approval_inbox_count

        return approval_inbox_count(user=self._user)

    @cached_property
    def section(self) -> str:
        match = getattr(self._request, "resolver_match", None)
        name = (match.url_name or "") if match else ""
        return next((section for prefix, section in _SECTIONS if name.startswith(prefix)), "")

    @property
    def oidc_enabled(self) -> bool:
        return getattr(settings, "EGRESSUI_OIDC_ENABLED", False)

    @property
    def oidc_provider_name(self) -> str:
        return getattr(settings, "EGRESSUI_OIDC_PROVIDER_NAME", "single sign-on")


def ui(request) -> dict:
    return {"ui": UIState(request)}
