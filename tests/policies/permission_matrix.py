"""Who may do what, as one table shared by the UI and API tests. Each front end's test asserts
(a) that `policies/permissions.py` gives these answers and (b) that its own endpoints allow exactly
these, so the UI and the API cannot drift apart from each other or from the permission functions.

The scenario (`matrix_world`): payments-dev asked for api.stripe.com for payments/checkout; a rule
requires step 1 "approver of payments" then step 2 "approver of security"; the request waits on
step 1. Separately, payments/checkout holds an active grant.
"""

from policies import permissions as perms
from policies.choices import RuleOutcome
from policies.services.requests import egress_request_create
from tests.factories import ApprovalRuleFactory, ApprovalRuleStepFactory, GrantFactory

PERSONAS = ("dev", "lead", "secops", "searcher", "admin")

REQUEST_ACTIONS = ("view", "edit", "submit", "cancel", "approve", "reject", "request_changes")
REQUEST_MATRIX = {
    #             view   edit   submit cancel approve reject request_changes
    "dev": dict(zip(REQUEST_ACTIONS, (True, False, False, True, False, False, False), strict=True)),
    "lead": dict(zip(REQUEST_ACTIONS, (True, False, False, False, True, True, True), strict=True)),
    "secops": dict(zip(REQUEST_ACTIONS, (True, False, False, False, False, False, False), strict=True)),
    "searcher": dict(zip(REQUEST_ACTIONS, (False, False, False, False, False, False, False), strict=True)),
    "admin": dict(zip(REQUEST_ACTIONS, (True, False, False, True, True, True, True), strict=True)),
}

# payments-dev's draft (api.adyen.com for payments/refunds): only its requester edits it; the
# requester or a platform admin submits or cancels it; nobody decides a draft.
DRAFT_MATRIX = {
    #             view   edit   submit cancel approve reject request_changes
    "dev": dict(zip(REQUEST_ACTIONS, (True, True, True, True, False, False, False), strict=True)),
    "lead": dict(zip(REQUEST_ACTIONS, (True, False, False, False, False, False, False), strict=True)),
    "secops": dict(zip(REQUEST_ACTIONS, (False, False, False, False, False, False, False), strict=True)),
    "searcher": dict(zip(REQUEST_ACTIONS, (False, False, False, False, False, False, False), strict=True)),
    "admin": dict(zip(REQUEST_ACTIONS, (True, False, True, True, False, False, False), strict=True)),
}

GRANT_ACTIONS = ("view", "revoke", "renew")
GRANT_MATRIX = {
    "dev": dict(zip(GRANT_ACTIONS, (True, False, True), strict=True)),
    "lead": dict(zip(GRANT_ACTIONS, (True, True, True), strict=True)),
    "secops": dict(zip(GRANT_ACTIONS, (False, False, False), strict=True)),
    "searcher": dict(zip(GRANT_ACTIONS, (False, False, False), strict=True)),
    "admin": dict(zip(GRANT_ACTIONS, (True, True, True), strict=True)),
}

# The payments namespace (observed, with a destination its sidecars saw): who sees it, who may switch
# it (EGRESSUI_ENFORCEMENT_SWITCH_ROLE's default: the team's approvers) and who may turn what it saw
# into a request. Namespaces of other teams do not exist for a member (404, not 403).
NAMESPACE_ACTIONS = ("view", "enforce", "request")
NAMESPACE_MATRIX = {
    "dev": dict(zip(NAMESPACE_ACTIONS, (True, False, True), strict=True)),
    "lead": dict(zip(NAMESPACE_ACTIONS, (True, True, True), strict=True)),
    "secops": dict(zip(NAMESPACE_ACTIONS, (False, False, False), strict=True)),
    "searcher": dict(zip(NAMESPACE_ACTIONS, (False, False, False), strict=True)),
    "admin": dict(zip(NAMESPACE_ACTIONS, (True, True, True), strict=True)),
}

# Platform configuration and cluster internals.
ADMIN_ACTIONS = ("manage_clusters", "manage_teams", "view_reconcile_runs", "verify_audit_chain")
ADMIN_MATRIX = {persona: dict.fromkeys(ADMIN_ACTIONS, persona == "admin") for persona in PERSONAS}


def matrix_world(world):
    """Add the matrix scenario to the `world` fixture; returns (request, grant)."""
    rule = ApprovalRuleFactory(name="payments-then-security", outcome=RuleOutcome.REQUIRE_STEPS, priority=1)
    ApprovalRuleStepFactory(rule=rule, position=1, name="Payments approver", team=world.payments)
    ApprovalRuleStepFactory(rule=rule, position=2, name="Security review", team=world.security)
    request = egress_request_create(requester=world.dev, data=world.request_input("api.stripe.com"), submit=True)
    grant = GrantFactory(identity=world.checkout, host="api.adyen.com")
    return request, grant


def draft_world(world):
    """payments-dev's draft, next to the matrix scenario (the same rule applies when it is submitted)."""
    matrix_world(world)
    data = world.request_input("api.adyen.com", identities=[world.refunds])
    return egress_request_create(requester=world.dev, data=data, submit=False)


def request_permission(user, request, action: str) -> bool:
    """The permission functions' answer for one request action."""
    if action == "view":
        return perms.can_view_request(user, request)
    if action == "edit":
        return perms.can_edit_request(user, request)
    if action == "submit":
        return perms.can_submit_request(user, request)
    if action == "cancel":
        return perms.can_cancel_request(user, request)
    return perms.can_approve(user, request)  # approve, reject and request changes decide the same step


def grant_permission(user, grant, action: str) -> bool:
    return {
        "view": perms.can_view_grant,
        "revoke": perms.can_revoke_grant,
        "renew": perms.can_renew_grant,
    }[action](user, grant)


def observed_namespace_world(world):
    """The payments namespace observed, with one destination its sidecars saw; returns it."""
    from policies.models import Namespace
    from policies.services.access_logs import access_log_ingest
    from tests.policies.accesslog.support import source_line

    Namespace.objects.filter(pk=world.ns.pk).update(enforcement="observe")
    line = source_line("payments", "checkout", sni="api.openexchangerates.org")
    access_log_ingest(cluster=world.cluster, records=[(1, line)])
    return Namespace.objects.select_related("cluster", "team").get(pk=world.ns.pk)


OBSERVED_KEY = "api.openexchangerates.org|443|tls"  # its row's key on the readiness page


def namespace_permission(user, namespace, action: str) -> bool:
    return {
        "view": perms.can_view_namespace,
        "enforce": perms.can_switch_enforcement,
        "request": lambda who, ns: perms.can_view_namespace(who, ns) and perms.can_request_for_team(who, ns.team),
    }[action](user, namespace)


def admin_permission(user, action: str) -> bool:
    return {
        "manage_clusters": perms.can_manage_clusters,
        "manage_teams": perms.can_manage_teams,
        "view_reconcile_runs": perms.can_manage_clusters,
        "verify_audit_chain": perms.is_platform_admin,
    }[action](user)
