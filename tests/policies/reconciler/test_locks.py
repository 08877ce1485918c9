"""The per-cluster lease: one holder, renewal while working, takeover only after expiry."""

import os
from datetime import timedelta

import pytest
from django.utils import timezone

from policies.models import ReconcileLease
from policies.reconciler.errors import LeaseLost
from policies.reconciler.locks import DatabaseLease, RedisLease, cluster_lease

pytestmark = pytest.mark.django_db


class DatabaseLeaseTests:
    def test_one_holder_at_a_time(self, world):
        first, second = DatabaseLease(world.cluster.pk), DatabaseLease(world.cluster.pk)
        assert first.acquire() and not second.acquire()
        first.release()
        assert second.acquire()
        second.release()
        assert ReconcileLease.objects.get(cluster=world.cluster).holder == ""

    def test_an_expired_lease_is_taken_over_and_the_old_holder_learns_it(self, world):
        dead, alive = DatabaseLease(world.cluster.pk, ttl=30), DatabaseLease(world.cluster.pk, ttl=30)
        assert dead.acquire()
        ReconcileLease.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
        assert alive.acquire()
        dead._renewed_at -= 30  # its next keep-alive must really renew, and finds the lease gone
        with pytest.raises(LeaseLost):
            dead.keep_alive()
        dead.release()  # gives back nothing: the lease is not its own any more
        assert ReconcileLease.objects.get(cluster=world.cluster).holder == alive.holder

    def test_keep_alive_extends_the_lease_at_most_every_third_of_the_ttl(self, world):
        lease = DatabaseLease(world.cluster.pk, ttl=30)
        assert lease.acquire()
        first = ReconcileLease.objects.get(cluster=world.cluster).expires_at
        lease.keep_alive()
        assert ReconcileLease.objects.get(cluster=world.cluster).expires_at == first  # too soon
        lease._renewed_at -= 11
        lease.keep_alive()
        assert ReconcileLease.objects.get(cluster=world.cluster).expires_at > first

    def test_database_is_the_fallback_without_a_redis_broker(self, world, settings):
        settings.CELERY_BROKER_URL = "filesystem://"
        assert isinstance(cluster_lease(world.cluster.pk), DatabaseLease)
        settings.CELERY_BROKER_URL = "redis://127.0.0.1:6379/2"
        assert isinstance(cluster_lease(world.cluster.pk), RedisLease)


@pytest.mark.redis
@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs a Redis server: set REDIS_URL")
class RedisLeaseTests:
    def test_one_holder_renewal_and_expiry(self, world):
        url = os.environ["REDIS_URL"]
        key_owner = RedisLease(world.cluster.pk + 10_000_000, ttl=30, url=url)
        other = RedisLease(world.cluster.pk + 10_000_000, ttl=30, url=url)
        try:
            assert key_owner.acquire() and not other.acquire()
            key_owner._renewed_at -= 11
            key_owner.keep_alive()
            key_owner._redis.delete(key_owner._lock.name)  # expiry, as seen from Redis
            assert other.acquire()
            key_owner._renewed_at -= 11
            with pytest.raises(LeaseLost):
                key_owner.keep_alive()
        finally:
            other.release()
            key_owner.release()
