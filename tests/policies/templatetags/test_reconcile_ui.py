from policies.templatetags.reconcile_ui import run_timings


class RunTimingsTests:
    def test_phases_in_run_order_then_the_rest(self):
        timings = {"record": 1234, "write": 30500, "zeta": 1, "queued": 5, "desired": 80, "list": 40}
        assert run_timings(timings) == (
            "waiting for a worker 5 ms · computing the desired objects 80 ms · reading the cluster 40 ms · "
            "writing the changes 30,500 ms · recording the run 1,234 ms · zeta 1 ms"
        )
