"""The reconciler's HTTP to the API server: lean calls over the official client's connection pool, and
a concurrency limit that yields to API Priority and Fairness.

`Transport` sends requests through the urllib3 pool the official `kubernetes` client built from the
cluster's connection settings (TLS, client certificates, proxy, keep-alive connections), with the
client's own credentials (its token refresh hook included), but without the generated API layer: a
write body is encoded once with orjson, no per-call parameter validation or model serialisation, and
a write's answer is not parsed unless it is an error. Errors are raised as the client's
`ApiException`, so error mapping (`cluster.py`, `error_text.py`) is the same for every call.

`Throttle` keeps at most `limit` calls in flight. A 429 (the API server's APF queues are full, or a
rate limit) halves the limit and pauses every caller for the server's Retry-After; successes add the
slots back one at a time, up to the configured concurrency.
"""

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote, urlencode

import orjson
import urllib3
from kubernetes import client
from kubernetes.client.exceptions import ApiException

JSON = "application/json"


class Transport:
    def __init__(self, api_client: client.ApiClient, *, timeout: tuple[float, float]):
        self.configuration = api_client.configuration
        self.host = self.configuration.host.rstrip("/")
        manager = api_client.rest_client.pool_manager
        # The host's own connection pool, looked up once (no URL parsing and pool lookup per call);
        # through a proxy, the manager decides per request.
        self.direct = type(manager) is urllib3.PoolManager  # not a (SOCKS) ProxyManager
        self.pool = manager.connection_from_url(self.host) if self.direct else manager
        self.prefix = (urllib3.util.parse_url(self.host).path or "") if self.direct else self.host
        self.headers = {key: value for key, value in api_client.default_headers.items()}
        self.timeout = urllib3.Timeout(connect=timeout[0], read=timeout[1])

    def set_timeout(self, connect: float, read: float) -> None:
        self.timeout = urllib3.Timeout(connect=connect, read=read)

    def request(
        self,
        method: str,
        path: str,
        *,
        query: dict | str | None = None,
        body: bytes | None = None,
        content_type: str = JSON,
        accept: str = JSON,
    ) -> bytes:
        """The answer's body for a 2xx; an `ApiException` (status, headers, body) for anything else.
        `query` may come encoded already (the same for every apply)."""
        headers = dict(self.headers)
        headers["Accept"] = accept
        if body is not None:
            headers["Content-Type"] = content_type
        # Through the client's settings, so a rotating in-cluster token is re-read when it changes.
        for auth in self.configuration.auth_settings().values():
            if auth["in"] == "header" and auth["value"]:
                headers[auth["key"]] = auth["value"]
        if isinstance(query, dict):
            query = urlencode(query)
        url = f"{self.prefix}{path}?{query}" if query else f"{self.prefix}{path}"
        response = self.pool.urlopen(
            method, url, body=body, headers=headers, timeout=self.timeout, retries=False, preload_content=True
        )
        if 200 <= response.status < 300:
            return response.data
        error = ApiException(status=response.status, reason=response.reason)
        error.body = response.data.decode("utf-8", "replace")
        error.headers = response.headers
        raise error

    def json(self, method: str, path: str, **kwargs: Any) -> dict:
        return orjson.loads(self.request(method, path, **kwargs) or b"{}")


def object_path(group: str, version: str, plural: str, namespace: str | None = None, name: str | None = None) -> str:
    """`/apis/<group>/<version>[/namespaces/<ns>]/<plural>[/<name>]` (`/api/v1/…` for the core group)."""
    path = f"/apis/{group}/{version}" if group else f"/api/{version}"
    if namespace:
        path += f"/namespaces/{quote(namespace, safe='')}"
    path += f"/{plural}"
    return f"{path}/{quote(name, safe='')}" if name else path


def encode(obj: dict) -> bytes:
    return orjson.dumps(obj)


class Throttle:
    """At most `limit` calls in flight; see the module docstring."""

    def __init__(self, maximum: int, *, clock: Callable[[], float] = time.monotonic):
        self.maximum = max(1, maximum)
        self.limit = self.maximum
        self.in_flight = 0
        self.throttled_count = 0
        self._clock = clock
        self._paused_until = 0.0
        self._successes = 0
        self._condition = threading.Condition()

    @contextmanager
    def slot(self) -> Iterator[None]:
        with self._condition:
            while True:
                pause = self._paused_until - self._clock()
                if pause > 0:
                    self._condition.wait(pause)
                elif self.in_flight < self.limit:
                    break
                else:
                    self._condition.wait()
            self.in_flight += 1
        try:
            yield
        finally:
            with self._condition:
                self.in_flight -= 1
                self._condition.notify()

    def throttled(self, retry_after: float | None) -> None:
        """A 429: fewer in flight from now on, and nobody sends before Retry-After has passed."""
        with self._condition:
            self.throttled_count += 1
            self.limit = max(1, self.limit // 2)
            self._successes = 0
            if retry_after:
                self._paused_until = max(self._paused_until, self._clock() + retry_after)

    def succeeded(self) -> None:
        if self.limit >= self.maximum:  # the usual case: no lock taken
            return
        with self._condition:
            self._successes += 1
            if self._successes >= self.limit:
                self.limit, self._successes = min(self.maximum, self.limit + 1), 0
                self._condition.notify()
