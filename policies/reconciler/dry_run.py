"""The API server's verdict on a preview's objects: a server-side dry run before anyone approves.

The objects a request would add or change are sent to the cluster's API server as server-side applies
with `dryRun=All` and `fieldValidation=Strict` (nothing is stored; the CRD schemas, CEL rules and
admission webhooks all run). The answer is shown next to the diff: accepted, rejected (with egressui's
safe text of the answer, never its body) or "could not be checked". The whole check is bounded in time
(`EGRESSUI_PREVIEW_DRY_RUN_SECONDS`), makes no retries, and is cached per cluster and content hash, so
opening the same preview again costs nothing. A GitOps directory has no API server: it is skipped, and
the preview says so.
"""

import hashlib
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.cache import cache

from policies.choices import ConnectionKind
from policies.reconciler.cluster import KubernetesTarget
from policies.reconciler.errors import ObjectFailed, TargetUnavailable
from policies.reconciler.resources import content_hash_of, key_of

if TYPE_CHECKING:
    from policies.models import Cluster

ACCEPTED, REJECTED, UNCHECKED, SKIPPED = "accepted", "rejected", "unchecked", "skipped"
_CACHE_PREFIX = "egressui:preview-dry-run:v1"
# An unreachable server is asked again soon, not on every keystroke of a form preview.
_UNCHECKED_CACHE_SECONDS = 30


@dataclass(frozen=True, slots=True)
class ObjectVerdict:
    kind: str
    namespace: str
    name: str
    accepted: bool
    message: str = ""


@dataclass(slots=True)
class ServerCheck:
    """One cluster's verdict. `objects` holds a verdict per object checked."""

    state: str  # accepted / rejected / unchecked / skipped
    message: str
    objects: list[ObjectVerdict] = field(default_factory=list)

    @property
    def rejected(self) -> list[ObjectVerdict]:
        return [verdict for verdict in self.objects if not verdict.accepted]

    def verdict_for(self, kind: str, namespace: str, name: str) -> ObjectVerdict | None:
        return next((v for v in self.objects if (v.kind, v.namespace, v.name) == (kind, namespace, name)), None)


def server_dry_run(cluster: "Cluster", objects: list[dict]) -> ServerCheck:
    """The verdict of `cluster`'s API server on `objects` (whole rendered objects, unmasked)."""
    if cluster.connection_kind == ConnectionKind.DIRECTORY:
        return ServerCheck(SKIPPED, "Not checked: this cluster is a GitOps directory, with no API server to ask.")
    key = _cache_key(cluster, objects)
    cached = cache.get(key)
    if cached is not None:
        return cached
    check = _check(cluster, objects)
    cache.set(
        key, check, settings.EGRESSUI_PREVIEW_DRY_RUN_CACHE if check.state != UNCHECKED else _UNCHECKED_CACHE_SECONDS
    )
    return check


def _cache_key(cluster: "Cluster", objects: list[dict]) -> str:
    """Per cluster, connection and exact content: any change to an object or the connection asks again."""
    digest = hashlib.sha256()
    for part in (cluster.connection_kind, cluster.api_url, cluster.kube_context, str(cluster.updated_at or "")):
        digest.update(f"{part}\n".encode())
    for obj in sorted(objects, key=key_of):
        digest.update(f"{key_of(obj)}={content_hash_of(obj)}\n".encode())
    return f"{_CACHE_PREFIX}:{cluster.pk}:{digest.hexdigest()}"


def _check(cluster: "Cluster", objects: list[dict]) -> ServerCheck:
    budget = settings.EGRESSUI_PREVIEW_DRY_RUN_SECONDS
    deadline = time.monotonic() + budget
    try:
        target = KubernetesTarget(cluster)
    except TargetUnavailable as exc:
        return ServerCheck(UNCHECKED, f"Could not be checked: {exc.message}")
    target.retries = 0  # a preview waits for no backoff: "could not be checked" is an answer
    verdicts: list[ObjectVerdict] = []
    try:
        for obj in objects:
            remaining = deadline - time.monotonic()
            if remaining < 0.1:
                return ServerCheck(
                    UNCHECKED,
                    f"Could not be checked: the API server did not answer within {budget:g} s "
                    f"({len(verdicts)} of {len(objects)} objects checked).",
                    verdicts,
                )
            target.timeout = (min(remaining, 3.0), remaining)
            key = key_of(obj)
            try:
                target.apply(obj, dry_run=True)
            except ObjectFailed as exc:
                if exc.transient:
                    return ServerCheck(UNCHECKED, f"Could not be checked: {exc.message}", verdicts)
                verdicts.append(ObjectVerdict(key.kind, key.namespace, key.name, False, exc.message))
            else:
                verdicts.append(ObjectVerdict(key.kind, key.namespace, key.name, True))
    except TargetUnavailable as exc:
        return ServerCheck(UNCHECKED, f"Could not be checked: {exc.message}", verdicts)
    finally:
        target.close()
    rejected = sum(1 for verdict in verdicts if not verdict.accepted)
    if rejected:
        return ServerCheck(
            REJECTED,
            f"The cluster would reject {rejected} of {len(verdicts)} object(s) (server-side dry run).",
            verdicts,
        )
    return ServerCheck(
        ACCEPTED,
        f"The API server accepts all {len(verdicts)} object(s) (server-side dry run, strict fields).",
        verdicts,
    )
