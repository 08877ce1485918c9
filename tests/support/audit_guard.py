"""The mechanical check of "every change is audited in the same transaction" (STYLE rules 4, 23).

While a test runs, signals record every write of a `policies` model (team memberships included),
every change of membership in the platform-admin group and every change to an existing account
(flags, names, password); a wrapper around the audit log's event builder records every `AuditEvent`
written. Writes are grouped by the application transaction they happen in (the outermost `atomic`
block that is not the test's own), and checked when that block commits: a committed transaction with
a guarded write and no audit event is a violation, as is a guarded write outside any transaction (it
can never share one with its audit event). Rolled-back blocks and savepoints forget their writes.
The signals only observe; nothing here changes behaviour.

Writes that are legitimately not audited are either allow-listed below, with the reason, or made
inside `unaudited_writes(reason)` (test fixtures: the factories create through it).
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import DEFAULT_DB_ALIAS
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.db.transaction import Atomic, get_connection

from policies.services import audit as audit_module

# Model label → why its writes need no audit event of their own.
ALLOWED: dict[str, str] = {
    "policies.AuditEvent": "the audit log itself",
    "policies.AuditChainHead": "the audit log's hash-chain head, written with every event",
    "policies.ClusterSyncState": "sync-state bookkeeping: outbox marks and reconcile outcomes, "
    "written with (or as a consequence of) an audited change",
    "policies.ReconcileLease": "the per-cluster reconcile lock",
    "policies.ReconcileRun": "a reconcile's own run record (its outcome is audited as reconcile.finished)",
    "policies.ReconcileObjectResult": "per-object results of a reconcile run (object.* events audit changes)",
    "policies.ManagedObject": "the reconciler's inventory of what it applied (object.* events audit changes)",
    "policies.ClusterIngestState": "the access-log ingestion cursor",
    "policies.AccessRecord": "access records from log ingestion: observed traffic, not a change",
    "policies.UnusedGrantNotice": "when an unused-grant notice was last sent (notification bookkeeping)",
    "policies.IdempotencyRecord": "the API's replay cache for Idempotency-Key",
}
# (model label, fields) saves with exactly these update_fields → why they need no event.
ALLOWED_UPDATES: dict[tuple[str, frozenset[str]], str] = {
    ("policies.ApiToken", frozenset({"last_used_at"})): "usage timestamp of a token on each API call",
    ("policies.WorkloadIdentity", frozenset({"discovered"})): "discovery marks a typed-in identity as seen",
    (
        "policies.Grant",
        frozenset({"expiry_notices_sent"}),
    ): "expiry reminders sent (notification bookkeeping)",
}

_allowed_reason: contextvars.ContextVar[str | None] = contextvars.ContextVar("unaudited_writes", default=None)


@contextlib.contextmanager
def unaudited_writes(reason: str) -> Iterator[None]:
    """Writes inside this block are not checked: for test fixtures written directly (factories) and
    tests that set up a state no service produces. Say why."""
    if not reason:
        raise ValueError("say why these writes need no audit event")
    token = _allowed_reason.set(reason)
    try:
        yield
    finally:
        _allowed_reason.reset(token)


@dataclass
class _Transaction:
    writes: list[str] = field(default_factory=list)
    audits: int = 0


@dataclass
class _Frame:
    tx: _Transaction | None  # None: a block of the test itself (TestCase atomics)
    outermost: bool
    marks: tuple[int, int] = (0, 0)


class AuditGuard:
    """One per session; `start()`/`finish()` around each test."""

    def __init__(self) -> None:
        self.active = False
        self.violations: list[str] = []
        self._local = threading.local()

    # -- transaction tracking (installed for the whole session, so entries and exits always pair) --

    def _frames(self) -> list[_Frame]:
        if not hasattr(self._local, "frames"):
            self._local.frames = []
        return self._local.frames

    def current(self) -> _Transaction | None:
        frames = self._frames()
        return frames[-1].tx if frames else None

    def entered(self, block: Atomic) -> None:
        if (block.using or DEFAULT_DB_ALIAS) != DEFAULT_DB_ALIAS:
            return
        frames, tx = self._frames(), self.current()
        if block._from_testcase:
            frames.append(_Frame(tx=None, outermost=False))
        elif tx is None:
            frames.append(_Frame(tx=_Transaction(), outermost=True))
        else:
            frames.append(_Frame(tx=tx, outermost=False, marks=(len(tx.writes), tx.audits)))

    def exiting(self, block: Atomic, exc_type) -> None:
        if (block.using or DEFAULT_DB_ALIAS) != DEFAULT_DB_ALIAS or not self._frames():
            return
        frame = self._frames().pop()
        if frame.tx is None:
            return
        committed = exc_type is None and not get_connection(block.using).needs_rollback
        if not committed:
            # A savepoint rolled back: what was written inside it is gone (an outer rollback: all of it).
            del frame.tx.writes[frame.marks[0] :]
            frame.tx.audits = frame.marks[1]
            return
        if frame.outermost and frame.tx.writes and not frame.tx.audits and self.active:
            self.violations.append("committed without an AuditEvent: " + ", ".join(sorted(set(frame.tx.writes))))

    # -- what is written --

    def write(self, what: str) -> None:
        if not self.active or _allowed_reason.get() is not None:
            return
        what = f"{what} at {_caller()}"
        tx = self.current()
        if tx is None:
            self.violations.append(f"{what} outside a transaction (no AuditEvent can share it)")
        else:
            tx.writes.append(what)

    def audited(self) -> None:
        tx = self.current()
        if tx is not None:
            tx.audits += 1

    def start(self) -> None:
        self.violations = []
        self.active = True

    def finish(self) -> list[str]:
        self.active = False
        return self.violations


guard = AuditGuard()
_ROOT = str(Path(__file__).resolve().parents[2]) + "/"


def _caller() -> str:
    """The innermost project line that made the write, so a violation says where to look."""
    for frame in reversed(traceback.extract_stack()):
        # A virtualenv may live inside the checkout (`make install` puts it in .venv): skip libraries.
        in_project = frame.filename.startswith(_ROOT) and "site-packages" not in frame.filename
        if in_project and frame.filename != __file__:
            return f"{frame.filename.removeprefix(_ROOT)}:{frame.lineno}"
    return "?"


def _historical(sender) -> bool:
    """A model of a migration's state (a data migration's writes are not the application's)."""
    return sender.__module__ == "__fake__"


def _model_saved(sender, instance, created, update_fields=None, **kwargs) -> None:
    if _historical(sender):
        return
    label = sender._meta.label
    if label in ALLOWED or (label, frozenset(update_fields or ())) in ALLOWED_UPDATES:
        return
    guard.write(f"{label} {'created' if created else 'updated'}")


def _model_deleted(sender, instance, **kwargs) -> None:
    if not _historical(sender) and sender._meta.label not in ALLOWED:
        guard.write(f"{sender._meta.label} deleted")


def _account_saved(sender, instance, created, update_fields=None, **kwargs) -> None:
    """A change to an existing account (flags, names, password). Sign-in's last_login stamp is not a
    change anyone made; accounts created by fixtures are not checked (tests make many users directly)."""
    if created or _historical(sender) or frozenset(update_fields or ()) == frozenset({"last_login"}):
        return
    guard.write(f"{sender._meta.label} updated")


def _groups_changed(sender, instance, action, reverse, pk_set, **kwargs) -> None:
    """Membership of the platform-admin group (from either side of the relation)."""
    if action not in ("post_add", "post_remove", "pre_clear"):
        return
    admin_group = settings.EGRESSUI_ADMIN_GROUP
    if reverse:
        touched = instance.name == admin_group
    elif action == "pre_clear":
        touched = instance.groups.filter(name=admin_group).exists()
    else:
        touched = kwargs["model"].objects.filter(pk__in=pk_set or (), name=admin_group).exists()
    if touched:
        guard.write(f"{admin_group} group membership ({action})")


_installed = False


def install() -> AuditGuard:
    """Wrap the transaction and audit hooks and connect the signals, once per session."""
    global _installed
    if _installed:
        return guard
    original_enter, original_exit = Atomic.__enter__, Atomic.__exit__

    def enter(self):
        result = original_enter(self)
        guard.entered(self)
        return result

    def exit_(self, exc_type, exc_value, traceback):
        guard.exiting(self, exc_type)
        return original_exit(self, exc_type, exc_value, traceback)

    Atomic.__enter__, Atomic.__exit__ = enter, exit_
    original_event = audit_module._event

    def event(**fields):
        guard.audited()
        return original_event(**fields)

    audit_module._event = event
    for model in apps.get_app_config("policies").get_models():
        post_save.connect(_model_saved, sender=model, dispatch_uid=f"audit-guard-save-{model._meta.label}")
        post_delete.connect(_model_deleted, sender=model, dispatch_uid=f"audit-guard-delete-{model._meta.label}")
    post_save.connect(_account_saved, sender=get_user_model(), dispatch_uid="audit-guard-account")
    m2m_changed.connect(_groups_changed, sender=get_user_model().groups.through, dispatch_uid="audit-guard-groups")
    _installed = True
    return guard
