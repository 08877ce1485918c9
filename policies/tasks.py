"""Thin Celery wrappers: take ids, call one function, return. The bodies are idempotent, which is
what makes `acks_late` (a task re-run after a worker dies) safe."""

import logging
import smtplib

from celery import shared_task
from django.db import DatabaseError

from policies.reconciler.errors import ReconcileRetry

logger = logging.getLogger(__name__)

_RETRY = {"retry_backoff": True, "retry_backoff_max": 600, "retry_jitter": True, "max_retries": 8}


# A reconcile that failed in a way worth repeating unchanged (429, 5xx, unreachable cluster) is retried
# with exponential backoff and jitter; the 30-s sweep stays the safety net after the last retry.
_RECONCILE_RETRY = {"retry_backoff": 5, "retry_backoff_max": 300, "retry_jitter": True, "max_retries": 6}
# Periodic jobs only touch the database; a transient database error is retried a few times.
_DB_RETRY = {"retry_backoff": 2, "retry_backoff_max": 30, "retry_jitter": True, "max_retries": 3}


@shared_task(acks_late=True, autoretry_for=(ReconcileRetry,), **_RECONCILE_RETRY)
def reconcile_cluster_task(cluster_id: int, trigger: str = "change", run_id: int | None = None) -> str:
    from policies.reconciler.loop import reconcile_cluster_for_task

    return reconcile_cluster_for_task(cluster_id, trigger=trigger, run_id=run_id)


@shared_task(acks_late=True, soft_time_limit=30, time_limit=60, autoretry_for=(DatabaseError,), **_DB_RETRY)
def sweep_marked_clusters_task() -> int:
    from policies.services.reconcile import reconcile_sweep_marked

    return reconcile_sweep_marked()


@shared_task(acks_late=True, soft_time_limit=30, time_limit=60, autoretry_for=(DatabaseError,), **_DB_RETRY)
def resync_all_clusters_task() -> int:
    from policies.services.reconcile import reconcile_resync_all

    return reconcile_resync_all()


@shared_task(acks_late=True, autoretry_for=(DatabaseError,), **_DB_RETRY)
def expire_grants_task() -> int:
    from policies.services.grants import grants_expire_due

    return grants_expire_due()


@shared_task(acks_late=True)
def send_expiry_notices_task() -> int:
    from policies.services.grants import grants_send_expiry_notices

    return grants_send_expiry_notices()


@shared_task(autoretry_for=(smtplib.SMTPException, OSError), **_RETRY)
def send_email_task(*, subject: str, body: str, recipients: list[str]) -> int:
    from django.conf import settings
    from django.core.mail import send_mail

    return send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients, fail_silently=False)


@shared_task(bind=True, **_RETRY)
def send_webhook_task(self, *, team_id: int, event: str, payload: dict) -> int | None:
    from policies.models import Team
    from policies.webhooks import WebhookDeliveryError, deliver

    team = Team.objects.filter(pk=team_id).first()
    if team is None or not team.webhook_url:
        return None
    try:
        return deliver(url=team.webhook_url, secret=team.webhook_secret, event=event, payload=payload)
    except WebhookDeliveryError as exc:
        logger.warning("webhook for team %s failed (%s), attempt %s", team.slug, exc, self.request.retries + 1)
        raise self.retry(exc=exc, countdown=min(600, 10 * 2**self.request.retries)) from None


@shared_task(acks_late=True)
def prune_access_records_task() -> int:
    from policies.services.access_logs import access_records_prune

    return access_records_prune()


@shared_task(acks_late=True)
def notify_unused_grants_task() -> int:
    from policies.services.usage_notices import unused_grants_notify

    return unused_grants_notify()


@shared_task(acks_late=True)
def purge_idempotency_records_task() -> int:
    from policies.api.idempotency import idempotency_records_purge

    return idempotency_records_purge()
