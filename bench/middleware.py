"""Cost of the production hardening per request and per log line; prints one JSON line.

    .venv/bin/python bench/middleware.py [--requests N] [--lines N]

`request_us_full` is the mean time of GET /healthz through the whole middleware stack (Django's test
handler, in process, no network); `request_us_without_ours` the same with the request log, the
Permissions-Policy and the CSP middleware removed; `overhead_us` their difference. `json_lines_per_s`
is how many log records per second the JSON formatter renders (correlation id included).
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

OURS = {
    "egressui.middleware.RequestLogMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
    "csp.middleware.CSPMiddleware",
}


def time_requests(count: int, middleware: list[str]) -> float:
    with override_settings(MIDDLEWARE=middleware):
        client = Client()
        client.get("/healthz")  # warm up: builds the middleware chain and resolves the URL
        started = time.perf_counter()
        for _ in range(count):
            client.get("/healthz")
        return (time.perf_counter() - started) / count * 1e6


def time_log_lines(count: int) -> float:
    options = dict(logging_config(log_format="json")["formatters"]["structlog"])
    factory = options.pop("()")
    handler = logging.StreamHandler(io.StringIO())
    handler.setFormatter(factory(**options))
    logger = logging.getLogger("bench.logging")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    with correlation_scope("bench"):
        started = time.perf_counter()
        for index in range(count):
            logger.info("request", extra={"method": "GET", "path": "/requests/", "status": 200, "n": index})
        return count / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--lines", type=int, default=50_000)
    args = parser.parse_args()
    logging.getLogger("egressui.request").setLevel(logging.INFO)
    logging.getLogger("egressui.request").handlers = [logging.NullHandler()]
    logging.getLogger("egressui.request").propagate = False
    full = list(settings.MIDDLEWARE)
    without = [name for name in full if name not in OURS]
    # Alternate and keep the best of three, so a busy neighbour on the machine skews less.
    full_us = min(time_requests(args.requests, full) for _ in range(3))
    without_us = min(time_requests(args.requests, without) for _ in range(3))
    print(
        json.dumps(
            {
                "bench": "middleware",
                "requests": args.requests,
                "request_us_full": round(full_us, 1),
                "request_us_without_ours": round(without_us, 1),
                "overhead_us": round(full_us - without_us, 1),
                "json_lines_per_s": round(time_log_lines(args.lines)),
            }
        )
    )


if __name__ == "__main__":
    main()
