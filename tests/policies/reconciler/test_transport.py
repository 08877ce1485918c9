"""The write path: concurrent up to EGRESSUI_RECONCILE_CONCURRENCY, fewer after a 429 (API Priority and
Fairness), nobody sending before Retry-After has passed; lean HTTP over the client's pool with the
client's credentials (a rotated token is used at once); one request per write, encoded once."""

import json
import threading

import pytest

from policies.reconciler.loop import reconcile_cluster
from policies.reconciler.transport import Throttle
from tests.factories import GrantFactory
from tests.policies.reconciler.conftest import point_at
from tests.policies.reconciler.test_cluster import service_entry

pytestmark = pytest.mark.django_db


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def enter_in_thread(throttle: Throttle) -> tuple[threading.Thread, threading.Event, threading.Event]:
    """A caller taking a slot in another thread; `inside` is set while it holds it, until `leave`."""
    inside, leave = threading.Event(), threading.Event()

    def call():
        with throttle.slot():
            inside.set()
            leave.wait(10)

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    return thread, inside, leave


class ThrottleTests:
    def test_at_most_limit_in_flight(self):
        throttle = Throttle(2)
        callers = [enter_in_thread(throttle) for _ in range(3)]
        assert callers[0][1].wait(5) and callers[1][1].wait(5)
        assert not callers[2][1].wait(0.2) and throttle.in_flight == 2
        callers[0][2].set()
        assert callers[2][1].wait(5)
        for _, _, leave in callers:
            leave.set()

    def test_a_429_halves_the_limit_pauses_everyone_for_retry_after_and_successes_win_slots_back(self):
        clock = FakeClock()
        throttle = Throttle(8, clock=clock)
        throttle.throttled(retry_after=5)
        assert throttle.limit == 4 and throttle.throttled_count == 1
        thread, inside, leave = enter_in_thread(throttle)
        assert not inside.wait(0.3)  # paused: Retry-After has not passed on the clock
        clock.now += 5
        with throttle._condition:
            throttle._condition.notify_all()
        assert inside.wait(5)
        leave.set()
        thread.join(5)
        throttle.throttled(retry_after=None)
        throttle.throttled(retry_after=None)
        throttle.throttled(retry_after=None)
        assert throttle.limit == 1  # never below one
        for _ in range(1 + 2 + 3):
            throttle.succeeded()
        assert throttle.limit == 4  # additive increase: one slot per `limit` successes
        for _ in range(100):
            throttle.succeeded()
        assert throttle.limit == 8  # never above the configured concurrency


class ConcurrentWritesTests:
    @pytest.fixture
    def many(self, world, kube):
        for index in range(12):
            GrantFactory(identity=world.checkout, host=f"api{index}.example.com")
        return point_at(world.cluster, kube.url)

    def test_writes_run_concurrently_up_to_the_setting(self, many, kube, settings):
        settings.EGRESSUI_RECONCILE_CONCURRENCY = 3
        kube.stall("apply", seconds=0.05, times=None)
        run = reconcile_cluster(many.pk, trigger="test")
        assert run.outcome == "succeeded" and run.created > 30
        assert kube.max_in_flight == 3  # the list calls run before, one at a time

    def test_429s_are_retried_with_fewer_in_flight_and_everything_lands(self, many, kube, settings):
        settings.EGRESSUI_RECONCILE_CONCURRENCY = 4
        # Three: no object can meet more 429s than it is retried (EGRESSUI_KUBE_RETRIES = 3 here).
        kube.fail("apply", status=429, times=3, message="too many requests, please try again later")
        run = reconcile_cluster(many.pk, trigger="test")
        assert run.outcome == "succeeded" and run.failed == 0
        assert [call.status for call in kube.calls if call.verb == "apply"].count(429) == 3
        assert run.api_calls["apply"] == run.created + 3
        assert kube.max_in_flight <= 4


class LeanTransportTests:
    def test_an_apply_is_one_request_with_the_object_as_json(self, plain_target, kube):
        target = plain_target
        obj = service_entry()
        target.apply(obj)
        [request] = [r for r in kube._requests if r.method.value == "PATCH"]
        assert request.headers["Content-Type"] == "application/apply-patch+yaml"
        assert json.loads(request.body) == obj
        assert request.params == {"fieldManager": "egressui", "fieldValidation": "Strict", "force": "true"}
        assert [call.verb for call in kube.calls] == ["apply"]  # no discovery, no read-back

    def test_a_rotated_token_is_used_at_once(self, plain_target, kube):
        """In-cluster tokens rotate: the client's refresh hook runs before each request, as the client does."""
        target = plain_target
        configuration = target.api_client.configuration

        def rotate(config):
            config.api_key["authorization"] = "Bearer rotated"

        configuration.refresh_api_key_hook = rotate
        target.apply(service_entry())
        assert kube._requests[-1].headers["Authorization"] == "Bearer rotated"

    def test_connections_are_kept_alive(self, plain_target, kube):
        target = plain_target
        for index in range(5):
            target.apply(service_entry(f"x{index}"))
        pool = target.api_client.rest_client.pool_manager.connection_from_url(kube.url)
        assert pool.num_connections == 1 and pool.num_requests == 5


class ProxyTests:
    def test_through_an_http_proxy_the_request_carries_the_whole_url(self, world, kube):
        """The client's proxy setting is kept: requests go to the proxy in absolute form (here the
        emulator plays the proxy and serves them itself)."""
        from policies.reconciler.cluster import KubernetesTarget, api_client_for

        world.cluster.name = "cluster-a"
        cluster = point_at(world.cluster, "http://api.cluster-a.invalid:6443")
        api_client = api_client_for(cluster)
        api_client.configuration.proxy = kube.url
        api_client.rest_client = type(api_client.rest_client)(api_client.configuration)  # as the client does
        target = KubernetesTarget(cluster, api_client=api_client, sleep=lambda _: None)
        assert target.transport.direct is False
        target.apply(service_entry())
        [request] = [r for r in kube._requests if r.method.value == "PATCH"]
        assert request.headers["Host"] == "api.cluster-a.invalid:6443"
        assert kube.get("serviceentries", "istio-egress", "api-example-com") is not None
        target.close()
