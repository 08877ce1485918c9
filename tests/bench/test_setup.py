"""The benchmarks' shared summary: figures comparable with those docs/performance.md records."""

from bench._setup import latency_ms, p95


def test_p95_is_the_nearest_rank_every_benchmark_reported():
    assert p95([float(n) for n in range(1, 101)]) == 95.0
    assert p95([float(n) for n in range(1, 21)]) == 19.0
    assert p95([7.0]) == 7.0  # one sample: that sample, not an index error


def test_latency_ms_sorts_and_rounds():
    assert latency_ms([3.04, 1.0, 2.0, 250.0]) == {"p50_ms": 2.5, "p95_ms": 3.0}
