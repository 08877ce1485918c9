"""Writes on user accounts and groups: the flags that open the admin (`is_staff`, `is_superuser`,
`is_active`) and membership of the platform-admin group decide who may do everything, so they are
checked (`permissions.user_change_denial`) and audited like any other change."""

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group, Permission, User
from django.db import transaction
from django.db.models import ProtectedError

from policies.actors import Actor
from policies.choices import AuditEventType
from policies.exceptions import PermissionDenied, ValidationFailed
from policies.permissions import group_change_denial, user_change_denial
from policies.services.config import changes, full_clean, record

USER_FIELDS = ("username", "first_name", "last_name", "email", "is_active", "is_staff", "is_superuser")
# What an identity provider decides: taken as it sends it (a display-name username or an address Django's
# validators would refuse must not stop a sign-in), only cut to the columns' length by the caller.
PROVIDER_FIELDS = ("username", "email", "first_name", "last_name")


def _unchecked(source: str | None) -> list[str]:
    return ["password", *(PROVIDER_FIELDS if source else ())]


def _refuse(reason: str | None) -> None:
    if reason is not None:
        raise PermissionDenied(reason)


def _user_snapshot(user: Any) -> dict[str, Any]:
    return {field: getattr(user, field) for field in USER_FIELDS}


def _group_names(user: Any) -> list[str]:
    return sorted(user.groups.values_list("name", flat=True))


@transaction.atomic
def user_create(*, actor: Actor, username: str, password: str | None, source: str | None = None, **fields: Any) -> User:
    """Create an account (no password: sign-in through OIDC only); `source` as for `user_update`."""
    changes = {field: value for field, value in fields.items() if value}
    if actor is not None:
        _refuse(user_change_denial(actor, User(), changes))
    user = User(username=username, **fields)
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    full_clean(user, exclude=_unchecked(source))
    user.save()
    record(
        event_type=AuditEventType.ACCOUNT_CREATED, actor=actor, subject=user, after=_user_snapshot(user), source=source
    )
    return user


@transaction.atomic
def user_update(*, user: User, actor: Actor, source: str | None = None, **fields: Any) -> User:
    """Change an account's names and flags; the event holds the changed fields before and after.
    `source` names who changed it when no person did (the identity provider at sign-in)."""
    locked = User.objects.select_for_update().get(pk=user.pk)
    before = _user_snapshot(locked)
    changes = {field: value for field, value in fields.items() if before.get(field, object()) != value}
    if actor is not None:
        _refuse(user_change_denial(actor, locked, changes))
    for field, value in changes.items():
        if field not in USER_FIELDS:
            raise PermissionDenied(f"{field} is not an account setting.")
        setattr(locked, field, value)
    if not changes:
        return locked
    full_clean(locked, exclude=_unchecked(source))
    locked.save(update_fields=sorted(changes))
    record(
        event_type=AuditEventType.ACCOUNT_UPDATED,
        actor=actor,
        subject=locked,
        before={field: before[field] for field in sorted(changes)},
        after={field: changes[field] for field in sorted(changes)},
        source=source,
    )
    return locked


@transaction.atomic
def user_password_set(*, user: User, actor: Actor, password: str | None) -> User:
    """Set an account's password, or make it unusable (`None`: sign-in through OIDC only). Checked like
    a flag change: a platform admin who is not a superuser cannot take over a superuser's account by
    setting its password. The event says that it changed and how, never the password or its hash."""
    locked = User.objects.select_for_update().get(pk=user.pk)
    if actor is not None:
        _refuse(user_change_denial(actor, locked, {"password": "set" if password else "unusable"}))
    was_usable = locked.has_usable_password()
    if password:
        locked.set_password(password)
    else:
        locked.set_unusable_password()
    locked.save(update_fields=["password"])
    record(
        event_type=AuditEventType.ACCOUNT_PASSWORD_CHANGED,
        actor=actor,
        subject=locked,
        before={"password_usable": was_usable},
        after={"password_usable": locked.has_usable_password()},
        message="password set" if password else "password removed: sign-in through single sign-on only",
    )
    return locked


@transaction.atomic
def user_groups_set(*, user: User, actor: Actor, groups: Iterable[Group]) -> None:
    """Make `user`'s groups exactly `groups`. Joining or leaving the platform-admin group makes or
    unmakes a platform admin, so it is checked like a flag."""
    locked = User.objects.select_for_update().get(pk=user.pk)
    before = _group_names(locked)
    wanted = {group.pk: group for group in groups}
    after = sorted(group.name for group in wanted.values())
    if before == after:
        return
    admin_group = settings.EGRESSUI_ADMIN_GROUP
    if actor is not None and (admin_group in before) != (admin_group in after):
        _refuse(user_change_denial(actor, locked, {"platform_admin": admin_group in after}))
    elif actor is not None:
        _refuse(user_change_denial(actor, locked, {}))
    locked.groups.set(list(wanted.values()))
    record(
        event_type=AuditEventType.ACCOUNT_GROUPS_CHANGED,
        actor=actor,
        subject=locked,
        before={"groups": before},
        after={"groups": after},
    )


@transaction.atomic
def platform_admin_set(*, user: User, actor: Actor, admin: bool) -> None:
    """Add `user` to the platform-admin group, or take them out (`admin=False`)."""
    group, _ = Group.objects.get_or_create(name=settings.EGRESSUI_ADMIN_GROUP)
    current = list(user.groups.exclude(pk=group.pk))
    user_groups_set(user=user, actor=actor, groups=[*current, group] if admin else current)


@transaction.atomic
def user_delete(*, user: User, actor: Actor) -> None:
    """Delete an account (their requests keep them: deletion is refused while any exist)."""
    locked = User.objects.select_for_update().get(pk=user.pk)
    if actor is not None:
        _refuse(user_change_denial(actor, locked, {"is_active": False}))
    before = {**_user_snapshot(locked), "groups": _group_names(locked)}
    subject = ("user", locked.pk, locked.get_username())
    try:
        with transaction.atomic():
            locked.delete()
    except ProtectedError:
        raise ValidationFailed(
            f"{locked.get_username()} has egress requests; deactivate the account instead (is_active off)."
        ) from None
    record(event_type=AuditEventType.ACCOUNT_DELETED, actor=actor, subject=subject, before=before)


def _group_snapshot(group: Group) -> dict[str, Any]:
    return {"name": group.name, "permissions": sorted(group.permissions.values_list("codename", flat=True))}


@transaction.atomic
def group_save(*, actor: Actor, group: Group | None, name: str, permissions: Iterable[Permission] = ()) -> Group:
    """Create (`group=None`) or change a group: its name and model permissions."""
    if group is None:
        if actor is not None:
            _refuse(group_change_denial(actor, name=name))
        group = Group(name=name)
        full_clean(group)
        group.save()
        group.permissions.set(list(permissions))
        record(event_type=AuditEventType.GROUP_CREATED, actor=actor, subject=group, after=_group_snapshot(group))
        return group
    locked = Group.objects.select_for_update().get(pk=group.pk)
    if actor is not None:
        _refuse(group_change_denial(actor, name=locked.name, new_name=name))
    before = _group_snapshot(locked)
    locked.name = name
    full_clean(locked)
    locked.save()
    locked.permissions.set(list(permissions))
    old, new = changes(before, _group_snapshot(locked))
    if new:
        record(event_type=AuditEventType.GROUP_UPDATED, actor=actor, subject=locked, before=old, after=new)
    return locked


@transaction.atomic
def group_delete(*, group: Group, actor: Actor) -> None:
    if actor is not None:
        _refuse(group_change_denial(actor, name=group.name, delete=True))
    before = {**_group_snapshot(group), "members": sorted(group.user_set.values_list("username", flat=True))}
    subject = ("group", group.pk, group.name)
    group.delete()
    record(event_type=AuditEventType.GROUP_DELETED, actor=actor, subject=subject, before=before)
