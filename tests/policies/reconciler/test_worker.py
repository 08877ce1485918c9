"""A real Celery worker process on Redis reconciles approvals into the (emulated) cluster; nothing is
lost when the broker is down at approval time (the outbox sweep picks the change up), nor when a
worker is killed mid-run (a later run takes over once its lease expires, and converges)."""

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


def app_state(env: dict, cluster_id: int) -> dict:
    with DjangoProcess(env) as app:
        return app.call(f"{SCENARIO}.state", cluster_id)


class WorkerIntegrationTests:
    def test_nothing_is_lost_through_a_broker_outage_or_a_killed_worker(self, kube, tmp_path):
        with scratch_database(tmp_path) as database_url:
            env = process_env(
                database_url=database_url,
                redis_url=os.environ["REDIS_URL"],
                var_dir=tmp_path,
                EGRESSUI_KUBE_BACKOFF_MS="10",
                EGRESSUI_RECONCILE_LOCK_TTL="3",  # a killed worker's lease is free again 3 s later
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
                first, second, third = ids["requests"]

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
                assert state["status"] == "ready" and ["sweep", "succeeded"] in state["runs"]

                # A worker killed mid-run: its run stops between two writes, nothing is acked or released.
                kube.stall("apply", plural="virtualservices", name="files-example-net", seconds=120)
                app.call(f"{SCENARIO}.approve", third)
                wait_for(
                    lambda: kube.get("authorizationpolicies", "istio-egress", "files-example-net"),
                    worker,
                    what="the run reaching the stalled VirtualService",
                )
                worker.kill()
            assert ["change", "running"] in app_state(env, ids["cluster"])["runs"]

            with DjangoProcess(env) as app, CeleryWorker(env, tmp_path / "worker2.log") as successor:
                # Beat's sweep keeps asking; the first runs find the dead worker's lease, later ones take over.
                def converged():
                    app.call(f"{SCENARIO}.sweep")
                    time.sleep(0.5)
                    return kube.get("virtualservices", "istio-egress", "files-example-net")

                wait_for(converged, successor, what="a later run converging after the killed one")
                wait_for(
                    lambda: not app.call(f"{SCENARIO}.state", ids["cluster"])["needs_reconcile"],
                    successor,
                    what="the outbox flag being cleared after the takeover",
                )
                state = app.call(f"{SCENARIO}.state", ids["cluster"])
            assert state["grants"]["files.example.net"] == "applied"
            assert ["change", "failed"] in state["runs"]  # the dead run, closed by its successor
            assert ["change", "running"] not in state["runs"]
