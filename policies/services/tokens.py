"""Writes on personal API tokens: create (the secret is returned once, only its hash is kept),
revoke, and the last-used bookkeeping."""

from datetime import datetime, timedelta

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from policies import crypto
from policies.actors import Actor
from policies.choices import AuditEventType
from policies.exceptions import PermissionDenied, TransitionNotAllowed, ValidationFailed
from policies.models import ApiToken
from policies.permissions import can_create_token, can_revoke_token
from policies.services.audit import audit_event_record

TOKEN_PREFIX = "egr"
MAX_TOKEN_DAYS = 3650
# last_used_at is bookkeeping, not an audit fact: refresh it at most this often so that a busy
# automation client does not turn every read into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def _token_state(token: ApiToken) -> dict:
    return {
        "name": token.name,
        "prefix": token.prefix,
        "read_only": token.read_only,
        "expires_at": token.expires_at,
        "revoked_at": token.revoked_at,
    }


@transaction.atomic
def api_token_create(
    *,
    user: User,
    actor: Actor,
    name: str,
    read_only: bool = False,
    expires_in_days: int | None = None,
    parent: ApiToken | None = None,
) -> tuple[ApiToken, str]:
    """Create a token for `user` and return it with its secret, which is never stored or shown again.

    `actor` is the person creating it: only the owner may (a token acts with all of its owner's
    rights); `actor=None` is the operator bootstrapping automation from the command line. `parent` is
    the token the request was authenticated with, if any: a token never mints a broader or longer-lived
    one (a read-only token mints none; the new one expires no later than its parent, by default then)."""
    if not can_create_token(actor, user):
        raise PermissionDenied("You can only create tokens for yourself.")
    if parent is not None and parent.read_only:
        raise PermissionDenied(f"Token {parent.name!r} is read-only; a read-only token cannot create tokens.")
    if not user.is_active:
        raise ValidationFailed.on("user", f"User {user.get_username()} is inactive.")
    name = (name or "").strip()
    if not name:
        raise ValidationFailed.on("name", "Give the token a name, such as the pipeline that will use it.")
    if len(name) > 100:
        raise ValidationFailed.on("name", "Keep the name under 100 characters.")
    if ApiToken.objects.select_for_update().filter(user=user, name=name, revoked_at__isnull=True).exists():
        raise ValidationFailed.on("name", f"You already have a token named {name!r}; revoke it or choose another.")
    expires_at = None
    if expires_in_days is not None:
        if isinstance(expires_in_days, bool) or not 1 <= int(expires_in_days) <= MAX_TOKEN_DAYS:
            raise ValidationFailed.on("expires_in_days", f"A token can last 1–{MAX_TOKEN_DAYS} days.")
        expires_at = timezone.now() + timedelta(days=int(expires_in_days))
    if parent is not None and parent.expires_at is not None:
        if expires_at is not None and expires_at > parent.expires_at:
            raise ValidationFailed.on(
                "expires_in_days",
                f"This request is authenticated with token {parent.name!r}, which expires on "
                f"{parent.expires_at:%Y-%m-%d %H:%M} UTC; a token it creates cannot outlive it.",
            )
        expires_at = expires_at or parent.expires_at
    secret = crypto.new_secret(TOKEN_PREFIX)
    token = ApiToken.objects.create(
        user=user,
        name=name,
        token_hash=crypto.hash_secret(secret),
        prefix=secret[:12],
        read_only=bool(read_only),
        expires_at=expires_at,
    )
    audit_event_record(
        event_type=AuditEventType.TOKEN_CREATED,
        actor=actor,
        actor_repr=None if actor else "operator",
        subject=token,
        after={
            **_token_state(token),
            "user": user.get_username(),
            **({"created_with_token": parent.prefix} if parent is not None else {}),
        },
    )
    return token, secret


@transaction.atomic
def api_token_revoke(*, token: ApiToken, actor: Actor) -> ApiToken:
    """Stop a token from working at once. Owners revoke their own; platform admins any (incidents)."""
    token = ApiToken.objects.select_for_update().select_related("user").get(pk=token.pk)
    if not can_revoke_token(actor, token):
        raise PermissionDenied("You can only revoke your own tokens.")
    if token.revoked_at is not None:
        raise TransitionNotAllowed(f"Token {token.name!r} is already revoked.")
    before = _token_state(token)
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])
    audit_event_record(
        event_type=AuditEventType.TOKEN_REVOKED,
        actor=actor,
        actor_repr=None if actor else "operator",
        subject=token,
        before=before,
        after={**_token_state(token), "user": token.user.get_username()},
    )
    return token


def api_token_touch(*, token: ApiToken, now: datetime | None = None) -> None:
    """Record that the token was used, at most once per LAST_USED_RESOLUTION (one UPDATE, no audit:
    usage is not a state change, and the access itself is in the web server's log)."""
    now = now or timezone.now()
    if token.last_used_at is not None and now - token.last_used_at < LAST_USED_RESOLUTION:
        return
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    token.last_used_at = now
