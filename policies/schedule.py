"""Every periodic job of egressui, in one place. Bodies are services/reconciler functions; the tasks
only wrap them. Plain data: imported by settings, so it must not import models."""

from celery.schedules import crontab


def beat_schedule(*, resync_seconds: int) -> dict:
    return {
        # The outbox sweep: reconcile clusters whose "needs reconcile" flag is still set, e.g. because
        # the broker was down when the change committed. Short, so a lost message costs ≤ 30 s.
        # Each periodic message expires before the next one is due: while workers are down they do
        # not pile up, and the first tick after they return does the work once.
        "sweep-marked-clusters": {
            "task": "policies.tasks.sweep_marked_clusters_task",
            "schedule": 30.0,
            "options": {"expires": 25},
        },
        # Full resync of every cluster to find and repair drift (objects edited or deleted behind us).
        "resync-all-clusters": {
            "task": "policies.tasks.resync_all_clusters_task",
            "schedule": float(resync_seconds),
            "options": {"expires": max(25, resync_seconds - 5)},
        },
        # Expire grants whose time is up; expiry removes access on the clusters' next reconcile.
        "expire-grants": {"task": "policies.tasks.expire_grants_task", "schedule": 60.0, "options": {"expires": 55}},
        # Remind owning teams of grants about to expire (EGRESSUI_EXPIRY_NOTICE_DAYS), at minute 5 of each hour.
        "grant-expiry-notices": {"task": "policies.tasks.send_expiry_notices_task", "schedule": crontab(minute=5)},
        # Drop access aggregates past EGRESSUI_ACCESS_RETENTION_DAYS; hourly, as they are kept per hour.
        "prune-access-records": {"task": "policies.tasks.prune_access_records_task", "schedule": crontab(minute=20)},
        # Email teams about grants unused for EGRESSUI_UNUSED_GRANT_DAYS (if enabled), daily at 07:00 UTC.
        "unused-grant-notices": {
            "task": "policies.tasks.notify_unused_grants_task",
            "schedule": crontab(hour=7, minute=0),
        },
        # Forget API Idempotency-Keys older than EGRESSUI_IDEMPOTENCY_HOURS, hourly at minute 35.
        "purge-idempotency-keys": {
            "task": "policies.tasks.purge_idempotency_records_task",
            "schedule": crontab(minute=35),
        },
    }
