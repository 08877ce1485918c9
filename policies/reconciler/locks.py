"""One reconcile per cluster at a time: a lease, renewed while the run makes progress.

With Redis as the broker the lease is a Redis lock; otherwise (the embedded filesystem broker, or any
other) it is a row in the database taken with one conditional UPDATE, which works the same on SQLite
and PostgreSQL and across machines. Either way the lease expires `EGRESSUI_RECONCILE_LOCK_TTL`
seconds after its last renewal, so a worker killed mid-run blocks the cluster only that long.
"""

import os
import socket
import time
import uuid
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from policies.reconciler.errors import LeaseLost


def _holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


class Lease:
    """acquire() / keep_alive() / release(); renewals are rate-limited to a third of the TTL."""

    def __init__(self, cluster_id: int, *, ttl: int | None = None):
        self.cluster_id = cluster_id
        self.ttl = ttl or settings.EGRESSUI_RECONCILE_LOCK_TTL
        self.holder = _holder()
        self.held = False
        self._renewed_at = 0.0

    def acquire(self, *, wait: float = 0.0, poll: float = 0.2) -> bool:
        deadline = time.monotonic() + wait
        while True:
            if self._try_acquire():
                self.held, self._renewed_at = True, time.monotonic()
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(poll)

    def keep_alive(self) -> None:
        """Renew if a third of the TTL has passed; raise LeaseLost if someone else holds it now."""
        if not self.held:
            raise LeaseLost(f"the reconcile lock of cluster {self.cluster_id} is not held")
        if time.monotonic() - self._renewed_at < self.ttl / 3:
            return
        if not self._renew():
            self.held = False
            raise LeaseLost(f"the reconcile lock of cluster {self.cluster_id} expired and was taken over")
        self._renewed_at = time.monotonic()

    def release(self) -> None:
        """Give the lease back if held; either way free what the lease object uses (a connection)."""
        try:
            if self.held:
                self.held = False
                self._release()
        finally:
            self._close()

    def _close(self) -> None:
        pass

    def __enter__(self) -> "Lease":
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def _try_acquire(self) -> bool:
        raise NotImplementedError

    def _renew(self) -> bool:
        raise NotImplementedError

    def _release(self) -> None:
        raise NotImplementedError


class DatabaseLease(Lease):
    """A row per cluster; taking it is one atomic UPDATE that succeeds only if it is free or expired."""

    def _try_acquire(self) -> bool:
        from policies.models import ReconcileLease

        now = timezone.now()
        ReconcileLease.objects.bulk_create([ReconcileLease(cluster_id=self.cluster_id)], ignore_conflicts=True)
        free = Q(holder="") | Q(expires_at__isnull=True) | Q(expires_at__lt=now)
        taken = ReconcileLease.objects.filter(Q(cluster_id=self.cluster_id) & free).update(
            holder=self.holder, expires_at=now + timedelta(seconds=self.ttl), acquired_at=now
        )
        return taken == 1

    def _renew(self) -> bool:
        from policies.models import ReconcileLease

        expires_at = timezone.now() + timedelta(seconds=self.ttl)
        return (
            ReconcileLease.objects.filter(cluster_id=self.cluster_id, holder=self.holder).update(expires_at=expires_at)
            == 1
        )

    def _release(self) -> None:
        from policies.models import ReconcileLease

        ReconcileLease.objects.filter(cluster_id=self.cluster_id, holder=self.holder).update(holder="", expires_at=None)


class RedisLease(Lease):
    """redis-py's Lock: SET NX PX to take it, token-checked Lua scripts to renew and release."""

    def __init__(self, cluster_id: int, *, ttl: int | None = None, url: str | None = None):
        super().__init__(cluster_id, ttl=ttl)
        import redis

        self._redis = redis.Redis.from_url(url or settings.CELERY_BROKER_URL)
        self._lock = self._redis.lock(f"egressui:reconcile:{cluster_id}", timeout=self.ttl, thread_local=False)

    def _try_acquire(self) -> bool:
        return bool(self._lock.acquire(blocking=False, token=self.holder))

    def _renew(self) -> bool:
        from redis.exceptions import LockError

        try:
            self._lock.reacquire()
            return True
        except LockError:
            return False

    def _release(self) -> None:
        from redis.exceptions import LockError

        try:
            self._lock.release()
        except LockError:  # expired meanwhile: nothing to give back
            pass

    def _close(self) -> None:
        self._redis.close()


def uses_redis() -> bool:
    return str(settings.CELERY_BROKER_URL).startswith(("redis://", "rediss://"))


def cluster_lease(cluster_id: int) -> Lease:
    """The lease for a cluster's reconcile: Redis when Redis is the broker, else the database."""
    return RedisLease(cluster_id) if uses_redis() else DatabaseLease(cluster_id)
