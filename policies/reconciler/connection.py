"""The connection test: can egressui reconcile this cluster, and if not, exactly why not.

For a Kubernetes API: the server version; for every kind of the cluster's enforcement mode, whether
its API group is served, in which versions, and whether the version egressui emits serves the
resource; and for every (group, resource, verb) reconciling that mode uses
(`api_permissions_for_mode`: list, get, create, patch and delete of each of its kinds, …), a
SelfSubjectAccessReview, so a missing permission is named one by one. An identity that may not even
create access reviews is told exactly that. For a directory target: the directory and its git work
tree.
The UI renders `ConnectionReport.as_dict()`; `manage.py test_cluster` prints `as_text()`.
"""

import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import urllib3
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from policies.choices import ConnectionKind
from policies.manifests.kinds import KindInfo, kinds_for_mode
from policies.reconciler.cluster import api_client_for
from policies.reconciler.directory import DirectoryTarget
from policies.reconciler.error_text import safe_error_text, transport_error_text
from policies.reconciler.errors import TargetUnavailable
from policies.reconciler.resources import ApiPermission, api_permissions_for_mode
from policies.redaction import url_origin

if TYPE_CHECKING:
    from policies.models import Cluster

_TIMEOUT = (5, 15)
_VERSION = re.compile(r"^v?[0-9]+(\.[0-9]+){0,2}[0-9A-Za-z.+-]{0,40}$")
_API_VERSION = re.compile(r"^v[0-9]+((alpha|beta)[0-9]+)?$")


def _body(response: Any) -> bytes:
    """The raw body of a call made with `_preload_content=False` (a urllib3 response, whatever the
    client's annotations say)."""
    return response.data


def _plain(value: object, pattern: re.Pattern) -> str:
    """A value from an API answer, kept only if it has the expected shape."""
    return value if isinstance(value, str) and pattern.match(value) else ""


@dataclass
class KindCheck:
    kind: str
    api_version: str
    served: bool
    group_versions: list[str] = field(default_factory=list)  # versions of the API group the server offers
    detail: str = ""


@dataclass
class PermissionCheck:
    group: str
    resource: str
    verb: str
    allowed: bool
    reason: str = ""

    @property
    def name(self) -> str:
        return str(ApiPermission(self.group, self.resource, self.verb))


@dataclass
class ConnectionReport:
    cluster: str
    target: str
    target_kind: str  # "kubernetes" or "directory"
    reachable: bool = False
    server_version: str = ""
    error: str = ""
    kinds: list[KindCheck] = field(default_factory=list)
    permissions: list[PermissionCheck] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def missing_kinds(self) -> list[KindCheck]:
        return [check for check in self.kinds if not check.served]

    @property
    def missing_permissions(self) -> list[PermissionCheck]:
        return [check for check in self.permissions if not check.allowed]

    @property
    def ok(self) -> bool:
        return self.reachable and not self.error and not self.missing_kinds and not self.missing_permissions

    def as_dict(self) -> dict:
        data = asdict(self)
        data["ok"] = self.ok
        data["missing_permissions"] = [check.name for check in self.missing_permissions]
        return data

    def as_text(self) -> str:
        lines = [f"Cluster {self.cluster} ({self.target_kind}: {self.target})"]
        if self.server_version:
            lines.append(f"  server version: {self.server_version}")
        if self.error:
            lines.append(f"  ERROR: {self.error}")
        for note in self.notes:
            lines.append(f"  {note}")
        if self.kinds:
            lines.append("  kinds:")
            for check in self.kinds:
                mark = "ok     " if check.served else "MISSING"
                versions = ", ".join(check.group_versions) or "none"
                lines.append(f"    {mark} {check.kind} ({check.api_version}); group serves: {versions}{_tail(check)}")
        if self.permissions:
            lines.append("  permissions:")
            for permission in self.permissions:
                mark = "ok     " if permission.allowed else "MISSING"
                reason = " — " + permission.reason if permission.reason else ""
                lines.append(f"    {mark} {permission.name}{reason}")
        verdict = "ready to reconcile" if self.ok else "NOT ready to reconcile"
        missing = len(self.missing_kinds) + len(self.missing_permissions)
        lines.append(f"  result: {verdict}" + (f" ({missing} problem(s) above)" if missing else ""))
        return "\n".join(lines)


def _tail(check: KindCheck) -> str:
    return f" — {check.detail}" if check.detail else ""


def connection_test(cluster: "Cluster") -> ConnectionReport:
    if cluster.connection_kind == ConnectionKind.DIRECTORY:
        return _directory_test(cluster)
    report = ConnectionReport(
        cluster=cluster.name, target=cluster.api_url or cluster.connection_kind, target_kind="kubernetes"
    )
    try:
        api = api_client_for(cluster)
    except TargetUnavailable as exc:
        report.error = exc.message
        return report
    report.target = url_origin(api.configuration.host) or "the API server"
    try:
        version = client.VersionApi(api).get_code(_request_timeout=_TIMEOUT)
        report.reachable, report.server_version = True, _plain(version.git_version, _VERSION)
        report.kinds = _kind_checks(api, kinds_for_mode(cluster.enforcement_mode))
        report.permissions = _permission_checks(api, report, api_permissions_for_mode(cluster.enforcement_mode))
    except ApiException as exc:
        if exc.status == 401:
            report.error = f"The API server rejected the credentials: {safe_error_text(exc, doing='connecting')}"
        else:
            report.error = safe_error_text(exc, doing="testing the connection")
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        report.error = f"Cannot reach the API server at {report.target}: {transport_error_text(exc)}"
    finally:
        api.close()
    return report


def _kind_checks(api: client.ApiClient, kinds: tuple[KindInfo, ...]) -> list[KindCheck]:
    # Only versions that look like Kubernetes versions are kept: the report shows them.
    groups = {
        group.name: [version.version for version in group.versions if _plain(version.version, _API_VERSION)]
        for group in client.ApisApi(api).get_api_versions(_request_timeout=_TIMEOUT).groups
    }
    resources: dict[str, set[str]] = {}
    for group_version in sorted({info.api_version for info in kinds}):
        group, version = group_version.split("/")
        if version not in groups.get(group, []):
            continue
        response = client.CustomObjectsApi(api).get_api_resources(
            group, version, _request_timeout=_TIMEOUT, _preload_content=False
        )
        resources[group_version] = {item["name"] for item in json.loads(_body(response)).get("resources") or []}
    checks = []
    for info in kinds:
        served_versions = groups.get(info.group, [])
        served = info.plural in resources.get(info.api_version, set())
        if not served_versions:
            detail = f"API group {info.group} is not served: install its CRDs"
        elif info.version not in served_versions:
            detail = f"version {info.version} is not served: upgrade the CRDs"
        elif not served:
            detail = f"{info.plural} is not among the resources of {info.api_version}"
        else:
            detail = ""
        checks.append(KindCheck(info.kind, info.api_version, served, served_versions, detail))
    return checks


REVIEW = ApiPermission("authorization.k8s.io", "selfsubjectaccessreviews", "create")


def _permission_checks(
    api: client.ApiClient, report: ConnectionReport, permissions: tuple[ApiPermission, ...]
) -> list[PermissionCheck]:
    authorization = client.AuthorizationV1Api(api)
    checks = []
    # The review of the review permission first: without it nothing else can be asked.
    for permission in sorted(permissions, key=lambda permission: permission != REVIEW):
        review = client.V1SelfSubjectAccessReview(
            spec=client.V1SelfSubjectAccessReviewSpec(
                resource_attributes=client.V1ResourceAttributes(
                    group=permission.group, resource=permission.resource, verb=permission.verb
                )
            )
        )
        try:
            response = authorization.create_self_subject_access_review(
                review, _request_timeout=_TIMEOUT, _preload_content=False
            )
            status = json.loads(_body(response)).get("status") or {}
            # The review's reason is the authoriser's free text (role and binding names): not quoted.
            allowed = status.get("allowed") is True
            reason = "" if allowed else "denied" if status.get("denied") is True else "not allowed"
        except ApiException as exc:
            if exc.status == 403:  # the identity may not ask: that permission is the one missing
                report.notes.append(
                    "the other permissions were not checked: this identity may not create access reviews"
                )
                reason = "the API server refused the access review (HTTP 403)"
                return [PermissionCheck(REVIEW.group, REVIEW.resource, REVIEW.verb, False, reason)]
            allowed, reason = False, f"the access review failed: {safe_error_text(exc, doing='reviewing access')}"
        checks.append(PermissionCheck(permission.group, permission.resource, permission.verb, allowed, reason))
    order = {permission: index for index, permission in enumerate(permissions)}
    return sorted(checks, key=lambda check: order[ApiPermission(check.group, check.resource, check.verb)])


def _directory_test(cluster: "Cluster") -> ConnectionReport:
    root = Path(cluster.directory_path).expanduser()
    report = ConnectionReport(cluster=cluster.name, target=str(root), target_kind="directory")
    existing = next(path for path in (root, *root.parents) if path.exists())
    if not existing.is_dir():
        report.error = f"{existing} is not a directory."
        return report
    if not os.access(existing, os.W_OK | os.X_OK):
        report.error = f"{existing} is not writable by this process."
        return report
    report.reachable = True
    if existing != root:
        report.notes.append(f"{root} does not exist yet: the first reconcile creates it")
    target = DirectoryTarget(cluster)
    managed = sum(len(target.list_managed(info)) for info in kinds_for_mode(cluster.enforcement_mode))
    report.notes.append(f"{managed} file(s) managed by egressui for this cluster")
    if target.in_git_work_tree():
        report.notes.append("git work tree: each reconcile that changes files ends with a commit")
    else:
        report.notes.append("not a git work tree: files are written, nothing is committed")
    return report
