from django.db.models import QuerySet

from policies import crypto
from policies.actors import Viewer
from policies.models import ApiToken


def api_token_list(*, user: Viewer) -> QuerySet[ApiToken]:
    """The user's own tokens, newest first (revoked ones too: their last use stays visible)."""
    return ApiToken.objects.filter(user_id=user.pk or 0).order_by("-created_at", "-id")


def api_token_for_secret(secret: str) -> ApiToken | None:
    """The usable token whose hash matches, with its user, or None. The lookup is by hash, so the
    comparison never touches the secret itself and takes the same time for every wrong secret."""
    if not secret:
        return None
    token = ApiToken.objects.select_related("user").filter(token_hash=crypto.hash_secret(secret)).first()
    if token is None or not token.is_usable() or not token.user.is_active:
        return None
    return token
