"""The Kubernetes API target: list by our labels, server-side apply, guarded delete, with retries.

Every call goes over the official `kubernetes` client's connection pool and credentials
(`transport.py`), at most `EGRESSUI_RECONCILE_CONCURRENCY` at once, fewer while the API server
answers 429 (API Priority and Fairness). Transient failures (429, 5xx, 409 from a
concurrent writer, timeouts, refused connections) are retried here with exponential backoff and
jitter; what is left is turned into `ObjectFailed` (one object) or `TargetUnavailable` (the cluster),
each with egressui's safe text of the answer (`error_text.py`).
"""

import functools
import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlencode

import urllib3
import yaml
from django.conf import settings
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from kubernetes.config import ConfigException, load_incluster_config, load_kube_config_from_dict

from policies.choices import ConnectionKind
from policies.constants import FIELD_MANAGER
from policies.manifests.kinds import KindInfo
from policies.reconciler.error_text import safe_error_text, status_body, transport_error_text
from policies.reconciler.errors import KindNotServed, KubeconfigRefused, ObjectFailed, TargetUnavailable
from policies.reconciler.kubeconfig import kubeconfig_file_read, kubeconfig_parse
from policies.reconciler.resources import ObjectKey, is_ours, key_of, kind_info, label_selector, not_ours_message
from policies.reconciler.transport import JSON, Throttle, Transport, encode, object_path
from policies.redaction import url_origin

if TYPE_CHECKING:
    from policies.models import Cluster

logger = logging.getLogger(__name__)
T = TypeVar("T")

APPLY_PATCH = "application/apply-patch+yaml"
APPLY_QUERY = urlencode({"fieldManager": FIELD_MANAGER, "fieldValidation": "Strict", "force": "true"})
APPLY_DRY_RUN_QUERY = f"{APPLY_QUERY}&dryRun=All"
METADATA_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1, application/json"
RETRYABLE_STATUS = frozenset({409, 429, 500, 502, 503, 504})


def _retry_after(exc: ApiException) -> float | None:
    """The answer's Retry-After in seconds (APF and rate limits send whole seconds), capped at 30."""
    value = (exc.headers or {}).get("Retry-After")
    return min(float(value), 30.0) if isinstance(value, str) and value.isdigit() else None


def undeclared_field(exc: ApiException) -> bool:
    """kube-apiserver (v1.36) answers a server-side apply carrying a field its schema does not declare
    with HTTP 500 "field not declared in schema" (kubernetes/kubernetes#139253): the same request will
    fail the same way, so it is a permanent failure of that object, not a transient 5xx."""
    if exc.status != 500:
        return False
    message = status_body(exc).get("message")
    return isinstance(message, str) and "field not declared in schema" in message


def is_transient(exc: ApiException) -> bool:
    return exc.status in RETRYABLE_STATUS and not undeclared_field(exc)


def api_client_for(cluster: "Cluster") -> client.ApiClient:
    """A client configured from the cluster's connection settings; secrets stay in memory. A
    kubeconfig, stored or in a file, is checked again here (no programs, no file references)."""
    configuration = client.Configuration()
    kind = cluster.connection_kind
    doing = f"loading the {kind} connection settings of {cluster.name}"
    try:
        if kind == ConnectionKind.KUBECONFIG:
            source = "kubeconfig" if cluster.kubeconfig else "kubeconfig file"
            text = cluster.kubeconfig or kubeconfig_file_read(cluster.kubeconfig_path)
            config = kubeconfig_parse(text, context=cluster.kube_context, source=source)
            load_kube_config_from_dict(
                config, context=cluster.kube_context or None, client_configuration=configuration, persist_config=False
            )
        elif kind == ConnectionKind.IN_CLUSTER:
            load_incluster_config(client_configuration=configuration)
        elif kind == ConnectionKind.TOKEN:
            configuration.host = cluster.api_url.rstrip("/")
            configuration.api_key = {"authorization": f"Bearer {cluster.token}"}
            if cluster.ca_cert:
                configuration.ca_cert_data = cluster.ca_cert
        else:
            raise TargetUnavailable(f"Cluster {cluster.name} is a {kind} target, not a Kubernetes API.")
    except KubeconfigRefused as exc:
        raise TargetUnavailable(f"Cannot use the kubeconfig of {cluster.name}: {exc}") from None
    except OSError as exc:
        problem = exc.strerror or type(exc).__name__
        raise TargetUnavailable(f"Cannot read the kubeconfig file of {cluster.name}: {problem}.") from None
    except (ConfigException, yaml.YAMLError, TypeError, ValueError) as exc:
        raise TargetUnavailable(safe_error_text(exc, doing=doing)) from None
    # Retries are ours (with backoff, jitter and a budget), not urllib3's silent ones.
    configuration.retries = False
    configuration.connection_pool_maxsize = max(4, settings.EGRESSUI_RECONCILE_CONCURRENCY)  # keep-alive, one each
    return client.ApiClient(configuration)


class KubernetesTarget:
    """One cluster's API server, as the reconcile loop needs it. Writes and lists go through `Transport`
    (lean HTTP over the official client's pool); `Throttle` bounds the calls in flight."""

    def __init__(self, cluster: "Cluster", *, api_client: client.ApiClient | None = None, sleep: Callable = time.sleep):
        self.cluster_name = cluster.name
        self.api_client = api_client or api_client_for(cluster)
        self.description = url_origin(self.api_client.configuration.host) or "the API server"
        self.concurrency = settings.EGRESSUI_RECONCILE_CONCURRENCY
        self.retries = settings.EGRESSUI_KUBE_RETRIES
        self.backoff = settings.EGRESSUI_KUBE_BACKOFF_MS / 1000
        timeout: tuple[float, float] = (min(10, settings.EGRESSUI_KUBE_TIMEOUT), settings.EGRESSUI_KUBE_TIMEOUT)
        self.transport = Transport(self.api_client, timeout=timeout)
        self.throttle = Throttle(self.concurrency)
        self._timeout = timeout
        self.calls: Counter = Counter()
        self._calls_lock = threading.Lock()
        self._sleep = sleep
        self._selector = label_selector(self.cluster_name)

    @property
    def timeout(self) -> tuple[float, float]:
        return self._timeout

    @timeout.setter
    def timeout(self, value: tuple[float, float]) -> None:
        self._timeout = value
        self.transport.set_timeout(*value)

    def close(self) -> None:
        self.api_client.close()

    def commit(self, message: str) -> str:
        """Writes to an API server take effect as they are made: nothing to commit."""
        return ""

    def dry_run_message(self, key: ObjectKey, desired: dict | None) -> str:
        """The server's dry-run write (dryRun=All) already reported the change."""
        return ""

    # --- the calls ----------------------------------------------------------------------------------
    def list_managed(self, info: KindInfo, *, metadata_only: bool = False) -> dict[ObjectKey, dict]:
        """Our objects of one kind in every namespace: one list call, filtered by our labels. With
        `metadata_only`, the API server sends metadata without spec (enough to compare content hashes)."""
        path = object_path(info.group, info.version, info.plural)
        accept = METADATA_LIST if metadata_only else JSON
        query = {"labelSelector": self._selector}
        try:
            body = self._call("list", lambda: self.transport.json("GET", path, query=query, accept=accept))
        except ApiException as exc:
            if exc.status == 404:
                raise KindNotServed(f"{info.kind} ({info.api_version}) is not served", status=404) from None
            raise self._target_error(exc, f"listing {info.plural}") from None
        items = {}
        for item in body.get("items") or []:
            item["apiVersion"], item["kind"] = info.api_version, info.kind  # not PartialObjectMetadata
            if is_ours(item, self.cluster_name):  # the selector did this already; never trust blindly
                items[key_of(item)] = item
        return items

    def unmanaged_keys(self, info: KindInfo) -> set[ObjectKey]:
        """Objects of a kind that exist without our labels for this cluster, from one metadata-only
        list of the kind. Used instead of a GET per create when a run creates many objects."""
        path = object_path(info.group, info.version, info.plural)
        try:
            body = self._call("list", lambda: self.transport.json("GET", path, accept=METADATA_LIST))
        except ApiException as exc:
            raise self._target_error(exc, f"listing {info.plural}") from None
        keys = set()
        for item in body.get("items") or []:
            if not is_ours(item, self.cluster_name):
                meta = item.get("metadata") or {}
                keys.add(ObjectKey(info.key, meta.get("namespace") or "", meta.get("name", "")))
        return keys

    def apply(self, obj: dict, *, dry_run: bool = False, create: bool = False) -> None:
        """Server-side apply as field manager `egressui`, strict field validation, forcing only the
        fields in `obj` (ours). For a `create`, refuse to adopt an existing object we do not manage.
        The object is sent as JSON (YAML's subset), encoded once; the answer is not parsed."""
        key = key_of(obj)
        info = kind_info(key.kind)
        if create:
            existing = self.get(key)
            if existing is not None and not is_ours(existing, self.cluster_name):
                raise ObjectFailed(not_ours_message(key, self.cluster_name))
        path = object_path(info.group, info.version, info.plural, key.namespace, key.name)
        body = encode(obj)
        query = APPLY_DRY_RUN_QUERY if dry_run else APPLY_QUERY
        try:
            self._call(
                "apply",
                lambda: self.transport.request("PATCH", path, query=query, body=body, content_type=APPLY_PATCH),
            )
        except ApiException as exc:
            raise self._object_error(exc, key, doing=f"applying {key}", sent=obj) from None

    def get(self, key: ObjectKey) -> dict | None:
        info = kind_info(key.kind)
        path = object_path(info.group, info.version, info.plural, key.namespace, key.name)
        try:
            return self._call("get", lambda: self.transport.json("GET", path))
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise self._object_error(exc, key, doing=f"reading {key}") from None

    def delete(self, key: ObjectKey, live: dict, *, dry_run: bool = False) -> bool:
        """Delete an object we listed, only if it is still the version we saw (precondition); if it
        changed meanwhile, look again and delete only if it still carries our labels. False: it was
        already gone or is no longer ours, so nothing was deleted."""
        info = kind_info(key.kind)
        path = object_path(info.group, info.version, info.plural, key.namespace, key.name)
        query = {"dryRun": "All"} if dry_run else None
        for _ in range(3):
            version = (live.get("metadata") or {}).get("resourceVersion")
            options: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"}
            if version:
                options["preconditions"] = {"resourceVersion": version}
            body = encode(options)
            try:
                self._call(
                    "delete",
                    functools.partial(self.transport.request, "DELETE", path, query=query, body=body),
                    retry_conflicts=False,
                )
                return True
            except ApiException as exc:
                if exc.status == 404:
                    return False
                if exc.status != 409:
                    raise self._object_error(exc, key, doing=f"deleting {key}") from None
            current = self.get(key)
            if current is None or not is_ours(current, self.cluster_name):
                return False
            live = current
        raise ObjectFailed(f"{key} kept changing while egressui tried to delete it", transient=True, status=409)

    def service_accounts(self) -> dict[str, set[str]]:
        """Service accounts per namespace, for workload identity discovery (one list call)."""
        path = object_path("", "v1", "serviceaccounts")
        try:
            body = self._call("list", lambda: self.transport.json("GET", path))
        except ApiException as exc:
            raise self._target_error(exc, "listing service accounts") from None
        accounts: dict[str, set[str]] = {}
        for item in body.get("items") or []:
            meta = item.get("metadata") or {}
            accounts.setdefault(meta.get("namespace", ""), set()).add(meta.get("name", ""))
        return accounts

    # --- retries and error mapping --------------------------------------------------------------------
    def _call(self, verb: str, call: Callable[[], T], *, retry_conflicts: bool = True) -> T:
        attempt = 0
        while True:
            with self._calls_lock:
                self.calls[verb] += 1
            try:
                with self.throttle.slot():
                    try:
                        result = call()
                    except ApiException as exc:
                        if exc.status == 429:  # fewer in flight, before this slot is handed on
                            self.throttle.throttled(_retry_after(exc))
                        raise
                self.throttle.succeeded()
                return result
            except ApiException as exc:
                retryable = is_transient(exc) and (retry_conflicts or exc.status != 409)
                if not retryable or attempt >= self.retries:
                    raise
                delay = self._delay(attempt, exc)
                logger.info("%s: HTTP %s from %s, retry in %.2fs", verb, exc.status, self.description, delay)
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                if attempt >= self.retries:
                    raise TargetUnavailable(
                        f"Cannot reach the API server at {self.description}: {transport_error_text(exc)}",
                        transient=True,
                    ) from None
                delay = self._delay(attempt, None)
                logger.info("%s: %s from %s, retry in %.2fs", verb, transport_error_text(exc), self.description, delay)
            attempt += 1
            self._sleep(delay)

    def _delay(self, attempt: int, exc: ApiException | None) -> float:
        """Exponential backoff with equal jitter, capped; the server's Retry-After wins when given."""
        retry_after = _retry_after(exc) if exc is not None else None
        if retry_after is not None:
            return retry_after
        ceiling = min(self.backoff * 2**attempt, 30 * self.backoff)
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    def _object_error(self, exc: ApiException, key: ObjectKey, *, doing: str, sent: dict | None = None) -> Exception:
        message = safe_error_text(exc, doing=doing, sent=sent)
        if exc.status == 0:  # TLS failures come back as status 0
            return TargetUnavailable(f"Cannot talk to {self.description} (connection or TLS failure).", status=0)
        if exc.status == 401:
            return TargetUnavailable(f"The API server rejected egressui's credentials: {message}", status=401)
        if exc.status == 404:
            details = status_body(exc).get("details") or {}
            if isinstance(details, dict) and details.get("kind") == "namespaces":
                return ObjectFailed(f"Namespace {key.namespace} does not exist in the cluster.", status=404)
            info = kind_info(key.kind)
            return ObjectFailed(f"{info.kind} ({info.api_version}) is not served: {message}", status=404)
        if undeclared_field(exc):
            message = (
                f"{message}: the API server's schema for {kind_info(key.kind).api_version} does not declare a "
                "field egressui sent (check the installed CRD version against docs/reconciler.md)"
            )
        return ObjectFailed(message, status=exc.status, transient=is_transient(exc))

    def _target_error(self, exc: ApiException, doing: str) -> TargetUnavailable:
        message = safe_error_text(exc, doing=doing)
        if exc.status == 401:
            return TargetUnavailable(f"The API server rejected egressui's credentials: {message}", status=401)
        if exc.status == 0:  # TLS failures come back as status 0
            return TargetUnavailable(f"Cannot talk to {self.description} (connection or TLS failure).", status=0)
        return TargetUnavailable(message, status=exc.status, transient=is_transient(exc))
