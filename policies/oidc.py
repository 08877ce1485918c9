"""OpenID Connect sign-in (mozilla-django-oidc), switched on by EGRESSUI_OIDC_CLIENT_ID.

Accounts are matched on the username claim (`preferred_username` by default, else the e-mail). An
account with a local password is never signed into through the provider, so a provider identity that
happens to be called "admin" cannot take over the local admin. Team memberships follow the groups
claim at every sign-in (`Team.oidc_group`)."""

import logging

from django.conf import settings
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from policies.services.memberships import OIDC_ACTOR, team_memberships_sync_from_groups
from policies.services.users import user_create, user_update

logger = logging.getLogger(__name__)


def claim_groups(claims: dict) -> list[str]:
    """The groups claim as a list, whether the provider sends a list or a comma/space separated string."""
    value = claims.get(settings.EGRESSUI_OIDC_GROUPS_CLAIM) or []
    if isinstance(value, str):
        value = value.replace(",", " ").split()
    return [str(group) for group in value]


# Account fields kept in step with the identity provider's claims at every sign-in.
PROFILE_CLAIMS = (("email", "email"), ("first_name", "given_name"), ("last_name", "family_name"))


def profile_of(claims: dict) -> dict[str, str]:
    """The account fields the claims fill (a claim the provider leaves out changes nothing)."""
    return {field: str(claims[claim])[:150] for field, claim in PROFILE_CLAIMS if claims.get(claim)}


class OIDCBackend(OIDCAuthenticationBackend):
    def username_from(self, claims: dict) -> str:
        value = claims.get(settings.EGRESSUI_OIDC_USERNAME_CLAIM) or claims.get("email") or ""
        return str(value).strip()[:150]

    def verify_claims(self, claims: dict) -> bool:
        return bool(self.username_from(claims))

    def describe_user_by_claims(self, claims: dict) -> str:
        return f"username {self.username_from(claims)}"

    def filter_users_by_claims(self, claims: dict):
        username = self.username_from(claims)
        if not username:
            return self.UserModel.objects.none()
        return self.UserModel.objects.filter(username__iexact=username)

    def create_user(self, claims: dict):
        username = self.username_from(claims)
        user = user_create(actor=None, source=OIDC_ACTOR, username=username, password=None, **profile_of(claims))
        return self.update_user(user, claims)

    def update_user(self, user, claims: dict):
        if user.has_usable_password():
            logger.warning("OIDC sign-in refused for %s: the account is a local one", user.get_username())
            return None
        user = user_update(user=user, actor=None, source=OIDC_ACTOR, **profile_of(claims))
        team_memberships_sync_from_groups(user=user, groups=claim_groups(claims))
        return user
