"""Cost of the production hardening per request and per log line; prints one JSON line.

    .venv/bin/python bench/middleware.py [--requests N] [--lines N]

Times are CPU time of this process (`time.process_time`), so other work on the machine skews them
less than wall-clock time would. `request_us_full` is the mean time of GET /healthz through the
whole middleware stack (Django's test handler, in process, no network), its request log line
rendered as JSON into memory (the probe's debug-level exemption is switched off here).
`request_us_without_ours` is the same with the request log, Permissions-Policy and CSP middleware
removed; `overhead_us` their difference, and `overhead_us_by` the cost of each one alone (full stack
minus the stack without it). `json_lines_per_s` is how many log records per second the JSON
formatter renders (correlation id included).
"""

import argparse
import io
import json
import logging
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.test import Client, override_settings  # noqa: E402

from egressui.correlation import correlation_scope  # noqa: E402
from egressui.logging import logging_config  # noqa: E402
from egressui.middleware import RequestLogMiddleware  # noqa: E402

OURS = {
    "egressui.middleware.RequestLogMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
    "csp.middleware.CSPMiddleware",
}


def time_requests(count: int, middleware: list[str]) -> float:
    with override_settings(MIDDLEWARE=middleware):
        client = Client()
        client.get("/healthz")  # warm up: builds the middleware chain and resolves the URL
        started = time.process_time()
        for _ in range(count):
            client.get("/healthz")
        return (time.process_time() - started) / count * 1e6


def json_logger(name: str) -> logging.Logger:
    options = dict(logging_config(log_format="json")["formatters"]["structlog"])
    factory = options.pop("()")
    handler = logging.StreamHandler(io.StringIO())
    handler.setFormatter(factory(**options))
    logger = logging.getLogger(name)
    logger.handlers = [handler]
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger


def time_log_lines(count: int) -> float:
    logger = json_logger("bench.logging")
    with correlation_scope("bench"):
        started = time.process_time()
        for index in range(count):
            logger.info("request", extra={"method": "GET", "path": "/requests/", "status": 200, "n": index})
        return count / (time.process_time() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--lines", type=int, default=50_000)
    args = parser.parse_args()
    json_logger("egressui.request")
    RequestLogMiddleware.QUIET_PATHS = frozenset()
    full = list(settings.MIDDLEWARE)

    def best(middleware: list[str]) -> float:
        return min(time_requests(args.requests, middleware) for _ in range(3))

    full_us = best(full)
    without_us = best([name for name in full if name not in OURS])
    by_middleware = {name.rsplit(".", 1)[-1]: round(full_us - best([m for m in full if m != name]), 1) for name in OURS}
    print(
        json.dumps(
            {
                "bench": "middleware",
                "requests": args.requests,
                "request_us_full": round(full_us, 1),
                "request_us_without_ours": round(without_us, 1),
                "overhead_us": round(full_us - without_us, 1),
                "overhead_us_by": dict(sorted(by_middleware.items())),
                "json_lines_per_s": round(time_log_lines(args.lines)),
            }
        )
    )


if __name__ == "__main__":
    main()
