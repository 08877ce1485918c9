"""Thin Celery wrappers: take ids, call one function, return. The bodies are idempotent, which is
what makes `acks_late` (a task re-run after a worker dies) safe."""

import logging
import smtplib

from celery import shared_task

logger = logging.getLogger(__name__)

_RETRY = {"retry_backoff": True, "retry_backoff_max": 600, "retry_jitter": True, "max_retries": 8}


@shared_task(acks_late=True)
def reconcile_cluster_task(cluster_id: int, trigger: str = "change") -> None:
    from policies.reconciler.loop import reconcile_cluster

    reconcile_cluster(cluster_id, trigger=trigger)


@shared_task(acks_late=True)
def sweep_marked_clusters_task() -> int:
    from policies.models import ClusterSyncState
    from policies.services.outbox import enqueue_reconcile

    cluster_ids = list(ClusterSyncState.objects.filter(needs_reconcile=True).values_list("cluster_id", flat=True))
    enqueue_reconcile(cluster_ids, trigger="sweep")
    return len(cluster_ids)


@shared_task(acks_late=True)
def resync_all_clusters_task() -> int:
    from policies.models import Cluster
    from policies.services.outbox import enqueue_reconcile

    cluster_ids = list(Cluster.objects.values_list("pk", flat=True))
    enqueue_reconcile(cluster_ids, trigger="resync")
    return len(cluster_ids)


@shared_task(acks_late=True)
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
