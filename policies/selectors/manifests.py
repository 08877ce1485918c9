"""Reads that feed the manifest renderer, and previews built on it.

- `desired_objects_for_cluster(cluster) -> list[dict]`: what the cluster should hold now (the
  reconciler's desired state; the cluster's manifests page and `render_manifests`).
- `cluster_render(cluster, *, now=None) -> RenderResult`: the same objects plus the grants that
  could not be rendered, with reasons.
- `request_preview(request, *, viewer) -> list[ClusterPreview]`: for each cluster the request's
  identities are in, the objects that would be added, changed (before/after and a unified YAML diff)
  and removed if the request were approved now, and the request's grants that could not be rendered.
  `request_input_preview(data, *, viewer)` does the same for an unsaved `RequestInput` (the form).
- `namespace_enforcement_preview(namespace, enforcement, *, viewer) -> ClusterPreview`: the objects a
  switch of one namespace's state would add, change and remove.

Every preview masks other teams' principals, namespaces and grant ids in shared objects unless the
viewer may see them (`permissions.can_see_full_preview`; `policies.manifests.mask`).

The preview renders the cluster twice (now, and with the request's would-be grants replacing any
active grant under the same key, `policies.grant_key`, as approval does) and diffs by content hash.
The would-be grants appear in annotations as `request-<id>` (`new` for an unsaved request).
"""

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from django.utils import timezone

from policies.actors import Viewer
from policies.exceptions import ValidationFailed
from policies.grant_key import grant_copies, grant_key
from policies.manifests import (
    ClusterSettings,
    GrantSpec,
    NamespaceSpec,
    RenderInput,
    RenderResult,
    Unrenderable,
    render_cluster,
)
from policies.manifests.diff import ObjectChange, diff_objects
from policies.manifests.mask import MaskScope, mask_objects
from policies.manifests.render import MODE_BUILDERS
from policies.manifests.serialize import object_key
from policies.models import Cluster, EgressRequest, Namespace, WorkloadIdentity
from policies.permissions import can_see_full_preview, member_team_ids
from policies.reconciler.dry_run import ServerCheck, server_dry_run
from policies.selectors.grants import active_grants_for_cluster
from policies.validators import validate_destination_input

if TYPE_CHECKING:
    from policies.services.request_inputs import RequestInput

_GRANT_FIELDS = (
    "id",
    "identity__namespace__name",
    "identity__service_account",
    "host",
    "port",
    "protocol",
    "expanded_hosts",
    "tcp_direct",
    "status",
    "valid_from",
    "expires_at",
)


def _pairs(labels: Mapping[str, object] | None) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((str(key), str(value)) for key, value in (labels or {}).items()))


def cluster_settings(cluster: Cluster) -> ClusterSettings:
    if cluster.enforcement_mode not in MODE_BUILDERS:
        raise ValidationFailed.on(
            "enforcement_mode",
            f"Cluster {cluster.name}: enforcement mode {cluster.enforcement_mode!r} is not rendered.",
        )
    return ClusterSettings(
        name=cluster.name,
        egress_namespace=cluster.egress_namespace,
        gateway_selector=_pairs(cluster.gateway_selector),
        gateway_service_host=cluster.gateway_service_host,
        gateway_https_port=cluster.gateway_https_port,
        gateway_http_port=cluster.gateway_http_port,
        gateway_pod_https_port=cluster.gateway_pod_https_port,
        gateway_pod_http_port=cluster.gateway_pod_http_port,
        istiod_namespace=cluster.istiod_namespace,
        istiod_selector=_pairs(cluster.istiod_selector),
        dns_namespace=cluster.dns_namespace,
        dns_selector=_pairs(cluster.dns_selector),
        trust_domain=cluster.trust_domain,
        manage_sidecars=cluster.manage_sidecars,
        access_log_provider=cluster.access_log_provider.strip(),
        wildcard_serving_hosts=_pairs(cluster.wildcard_serving_hosts),
        in_cluster_egress=cluster.in_cluster_egress,
        in_cluster_cidrs=tuple(cluster.in_cluster_cidrs or ()),
        source_access_log_provider=cluster.source_access_log_provider.strip(),
        origination_ca_certificates=cluster.origination_ca_certificates,
        origination_credential_name=cluster.origination_credential_name,
        mode=str(cluster.enforcement_mode),
        cilium_version=cluster.cilium_version,
        waypoint_name=cluster.waypoint_name,
        waypoint_namespace=cluster.waypoint_namespace,
        waypoint_managed_by_platform=cluster.waypoint_managed_by_platform,
        istio_version=cluster.istio_version,
    )


def namespace_specs_for_cluster(cluster: Cluster) -> list[NamespaceSpec]:
    """Every onboarded namespace of the cluster with its enforcement state (one query)."""
    rows = Namespace.objects.filter(cluster_id=cluster.pk).order_by("name").values_list("name", "enforcement")
    return [NamespaceSpec(name, enforcement) for name, enforcement in rows]


def _render(
    rendering: ClusterSettings, grants: Iterable[GrantSpec], *, now: datetime, namespaces: Iterable[NamespaceSpec]
) -> RenderResult:
    return render_cluster(RenderInput(cluster=rendering, grants=tuple(grants), now=now, namespaces=tuple(namespaces)))


def _grant_spec(row: tuple) -> GrantSpec:
    grant_id, namespace, account, host, port, protocol, expanded, tcp_direct, status, valid_from, expires_at = row
    return GrantSpec(
        id=grant_id,
        namespace=namespace,
        service_account=account,
        host=host,
        port=port,
        protocol=protocol,
        expanded_hosts=tuple(expanded or ()),
        tcp_direct=tcp_direct,
        status=status,
        valid_from=valid_from,
        expires_at=expires_at,
    )


def grant_specs_for_cluster(cluster: Cluster, *, now: datetime) -> list[GrantSpec]:
    """The cluster's grants in force at `now`, as plain data (one query, no model instances)."""
    return [_grant_spec(row) for row in active_grants_for_cluster(cluster.pk, now=now).values_list(*_GRANT_FIELDS)]


def cluster_render(cluster: Cluster, *, now: datetime | None = None) -> RenderResult:
    now = now or timezone.now()
    grants = grant_specs_for_cluster(cluster, now=now)
    namespaces = namespace_specs_for_cluster(cluster)
    return _render(cluster_settings(cluster), grants, now=now, namespaces=namespaces)


def desired_objects_for_cluster(cluster: Cluster) -> list[dict]:
    return cluster_render(cluster).objects


# --- previews ----------------------------------------------------------------------------------


@dataclass(slots=True)
class ClusterPreview:
    """One cluster's share of a request preview. Each `ObjectChange` has kind, namespace, name,
    `before` / `after` (None for an addition / a removal), `action` ("add", "change", "remove"),
    `diff` (unified diff of the YAML) and `yaml` (the object as it would be)."""

    cluster_id: int
    cluster_name: str
    added: list[ObjectChange] = field(default_factory=list)
    changed: list[ObjectChange] = field(default_factory=list)
    removed: list[ObjectChange] = field(default_factory=list)
    unchanged: int = 0
    unrenderable: list[Unrenderable] = field(default_factory=list)  # the request's grants only
    annotation_only: list[ObjectChange] = field(default_factory=list)  # only egressui's annotations change
    masked: bool = False  # other teams' share of shared objects is shown as counts
    server_check: ServerCheck | None = None  # the API server's dry-run verdict, when asked for

    @property
    def has_changes(self) -> bool:
        return bool(self.added or self.changed or self.removed)

    @property
    def changes(self) -> list[ObjectChange]:
        return [*self.added, *self.changed, *self.removed]

    @property
    def rejections(self) -> dict[str, str]:
        """`Kind namespace/name` → the API server's reason, for the changes it would refuse."""
        check = self.server_check
        return {f"{v.kind} {v.namespace}/{v.name}": v.message for v in check.rejected} if check else {}


@dataclass(frozen=True, slots=True)
class _Destination:
    """A destination as a would-be grant copies it (`policies.grant_key.GRANT_COPIES`)."""

    host: str
    port: int
    protocol: str
    expanded_hosts: tuple[str, ...] = ()
    tcp_direct: bool = False


def _mask_scope(viewer: Viewer, cluster: Cluster, grants: list[GrantSpec]) -> MaskScope:
    """What `viewer` may not see in this cluster's shared objects: other teams' namespaces, and the
    grants in them."""
    hidden = frozenset(
        Namespace.objects.filter(cluster=cluster)
        .exclude(team_id__in=member_team_ids(viewer))
        .values_list("name", flat=True)
    )
    return MaskScope(hidden, frozenset(g.label for g in grants if g.namespace not in hidden))


def _preview(
    identities: Iterable[WorkloadIdentity],
    destinations: list[_Destination],
    invalid: list[tuple[str, int, str, str]],
    ref: str,
    *,
    viewer: Viewer,
    full: bool,
    server_check: bool = False,
) -> list[ClusterPreview]:
    """identities: WorkloadIdentity rows with namespace and cluster loaded; invalid: (host, port,
    protocol, reason) of destinations that failed validation (shown, never dropped silently). Unless
    `full`, other teams' share of the shared objects is masked for `viewer`. With `server_check`, the
    objects to add or change are dry-run on each cluster's API server (`reconciler.dry_run`)."""
    now = timezone.now()
    by_cluster: dict[int, list] = defaultdict(list)
    clusters: dict[int, Cluster] = {}
    for identity in identities:
        cluster = identity.namespace.cluster
        clusters[cluster.pk] = cluster
        if identity not in by_cluster[cluster.pk]:
            by_cluster[cluster.pk].append(identity)
    previews: list[ClusterPreview] = []
    for cluster_id, cluster in sorted(clusters.items(), key=lambda item: item[1].name):
        rendering = cluster_settings(cluster)
        current = grant_specs_for_cluster(cluster, now=now)
        namespaces = namespace_specs_for_cluster(cluster)
        pending = [
            (identity.namespace.name, identity.service_account, destination)
            for identity in by_cluster[cluster_id]
            for destination in destinations
        ]
        # In one cluster, (namespace, service account) names the identity of the grant key.
        replaced = {grant_key((namespace, account), d) for namespace, account, d in pending}
        kept = [g for g in current if grant_key((g.namespace, g.service_account), g) not in replaced]
        first_id = max((g.id for g in current), default=0) + 1
        added = [
            GrantSpec(id=first_id + index, namespace=namespace, service_account=account, ref=ref, **grant_copies(d))
            for index, (namespace, account, d) in enumerate(pending)
        ]
        before = _render(rendering, current, now=now, namespaces=namespaces)
        after = _render(rendering, kept + added, now=now, namespaces=namespaces)
        if full:
            diff = diff_objects(before.objects, after.objects)
        else:
            scope = _mask_scope(viewer, cluster, [*current, *added])
            diff = diff_objects(mask_objects(before.objects, scope), mask_objects(after.objects, scope))
        check = _server_check(cluster, before.objects, after.objects) if server_check else None
        problems = [item for item in after.unrenderable if item.grant == ref]
        problems += [
            Unrenderable(ref, identity.namespace.name, identity.service_account, host, port, protocol, reason, 0)
            for identity in by_cluster[cluster_id]
            for host, port, protocol, reason in invalid
        ]
        previews.append(
            ClusterPreview(
                cluster_id=cluster_id,
                cluster_name=cluster.name,
                added=diff.added,
                changed=diff.changed,
                removed=diff.removed,
                unchanged=diff.unchanged,
                annotation_only=diff.annotation_only,
                unrenderable=problems,
                masked=not full,
                server_check=check,
            )
        )
    return previews


def _server_check(cluster: Cluster, before: list[dict], after: list[dict]) -> ServerCheck | None:
    """The API server's verdict on the whole (unmasked) objects the change adds or changes; None when
    it adds or changes nothing. Only the verdict reaches the viewer, never the objects sent."""
    full = diff_objects(before, after)
    changed = {(change.kind, change.namespace, change.name) for change in [*full.added, *full.changed]}
    objects = [obj for obj in after if object_key(obj) in changed]
    return server_dry_run(cluster, objects) if objects else None


def request_preview(request: EgressRequest, *, viewer: Viewer, server_check: bool = False) -> list[ClusterPreview]:
    """The request's preview as `viewer` may see it: in full for its approvers and platform admins,
    other teams' share masked for everyone else (`permissions.can_see_full_preview`). With
    `server_check`, each cluster with a Kubernetes connection also gives its dry-run verdict."""
    identities = list(request.identities.select_related("namespace__cluster"))
    destinations = [
        _Destination(d.host, d.port, d.protocol, tuple(d.expanded_hosts or ()), d.tcp_direct)
        for d in request.destinations.all()
    ]
    full = can_see_full_preview(viewer, request)
    ref = f"request-{request.pk}"
    return _preview(identities, destinations, [], ref, viewer=viewer, full=full, server_check=server_check)


def request_input_preview(
    data: "RequestInput", *, viewer: Viewer, request: EgressRequest | None = None, server_check: bool = False
) -> list[ClusterPreview]:
    """Preview for an unsaved `policies.services.requests.RequestInput` (the request form), as
    `viewer` (its author) may see it."""
    destinations, invalid = [], []
    for item in data.destinations:
        try:
            valid = validate_destination_input(item)
        except ValidationFailed as exc:
            port = item.port if isinstance(item.port, int) else 0
            invalid.append((str(item.host), port, str(item.protocol), exc.message))
            continue
        destinations.append(
            _Destination(valid.host, valid.port, valid.protocol, valid.expanded_hosts, bool(item.tcp_direct))
        )
    identities = list(data.identities)
    ref = f"request-{request.pk}" if request is not None else "new"
    full = can_see_full_preview(viewer, request)
    return _preview(identities, destinations, invalid, ref, viewer=viewer, full=full, server_check=server_check)


def namespace_enforcement_preview(namespace: Namespace, enforcement: str, *, viewer: Viewer) -> ClusterPreview:
    """What switching `namespace` to `enforcement` would do to its cluster now: the cluster rendered
    as it is and with only that namespace's state changed, diffed by content hash. Other teams' share
    of shared objects is masked unless `viewer` is a platform admin."""
    cluster = namespace.cluster
    now = timezone.now()
    rendering = cluster_settings(cluster)
    grants = grant_specs_for_cluster(cluster, now=now)
    current = namespace_specs_for_cluster(cluster)
    switched = [NamespaceSpec(spec.name, enforcement) if spec.name == namespace.name else spec for spec in current]
    before = _render(rendering, grants, now=now, namespaces=current)
    after = _render(rendering, grants, now=now, namespaces=switched)
    full = can_see_full_preview(viewer, None)
    if full:
        diff = diff_objects(before.objects, after.objects)
    else:
        scope = _mask_scope(viewer, cluster, grants)
        diff = diff_objects(mask_objects(before.objects, scope), mask_objects(after.objects, scope))
    return ClusterPreview(
        cluster_id=cluster.pk,
        cluster_name=cluster.name,
        added=diff.added,
        changed=diff.changed,
        removed=diff.removed,
        unchanged=diff.unchanged,
        annotation_only=diff.annotation_only,
        masked=not full,
    )
