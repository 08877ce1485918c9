"""Audit of sign-in protection: a lock-out is a security fact worth keeping next to every change."""

from django.conf import settings
from django.db import transaction

from policies.choices import AuditEventType
from policies.services.audit import audit_event_record


@transaction.atomic
def sign_in_lockout_record(*, username: str, address: str, path: str) -> None:
    """Record that `username` (or a token prefix) was locked out from `address` after too many failed
    attempts. The password tried is never known here; the account name is what was typed."""
    audit_event_record(
        event_type=AuditEventType.SIGN_IN_LOCKED_OUT,
        actor=None,
        actor_repr="sign-in throttle",
        subject=("account", "", username[:150]),
        after={
            "username": username[:150],
            "address": address,
            "path": path[:200],
            "failure_limit": settings.AXES_FAILURE_LIMIT,
            "lockout_minutes": int(settings.AXES_COOLOFF_TIME.total_seconds() // 60),
        },
        message=f"Too many failed attempts for {username[:150]!r} or from {address}; locked out.",
    )
