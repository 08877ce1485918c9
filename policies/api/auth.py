"""API authentication: personal tokens (`Authorization: Bearer egr_…`) for automation, the session
cookie (with CSRF) for the browser. A token acts with its owner's rights, minus writes when it is
read-only."""

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions

from policies.models import ApiToken
from policies.permissions import can_manage_clusters
from policies.selectors.tokens import api_token_for_secret
from policies.services.tokens import api_token_touch
from policies.sign_in_throttle import lockout_message, token_allowed, token_failed

KEYWORD = "Bearer"


class TokensLockedOut(exceptions.Throttled):
    """Too many failed token attempts from this address (or for this token prefix)."""

    default_code = "locked_out"

    def __init__(self):
        super().__init__(
            wait=int(settings.AXES_COOLOFF_TIME.total_seconds()),
            detail=lockout_message().replace("sign-in attempts", "authentication attempts"),
        )


class BearerTokenAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != KEYWORD.lower().encode():
            return None  # no token: let session authentication try
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Send the token as 'Authorization: Bearer <token>'.")
        try:
            secret = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("The token contains invalid characters.") from None
        if not token_allowed(request._request, secret):
            raise TokensLockedOut()
        token = api_token_for_secret(secret)
        if token is None:
            token_failed(request._request, secret)
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked token.")
        api_token_touch(token=token)
        return token.user, token

    def authenticate_header(self, request):
        # Makes DRF answer 401 (not 403) to unauthenticated requests.
        return f'{KEYWORD} realm="api"'


class TokenScopePermission(permissions.BasePermission):
    """Read-only tokens may only read."""

    def has_permission(self, request, view):
        token = request.auth
        if isinstance(token, ApiToken) and token.read_only and request.method not in permissions.SAFE_METHODS:
            raise exceptions.PermissionDenied(
                f"Token {token.name!r} is read-only; use a read-write token for {request.method}.",
                code="token_read_only",
            )
        return True


class ClusterAdminPermission(permissions.BasePermission):
    """Cluster internals (runs, manifests, reconcile) show every team's grants: platform admins only."""

    message = "Only platform admins can do this."

    def has_permission(self, request, view):
        return can_manage_clusters(request.user)


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = BearerTokenAuthentication
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A personal API token (Settings → API tokens, or `manage.py create_api_token`).",
        }
