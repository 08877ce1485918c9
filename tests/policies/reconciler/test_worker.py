"""A real Celery worker process on Redis reconciles approvals into the (emulated) cluster, and nothing
is lost when the broker is down at approval time: the outbox sweep picks the change up."""

import os
import time

import pytest

from tests.support.worker import CeleryWorker, DjangoProcess, manage, process_env, scratch_database

pytestmark = [
    pytest.mark.redis,
    pytest.mark.skipif(
        not os.environ.get("REDIS_URL"), reason="needs Redis as the Celery broker: set REDIS_URL (CI always does)"
    ),
]
SCENARIO = "tests.policies.reconciler.worker_scenario"


def wait_for(condition, worker: CeleryWorker, *, what: str, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    pytest.fail(f"{what} did not happen within {timeout:g} s; worker log:\n{worker.log()[-5000:]}")


class WorkerIntegrationTests:
    def test_approvals_reach_the_cluster_even_when_the_broker_was_down(self, kube, tmp_path):
        with scratch_database(tmp_path) as database_url:
            env = process_env(
                database_url=database_url,
                redis_url=os.environ["REDIS_URL"],
                var_dir=tmp_path,
                EGRESSUI_KUBE_BACKOFF_MS="10",
            )
            manage(env, "migrate", "--noinput")
            broker_down = {**env, "REDIS_URL": "redis://127.0.0.1:9/0"}  # nothing listens there
            with (
                DjangoProcess(env) as app,
                DjangoProcess(broker_down) as app_without_broker,
                CeleryWorker(env, tmp_path / "worker.log") as worker,
            ):
                ids = app.call(f"{SCENARIO}.seed", kube.url)
                app.call(f"{SCENARIO}.purge")  # leftovers of earlier runs
                first, second = ids["requests"]

                app.call(f"{SCENARIO}.approve", first)
                wait_for(
                    lambda: kube.get("authorizationpolicies", "istio-egress", "api-stripe-com"),
                    worker,
                    what="the approved grant's objects appearing in the cluster",
                )
                wait_for(  # the run is over (a mark made during it would cause another run)
                    lambda: app.call(f"{SCENARIO}.state", ids["cluster"])["grants"]["api.stripe.com"] == "applied",
                    worker,
                    what="the grant being recorded as applied",
                )

                app_without_broker.call(f"{SCENARIO}.approve", second)
                state = app.call(f"{SCENARIO}.state", ids["cluster"])
                assert state["needs_reconcile"] is True  # the outbox kept the change
                assert state["grants"]["hooks.example.org"] == "pending"
                assert kube.get("serviceentries", "istio-egress", "hooks-example-org") is None

                app.call(f"{SCENARIO}.sweep")  # what beat runs every 30 s
                wait_for(
                    lambda: kube.get("authorizationpolicies", "istio-egress", "hooks-example-org"),
                    worker,
                    what="the sweep reconciling the change made while the broker was down",
                )
                wait_for(
                    lambda: not app.call(f"{SCENARIO}.state", ids["cluster"])["needs_reconcile"],
                    worker,
                    what="the outbox flag being cleared",
                )
                state = app.call(f"{SCENARIO}.state", ids["cluster"])
            assert state["grants"] == {"api.stripe.com": "applied", "hooks.example.org": "applied"}
            assert state["status"] == "ready"
            assert ["sweep", "succeeded"] in state["runs"]
